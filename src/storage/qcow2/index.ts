export { Qcow2Image, type OpenBacking, type Qcow2OpenOptions } from './qcow2-image.js';
export { type Qcow2Header, parseQcow2Header, QCOW2_MAGIC } from './qcow2-header.js';
