/**
 * One level-triggered interrupt wire from a device to an interrupt controller (the PLIC, or a
 * hart's mip bit). The device calls `set` whenever its output level may have changed; repeating
 * the same level is allowed and must be cheap for the receiver.
 */
export interface IrqLine {
  set(level: boolean): void;
}
