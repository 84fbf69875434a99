export { cryptoEntropy, RNG_MAX_BYTES_PER_REQUEST, RNG_QUEUE_SIZE, VirtioRng, type EntropySource } from './virtio-rng.js';
