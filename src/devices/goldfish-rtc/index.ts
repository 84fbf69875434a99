export { GoldfishRtc, type GoldfishRtcOptions, type GoldfishRtcState } from './goldfish-rtc.js';
