export { Clint, type ClintHart, type ClintState } from './clint.js';
export { MtimeClock, type MtimeClockState } from './mtime-clock.js';
