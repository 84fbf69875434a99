export { VdiImage } from './vdi-image.js';
export { parseVdiHeader, type VdiHeader, VDI_SIGNATURE } from './vdi-header.js';
