export { Qcow2Image, type OpenBacking, type Qcow2OpenOptions } from './qcow2-image.js';
export { type Qcow2Header, parseQcow2Header, QCOW2_MAGIC } from './qcow2-header.js';
export { createQcow2, type Qcow2CreateOptions } from './qcow2-create.js';
export { checkQcow2, checkExitStatus, type Qcow2CheckOptions, type Qcow2CheckResult } from './qcow2-check.js';
