export { VIRT_MAP, VIRTIO_SLOTS, TIMEBASE_HZ, MIN_RAM_BYTES, MAX_RAM_BYTES, type MemoryRegion } from './memory-map.js';
export { type MmioDevice, low32 } from './mmio-device.js';
export { MmioBus } from './mmio-bus.js';
export { loadElf, type LoadedElf, type LoadedSegment } from './elf-loader.js';
