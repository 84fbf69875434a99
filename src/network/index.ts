export { isFrameLength, MAX_FRAME_BYTES, MIN_FRAME_BYTES, type NetBackend, type NetBackendStats, type NetSink } from './net-backend.js';
export { encodeStreamFrame, STREAM_LENGTH_BYTES, StreamFrameDecoder } from './stream-framing.js';
export { createNetPair, newNetCounters, type NetCounters } from './net-pair.js';
export { defaultMac, formatMac, parseMac } from './mac-address.js';
export { LearningSwitch, type LearningSwitchOptions, type LearningSwitchStats } from './switch/learning-switch.js';
export { TokenBucket } from './token-bucket.js';
export { RateLimitedBackend, type RateLimit, type RateClock, type RateLimitedStats } from './rate-limited-backend.js';
