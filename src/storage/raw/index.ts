export { RawImage } from './raw-image.js';
