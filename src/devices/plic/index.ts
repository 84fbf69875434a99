export { Plic, type PlicHart, type PlicState } from './plic.js';
export { PLIC_MAX_HARTS, PLIC_MAX_PRIORITY, PLIC_SOURCES } from './plic.js';
