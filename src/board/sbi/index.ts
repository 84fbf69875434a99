export { SbiServer, DBCN_CHUNK, type SbiHart, type SbiPlatform } from './sbi-server.js';
export { SbiError, SbiExt, SBI_SPEC_VERSION, SBI_IMPL_ID } from './sbi-ids.js';
