import { TypervisorError } from '../../../core/errors.js';
import type { DescriptorChain } from '../queue/descriptor-chain.js';
import type { SplitVirtqueue } from '../queue/split-virtqueue.js';
import { completeChecksum, l4ChecksumValid } from './internet-checksum.js';
import { segmentTcp } from './tcp-segmentation.js';
import { VirtioDeviceId, type VirtioActivation, type VirtioDevice, readConfigField } from '../virtio-device.js';

// virtio-net, the network device: virtio 1.2 §5.1. Two queues, receiveq1 (0) and transmitq1
// (1); no control queue (the device delivers every frame, so the driver's filters are moot).
// Offloads, all for the emulated guest's sake (its kernel runs far slower than this host code):
// - VIRTIO_NET_F_CSUM: the device completes transmit checksums the driver left partial (NEEDS_CSUM);
// - VIRTIO_NET_F_HOST_TSO4/6 (+HOST_ECN): the driver sends TCP packets of up to 64 KiB and the
//   device cuts them into gso_size segments (tcp-segmentation.ts), so every backend still sees
//   ordinary wire-sized frames;
// - VIRTIO_NET_F_GUEST_CSUM: the device checks the TCP/UDP checksum of each received frame and
//   sets DATA_VALID when it is right, so the guest does not sum it again.
// Not offered: GUEST_TSO/UFO (would need the device to merge received segments), HOST_UFO/USO.
// Every buffer starts with
//   struct virtio_net_hdr { u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size;
//                           le16 csum_start; le16 csum_offset; le16 num_buffers; }   (§5.1.6)
// which is 12 bytes whenever VERSION_1 is negotiated (always, on virtio-mmio version 2).

/** Feature bits, §5.1.3. */
export const VIRTIO_NET_F_CSUM = 0n;
export const VIRTIO_NET_F_GUEST_CSUM = 1n;
export const VIRTIO_NET_F_MAC = 5n;
export const VIRTIO_NET_F_HOST_TSO4 = 11n;
export const VIRTIO_NET_F_HOST_TSO6 = 12n;
export const VIRTIO_NET_F_HOST_ECN = 13n;
export const VIRTIO_NET_F_MRG_RXBUF = 15n;
export const VIRTIO_NET_F_STATUS = 16n;
/** Config `status`, §5.1.4. */
export const VIRTIO_NET_S_LINK_UP = 1;
/** virtio_net_hdr gso_type values and flags, §5.1.6. */
const GSO_NONE = 0;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const GSO_ECN = 0x80;
const HDR_F_NEEDS_CSUM = 1;
const HDR_F_DATA_VALID = 2;

/** The header before every frame (§5.1.6, VERSION_1). */
export const NET_HDR_BYTES = 12;
export const NET_QUEUE_SIZE = 256;
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
/** Ethernet frames the device passes, either way (no FCS): an Ethernet header … MTU 65535 + header. */
export const NET_MIN_FRAME = 14;
export const NET_MAX_FRAME = 65550;
/** The largest TSO packet a driver may hand over: Ethernet, two VLAN tags, an IPv6 header and a 16-bit payload length. */
export const NET_MAX_TSO_PACKET = 14 + 8 + 40 + 65535;
/**
 * Frames from the network held while the guest has no receive buffers posted. Past it new
 * frames are dropped (as a full NIC ring drops), so a flooding peer costs bounded memory.
 */
export const NET_RX_PENDING_FRAMES = 256;
/**
 * Flow control, for backends that offer it: past this many held frames the device asks the
 * backend to pause (a socket stops reading, so the peer's TCP slows down instead of losing
 * frames), and below {@link NET_RX_RESUME_FRAMES} to resume. The gap to the hard limit absorbs
 * what the backend had already read (a 64 KiB socket chunk is ~43 full-size frames).
 */
export const NET_RX_PAUSE_FRAMES = 128;
export const NET_RX_RESUME_FRAMES = 32;
/** mac (6) + status (2) + max_virtqueue_pairs (2), §5.1.4. */
const CONFIG_SIZE = 10;

/**
 * What the device needs of the network: the network layer's NetBackend
 * (src/network/net-backend.ts, whose contract applies) satisfies it; restated here because
 * devices/ may not import network/.
 */
export interface NetPort {
  send(frame: Uint8Array): void;
  attach(sink: { receive(frame: Uint8Array): void; resumeTx?(): void }): void;
  /** Optional flow control: deliver no more frames for now (a few already read may still come). */
  pause?(): void;
  /** Optional flow control: deliver again. */
  resume?(): void;
  /**
   * Optional transmit back-pressure (a rate limit): false means "take no more transmit buffers
   * for now"; the port calls the sink's `resumeTx` when it takes frames again.
   */
  canSend?(): boolean;
}

export interface VirtioNetOptions {
  /** The NIC's unicast MAC address, 6 bytes (config `mac`, VIRTIO_NET_F_MAC). */
  readonly mac: Uint8Array;
  /** Called after a received frame raised an interrupt outside any MMIO access (wakes a WFI hart). */
  readonly wake?: () => void;
}

/** Counters; `*Dropped` include the frames counted in `malformed`. */
export interface VirtioNetStats {
  /** Frames the guest sent that went to the backend. */
  txFrames: number;
  /** TSO packets the guest sent (each became one or more of the txFrames). */
  txTsoPackets: number;
  /** Frames put in the guest's receive buffers. */
  rxFrames: number;
  /** Of those, frames marked DATA_VALID (checksum checked by the device, GUEST_CSUM). */
  rxChecksumValid: number;
  /** Guest frames not sent: malformed. */
  txDropped: number;
  /** Network frames not delivered: driver not ready, pending queue full, no buffer big enough, malformed. */
  rxDropped: number;
  /** Frames refused for their shape: too short, too long, a transmit chain with writable buffers or offload flags never negotiated. */
  malformed: number;
}

/**
 * The virtio network device over a {@link NetPort}. Transmit is synchronous (each frame is
 * copied out of the guest and handed to the backend during the notification); receive holds up
 * to {@link NET_RX_PENDING_FRAMES} frames until the driver posts buffers. With
 * VIRTIO_NET_F_MRG_RXBUF a frame may span several buffers (num_buffers says how many,
 * §5.1.6.4); without it, one buffer holds header and frame.
 */
export class VirtioNet implements VirtioDevice {
  readonly type = VirtioDeviceId.net;
  readonly features = [VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MAC, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
    VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_MRG_RXBUF, VIRTIO_NET_F_STATUS].reduce((all, bit) => all | (1n << bit), 0n);
  readonly queueSizes = [NET_QUEUE_SIZE, NET_QUEUE_SIZE];
  readonly configSize = CONFIG_SIZE;
  readonly stats: VirtioNetStats = { txFrames: 0, txTsoPackets: 0, rxFrames: 0, rxChecksumValid: 0, txDropped: 0, rxDropped: 0, malformed: 0 };
  readonly mac: Uint8Array;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private active: VirtioActivation | undefined;
  private mergeable = false;
  /** Negotiated offloads (§5.1.3): what transmit headers may ask for, what receive headers may say. */
  private offloads = { csum: false, guestCsum: false, tso4: false, tso6: false, ecn: false };
  /** Frames from the network waiting for receive buffers (FIFO). */
  private pending: Uint8Array[] = [];
  /** Receive chains taken from the ring but not yet used (a frame that did not fit them all yet). */
  private held: DescriptorChain[] = [];
  /** Set when the device asked for a reset itself: it then takes nothing from the rings until the reset (§2.1.2). */
  private broken = false;
  /** The device asked the backend to pause. */
  private paused = false;

  constructor(private readonly port: NetPort, private readonly options: VirtioNetOptions) {
    const mac = options.mac;
    if (mac.length !== 6) throw new TypervisorError(`a MAC address has 6 bytes, not ${mac.length}`);
    if (mac[0]! & 1) throw new TypervisorError('the NIC\'s MAC address is a multicast address', { hint: 'use a unicast address (first octet even), e.g. 52:54:00:12:34:56' });
    this.mac = mac.slice();
    this.config.set(this.mac, 0);
    const v = new DataView(this.config.buffer);
    v.setUint16(6, VIRTIO_NET_S_LINK_UP, true);
    v.setUint16(8, 1, true); // max_virtqueue_pairs (meaningful only with MQ; 1 as QEMU reports)
    port.attach({ receive: (frame) => this.receive(frame), resumeTx: () => this.resumeTx() });
    port.resume?.(); // a rebuilt board's NIC: the previous one may have left the backend paused
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return readConfigField(this.config, offset, width);
  }

  /** §5.1.4: with VERSION_1 the driver never writes the config (mac is read-only): ignored. */
  writeConfig(): void {}

  activate(activation: VirtioActivation): void {
    this.active = activation;
    this.broken = false;
    this.mergeable = ((activation.features >> VIRTIO_NET_F_MRG_RXBUF) & 1n) === 1n;
    const has = (bit: bigint) => ((activation.features >> bit) & 1n) === 1n;
    this.offloads = {
      csum: has(VIRTIO_NET_F_CSUM), guestCsum: has(VIRTIO_NET_F_GUEST_CSUM),
      tso4: has(VIRTIO_NET_F_HOST_TSO4), tso6: has(VIRTIO_NET_F_HOST_TSO6), ecn: has(VIRTIO_NET_F_HOST_ECN),
    };
  }

  /** §2.4: forgets the session, the frames waiting and the buffers held. */
  reset(): void {
    this.active = undefined;
    this.broken = false;
    this.stats.rxDropped += this.pending.length;
    this.pending = [];
    this.held = [];
    this.flowControl();
  }

  notify(queue: number): void {
    const a = this.active;
    if (!a || this.broken) return;
    if (queue === TX_QUEUE) this.transmit(a);
    else if (queue === RX_QUEUE) {
      const used = this.deliver(a);
      this.flowControl();
      if (used) a.interrupt.usedBuffer(a.queues[RX_QUEUE]!);
    }
  }

  /**
   * A frame from the network (the backend's sink). Never throws: a guest-memory fault while
   * delivering sets DEVICE_NEEDS_RESET instead.
   */
  receive(frame: Uint8Array): void {
    const a = this.active;
    if (!a || this.broken || !a.queues[RX_QUEUE] || this.pending.length >= NET_RX_PENDING_FRAMES) {
      this.stats.rxDropped++;
      return;
    }
    if (frame.length < NET_MIN_FRAME || frame.length > NET_MAX_FRAME) {
      this.stats.malformed++;
      this.stats.rxDropped++;
      return;
    }
    this.pending.push(frame);
    let used: boolean;
    try {
      used = this.deliver(a);
      this.flowControl();
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      this.broken = true;
      a.interrupt.needsReset(e.message);
      this.options.wake?.();
      return;
    }
    if (used) {
      a.interrupt.usedBuffer(a.queues[RX_QUEUE]!);
      this.options.wake?.();
    }
  }

  /** Takes every frame the driver made available on transmitq (§5.1.6.2); drops malformed ones. */
  private transmit(a: VirtioActivation): void {
    const q = a.queues[TX_QUEUE]!;
    let used = false;
    const header = new Uint8Array(NET_HDR_BYTES);
    // A port that cannot take frames now (rate limit) leaves them in the ring: the guest's
    // queue backs up as on a slow link, and resumeTx() comes back for them (§2.7.13: the device
    // may process available buffers whenever it likes).
    for (let chain = this.txBlocked() ? undefined : q.pop(); chain; chain = this.txBlocked() ? undefined : q.pop()) {
      used = true;
      header.fill(0);
      chain.read(a.mem, 0, header);
      const frames = chain.writable.length > 0 ? undefined : this.framesToSend(a, chain, header);
      if (frames) {
        for (const frame of frames) this.port.send(frame);
        this.stats.txFrames += frames.length;
      } else {
        this.stats.malformed++;
        this.stats.txDropped++;
      }
      q.push(chain.head, 0); // §5.1.6.2: nothing written into a transmit buffer
    }
    if (used) a.interrupt.usedBuffer(q);
  }

  /**
   * The wire frames one transmit chain stands for (§5.1.6.2), or undefined when it breaks the
   * rules: flags other than NEEDS_CSUM (and that only with CSUM), a gso_type whose feature was not
   * negotiated (§5.1.6.2.1), a size outside the limits, a partial checksum outside the frame or a
   * TSO packet that is not well-formed TCP.
   */
  private framesToSend(a: VirtioActivation, chain: DescriptorChain, header: Uint8Array): Uint8Array[] | undefined {
    const h = new DataView(header.buffer);
    const flags = header[0]!;
    const gsoType = header[1]! & ~GSO_ECN;
    const o = this.offloads;
    const tso = (gsoType === GSO_TCPV4 && o.tso4) || (gsoType === GSO_TCPV6 && o.tso6);
    const length = chain.readableBytes - NET_HDR_BYTES;
    if ((flags !== 0 && !(o.csum && flags === HDR_F_NEEDS_CSUM)) || (gsoType !== GSO_NONE && !tso) ||
      ((header[1]! & GSO_ECN) !== 0 && !(tso && o.ecn)) ||
      length < NET_MIN_FRAME || length > (tso ? NET_MAX_TSO_PACKET : NET_MAX_FRAME)) return undefined;
    const frame = new Uint8Array(length);
    chain.read(a.mem, NET_HDR_BYTES, frame);
    const csumStart = h.getUint16(6, true);
    if (tso) {
      // Every segment's checksum is computed afresh, so the partial one is not needed; csum_start
      // only has to agree with where the TCP header is.
      const result = segmentTcp(frame, { ipv6: gsoType === GSO_TCPV6, segmentSize: h.getUint16(4, true), tcpStart: flags === HDR_F_NEEDS_CSUM ? csumStart : undefined });
      if ('error' in result) return undefined;
      this.stats.txTsoPackets++;
      return result.segments;
    }
    if (flags === HDR_F_NEEDS_CSUM && !completeChecksum(frame, csumStart, h.getUint16(8, true))) return undefined;
    return [frame];
  }

  private txBlocked(): boolean {
    return this.port.canSend !== undefined && !this.port.canSend();
  }

  /** The port takes frames again: send what the guest queued meanwhile (outside any MMIO access, so wake the hart). */
  private resumeTx(): void {
    const a = this.active;
    if (!a || this.broken || !a.queues[TX_QUEUE]) return;
    try {
      this.transmit(a);
    } catch (e) {
      if (!(e instanceof TypervisorError)) throw e;
      this.broken = true;
      a.interrupt.needsReset(e.message);
    }
    this.options.wake?.();
  }

  /**
   * Moves pending frames into receive buffers while there are buffers (§5.1.6.3, §5.1.6.4);
   * returns whether any buffer went to the used ring.
   * @throws TypervisorError for a malformed ring (VirtqueueError) or a guest-memory fault.
   */
  private deliver(a: VirtioActivation): boolean {
    const q = a.queues[RX_QUEUE];
    if (!q) return false;
    let used = false;
    while (this.pending.length > 0) {
      const frame = this.pending[0]!;
      const need = NET_HDR_BYTES + frame.length;
      // Gather chains until they hold the header and the frame: one without MRG_RXBUF.
      let room = 0;
      let count = 0;
      for (;;) {
        if (count === this.held.length) {
          const chain = q.pop();
          if (!chain) return used; // wait for the driver to post more buffers
          this.check(chain);
          this.held.push(chain);
        }
        const chain = this.held[count]!;
        if (!this.mergeable) {
          room = chain.writableBytes;
          count = 1;
          break;
        }
        room += chain.writableBytes;
        count++;
        if (room >= need || count === q.size) break;
      }
      this.pending.shift();
      if (room < need) {
        // Bigger than one buffer (without MRG_RXBUF) or than the whole ring: the frame can never
        // fit; drop it and keep the buffers for the next.
        this.stats.rxDropped++;
        continue;
      }
      const chains = this.held.splice(0, count);
      const bytes = new Uint8Array(need);
      // flags: DATA_VALID when the checksum was checked (GUEST_CSUM), gso_type NONE, num_buffers:
      // how many buffers this frame spans (1 without MRG_RXBUF, §5.1.6.4).
      if (this.offloads.guestCsum && l4ChecksumValid(frame)) {
        bytes[0] = HDR_F_DATA_VALID;
        this.stats.rxChecksumValid++;
      }
      new DataView(bytes.buffer).setUint16(10, chains.length, true);
      bytes.set(frame, NET_HDR_BYTES);
      let at = 0;
      for (const chain of chains) {
        const n = chain.write(a.mem, 0, bytes.subarray(at, Math.min(need, at + chain.writableBytes)));
        at += n;
        q.push(chain.head, n);
      }
      this.stats.rxFrames++;
      used = true;
    }
    return used;
  }

  /** Pauses the backend when frames pile up, resumes it once they drained (or were dropped by a reset). */
  private flowControl(): void {
    const n = this.pending.length;
    if (!this.paused && n >= NET_RX_PAUSE_FRAMES) {
      this.paused = true;
      this.port.pause?.();
    } else if (this.paused && n <= NET_RX_RESUME_FRAMES) {
      this.paused = false;
      this.port.resume?.();
    }
  }

  /** §5.1.6.3.1: receive buffers are device-writable, each at least a header long (with MRG_RXBUF). */
  private check(chain: DescriptorChain): void {
    if (chain.readable.length > 0) throw new TypervisorError('virtio-net: a receive buffer has a device-readable part');
    if (chain.writableBytes < NET_HDR_BYTES) throw new TypervisorError(`virtio-net: a receive buffer of ${chain.writableBytes} bytes cannot hold the ${NET_HDR_BYTES}-byte header`);
  }
}

