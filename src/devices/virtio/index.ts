export { VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1, VirtioDeviceId, type VirtioActivation, type VirtioDevice, type VirtioInterrupt } from './virtio-device.js';
export * from './queue/index.js';
export * from './transport/index.js';
export * from './rng/index.js';
export * from './console/index.js';
export * from './balloon/index.js';
