export { VhdImage, type VhdOpenOptions, MAX_BAT_BYTES } from './vhd-image.js';
export { createVhd, vhdCreateGeometry, type VhdCreateOptions, DEFAULT_BLOCK_SIZE } from './vhd-create.js';
export { type VhdFooter, type DynamicHeader, parseFooter, parseDynamicHeader, footerSectors, chsGeometry, vhdChecksum } from './vhd-footer.js';
