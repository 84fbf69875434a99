export { Uart16550, type Uart16550Options, type Uart16550State, HOST_QUEUE_LIMIT } from './uart16550.js';
