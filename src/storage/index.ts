export { type BlockBackend, checkRange } from './block-backend.js';
export type { ImageFile, ImageFileSystem } from './image-file.js';
export { MemoryImageFile } from './memory-image-file.js';
export { type ImageFormatName, probeFormat } from './probe-format.js';
export { DEFAULT_MAX_BACKING_DEPTH, openImage, type OpenImageOptions } from './open-image.js';
export { RawImage } from './raw/index.js';
export { type OpenBacking, type Qcow2Header, Qcow2Image, type Qcow2OpenOptions, parseQcow2Header, QCOW2_MAGIC } from './qcow2/index.js';
export { VdiImage } from './vdi/index.js';
export { VmdkImage, type VmdkInfo } from './vmdk/index.js';
