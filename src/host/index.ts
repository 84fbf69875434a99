export { readGuestFile, type GuestFileRole } from './guest-file.js';
export { ConsoleOutput, type ConsoleOutputStream } from './console-output.js';
export { attachConsoleInput, type ConsoleInputStream, type ConsoleInputHandlers, type ConsoleInputClose } from './console-input.js';
export { ConsoleEscape, ESCAPE, ESCAPE_HELP, type EscapeCommand } from './console-escape.js';
