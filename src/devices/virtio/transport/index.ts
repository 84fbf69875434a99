export { Interrupt, Reg, Status, VIRTIO_MMIO_MAGIC, VIRTIO_MMIO_VENDOR, VIRTIO_MMIO_VERSION, VirtioMmioTransport, type NeedsResetListener, type VirtioMmioState } from './virtio-mmio.js';
