export { DescriptorChain, type BufferSegment } from './descriptor-chain.js';
export { MAX_INDIRECT_DESCRIPTORS, MAX_QUEUE_SIZE, SplitVirtqueue, type SplitVirtqueueCursor, type SplitVirtqueueLayout } from './split-virtqueue.js';
export { VirtqueueError } from './virtqueue-error.js';
export { DriverRings } from './driver-rings.js';
