export * from './p9-protocol.js';
export { P9DecodeError, P9Reader, P9Writer, readHeader, type Qid } from './p9-message.js';
export { P9_MAX_FIDS, P9_MAX_MSIZE, P9_MAX_OPEN_FILES, P9_MIN_MSIZE, P9Server, qidOf } from './p9-server.js';
export * from './shared-file-system.js';
export { MemorySharedFileSystem } from './memory-shared-file-system.js';
export { P9_MAX_TAG_BYTES, P9_QUEUE_SIZE, VIRTIO_9P_MOUNT_TAG, Virtio9p, validateMountTag, type Virtio9pOptions } from './virtio-9p.js';
