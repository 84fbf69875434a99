export {
  BALLOON_MAX_PFNS_PER_BUFFER,
  BALLOON_MAX_STATS,
  BALLOON_PAGE,
  BALLOON_QUEUE_SIZE,
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_MUST_TELL_HOST,
  VIRTIO_BALLOON_F_STATS_VQ,
  VirtioBalloon,
  type BalloonStats,
  type VirtioBalloonOptions,
  type VirtioBalloonState,
} from './virtio-balloon.js';
