export { type OpenExtentFile, type OpenParent, VmdkImage, type VmdkExtentInfo, type VmdkInfo } from './vmdk-image.js';
export { parseSparseHeader, type SparseHeader, SPARSE_MAGIC } from './vmdk-header.js';
export { parseVmdkDescriptor, type VmdkDescriptor } from './vmdk-descriptor.js';
