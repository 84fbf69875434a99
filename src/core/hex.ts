/** Formats an address or size for messages: `0x80000000` (lower case, no separators). */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
