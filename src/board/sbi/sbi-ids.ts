// Numbers from the RISC-V Supervisor Binary Interface specification v2.0.

/** §3.2 standard error codes, returned in a0. */
export const SbiError = {
  SUCCESS: 0,
  FAILED: -1,
  NOT_SUPPORTED: -2,
  INVALID_PARAM: -3,
  DENIED: -4,
  INVALID_ADDRESS: -5,
  ALREADY_AVAILABLE: -6,
  ALREADY_STARTED: -7,
  ALREADY_STOPPED: -8,
} as const;

/** Extension ids (a7). */
export const SbiExt = {
  // §5 legacy extensions (deprecated, still used by old kernels and tiny programs).
  LEGACY_SET_TIMER: 0x00,
  LEGACY_CONSOLE_PUTCHAR: 0x01,
  LEGACY_CONSOLE_GETCHAR: 0x02,
  LEGACY_CLEAR_IPI: 0x03,
  LEGACY_SEND_IPI: 0x04,
  LEGACY_REMOTE_FENCE_I: 0x05,
  LEGACY_REMOTE_SFENCE_VMA: 0x06,
  LEGACY_REMOTE_SFENCE_VMA_ASID: 0x07,
  LEGACY_SHUTDOWN: 0x08,
  BASE: 0x10, // §4
  TIME: 0x54494d45, // §6 "TIME"
  IPI: 0x735049, // §7 "sPI"
  RFENCE: 0x52464e43, // §8 "RFNC"
  HSM: 0x48534d, // §9 "HSM"
  SRST: 0x53525354, // §10 "SRST"
  DBCN: 0x4442434e, // §12 "DBCN"
} as const;

/** §4: version 2.0 as (major << 24) | minor. */
export const SBI_SPEC_VERSION = (2 << 24) | 0;

/**
 * §4.9 implementation id. Ids 0–11 are assigned to other implementations (BBL, OpenSBI, Xvisor,
 * KVM, RustSBI, …); this one is unassigned and says "typervisor" to a curious guest.
 */
export const SBI_IMPL_ID = 0x7476; // 'tv'

/** §9.1 HSM hart states. */
export const HartState = { STARTED: 0, STOPPED: 1, START_PENDING: 2, STOP_PENDING: 3, SUSPENDED: 4 } as const;

/** §10.1 system reset types. */
export const ResetType = { SHUTDOWN: 0, COLD_REBOOT: 1, WARM_REBOOT: 2 } as const;
/** §10.1 reset reasons. */
export const ResetReason = { NONE: 0, SYSTEM_FAILURE: 1 } as const;
