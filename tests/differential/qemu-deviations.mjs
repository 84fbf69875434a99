// Where typervisor knowingly differs from QEMU 7.2 (the reference of the differential tests),
// line by line. Each rule names a program, a pattern for QEMU's line and one for ours (null: the
// line exists on one side only), and why. Only two reasons are allowed: QEMU 7.2 departs from
// the RISC-V specification (we follow the specification), or typervisor implements something
// QEMU 7.2 lacks. Every rule must be used by its program's run, so stale rules fail the test.

/** @typedef {{ program: string, qemu: RegExp | null, ours: RegExp | null, why: string }} Deviation */

const SPEC = 'QEMU 7.2 departs from the privileged/unprivileged specification here';

/** @type {Deviation[]} */
export const DEVIATIONS = [
  // Misaligned AMOs: "store/AMO address misaligned" (cause 6), unpriv ISA §8.4; QEMU raises 4.
  { program: 'atomics', qemu: /^misaligned amo\S+: trap cause=4 /, ours: /^misaligned amo\S+: trap cause=6 /, why: SPEC },
  // ctzw counts trailing zeros of the low word (Zbb): 32 for a zero word; QEMU 7.2 counts in 64 bits.
  { program: 'bitmanip', qemu: /^ctzw [0-9a-f]{8}00000000 -> 000000000000003f$/, ours: /^ctzw [0-9a-f]{8}00000000 -> 0000000000000020$/, why: SPEC },
  { program: 'bitmanip', qemu: /^checksum = /, ours: /^checksum = /, why: 'the checksum folds in the ctzw results above' },
  // mcounteren/scounteren are 32-bit registers; mcountinhibit bit 1 is read-only zero (priv §3.1.11-12).
  { program: 'counters', qemu: /^mcounteren WARL: ffffffffffffffff$/, ours: /^mcounteren WARL: ffffffff$/, why: SPEC },
  { program: 'counters', qemu: /^scounteren written from S: ffffffffffffffff$/, ours: /^scounteren written from S: ffffffff$/, why: SPEC },
  { program: 'counters', qemu: /^mcountinhibit reset=0 WARL=ffffffffffffffff$/, ours: /^mcountinhibit reset=0 WARL=fffffffd$/, why: SPEC },
  // vstimecmp (0x24d) belongs to the H extension, which the reference runs without.
  { program: 'csr-list', qemu: /^readable in M: .* 180 24d 300/, ours: /^readable in M: .* 180 300/, why: 'QEMU 7.2 keeps vstimecmp with h=false' },
  { program: 'csr-list', qemu: /^ {2}\(145 readable\)$/, ours: /^ {2}\(144 readable\)$/, why: 'QEMU 7.2 keeps vstimecmp with h=false' },
  { program: 'csr-list', qemu: /^ {2}csr 24d = /, ours: null, why: 'QEMU 7.2 keeps vstimecmp with h=false' },
  // pmpaddr bits 63:54 are zero on RV64 (priv §3.7.1).
  { program: 'csr-list', qemu: /^ {2}csr 3bf = ffffffffffffffff$/, ours: /^ {2}csr 3bf = 003fffffffffffff$/, why: SPEC },
  // marchid/mimpid are implementation identity: QEMU reports its version, we report 0 ("not implemented").
  { program: 'csr-list', qemu: /^ {2}csr f1[23] = 0000000000070216$/, ours: /^ {2}csr f1[23] = 0000000000000000$/, why: 'implementation identity' },
  // csrrs/csrrc with rs1 != x0 count as writes whatever the register holds (priv §2.1, Zicsr §9.1).
  { program: 'csr', qemu: /^quirk: csrr[sc] \S+,\(reg=0\): no trap$/, ours: /^quirk: csrr[sc] \S+,\(reg=0\): trap cause=2 /, why: SPEC },
  // Extensions typervisor implements and QEMU 7.2 does not: Zicond, Zicbom, Zicboz.
  { program: 'ext-probe', qemu: /^(Zicond czero|Zicbom cbo|Zicboz cbo)\.\S+: trap cause=2 /, ours: /^(Zicond czero|Zicbom cbo|Zicboz cbo)\.\S+: no trap$/, why: 'typervisor implements Zicond, Zicbom and Zicboz' },
  { program: 'ext-probe', qemu: /^cbo\.zero zeroed bytes \[96\.\.96\]$/, ours: /^cbo\.zero zeroed bytes \[64\.\.127\]$/, why: 'typervisor implements Zicboz (64-byte blocks)' },
  { program: 'ext-probe', qemu: /^Zicond implemented: no$/, ours: /^Zicond implemented: yes$/, why: 'typervisor implements Zicond' },
  { program: 'ext-probe', qemu: null, ours: /^czero [0-9a-f]{16} [0-9a-f]{16} -> eqz [0-9a-f]{16} nez [0-9a-f]{16}/, why: 'typervisor implements Zicond' },
  { program: 'ext-probe', qemu: /^S cbo\.(zero|clean|flush|inval) menvcfg\.(CBZE|CBCFE|CBIE)=[13]: trap cause=2 /, ours: /^S cbo\.(zero|clean|flush|inval) menvcfg\.(CBZE|CBCFE|CBIE)=[13]: no trap$/, why: 'typervisor implements Zicbom and Zicboz (enabled by menvcfg)' },
  { program: 'ext-probe', qemu: /^blk\[127\]=ee blk\[128\]=ee blk\[191\]=ee blk\[192\]=ee$/, ours: /^blk\[127\]=ee blk\[128\]=00 blk\[191\]=00 blk\[192\]=ee$/, why: 'typervisor implements Zicboz (S-mode cbo.zero zeroes its block)' },
  // menvcfg.PBMTE is read-only zero without Svpbmt (priv §3.1.18), which neither implements.
  { program: 'ext-probe', qemu: /^menvcfg reset=0+ all-ones->c0000000000000f1 \(PBMTE=1 /, ours: /^menvcfg reset=0+ all-ones->80000000000000f1 \(PBMTE=0 /, why: SPEC },
  // Simultaneous interrupts: MEI > MSI > MTI > SEI > SSI > STI (priv §3.1.9); QEMU 7.2 takes the lowest number first.
  { program: 'interrupts', qemu: /^priority order: M:1 M:3 M:5 M:7$/, ours: /^priority order: M:3 M:7 M:1 M:5$/, why: SPEC },
  // Without H and Sscofpmf the VS* and LCOF bits of mideleg/mie/mip/medeleg are read-only zero.
  { program: 'interrupts', qemu: /^mideleg writable: 2666$/, ours: /^mideleg writable: 222$/, why: SPEC },
  { program: 'mstatus', qemu: /^medeleg: orig 0+ ones->0000000000f0bfff /, ours: /^medeleg: orig 0+ ones->000000000000b3ff /, why: SPEC },
  { program: 'mstatus', qemu: /^mideleg: orig 0+ ones->0000000000002666 /, ours: /^mideleg: orig 0+ ones->0000000000000222 /, why: SPEC },
  { program: 'mstatus', qemu: /^mie: orig 0+ ones->0000000000002eee /, ours: /^mie: orig 0+ ones->0000000000000aaa /, why: SPEC },
  { program: 'mstatus', qemu: /^mip: orig 0+ ones->0000000000002666 /, ours: /^mip: orig 0+ ones->0000000000000222 /, why: SPEC },
  // mstatus without V and H: VS, GVA and MPV are zero; UXL is fixed at 64 bits here (WARL).
  { program: 'mstatus', qemu: /^mstatus 0000000a00000900, sstatus<-~0: mstatus 8000000b000c6f22 sstatus 80000003000c6722$/, ours: /^mstatus 0000000a00000900, sstatus<-~0: mstatus 8000000a000c6922 sstatus 80000002000c6122$/, why: SPEC },
  { program: 'mstatus', qemu: /^mstatus: orig 0000000a00000900 ones->800000cb007e7faa zero->0000000b00000000$/, ours: /^mstatus: orig 0000000a00000900 ones->8000000a007e79aa zero->0000000a00000000$/, why: SPEC },
  { program: 'mstatus', qemu: /^sstatus: orig 0000000200000100 ones->80000003000c6722 zero->0000000300000000$/, ours: /^sstatus: orig 0000000200000100 ones->80000002000c6122 zero->0000000200000000$/, why: SPEC },
  { program: 'mstatus', qemu: /^quirk: mstatus\.UXL <- 1: 1$/, ours: /^quirk: mstatus\.UXL <- 1: 2$/, why: 'UXL is WARL; typervisor supports only XLEN 64 for U' },
  // mepc[0] and sepc[0] are always zero (priv §3.1.14); MPP never holds the reserved value 2.
  { program: 'mstatus', qemu: /^[ms]epc: orig [0-9a-f]{16} ones->ffffffffffffffff /, ours: /^[ms]epc: orig [0-9a-f]{16} ones->fffffffffffffffe /, why: SPEC },
  { program: 'mstatus', qemu: /^quirk: mstatus\.MPP <- 2: 2$/, ours: /^quirk: mstatus\.MPP <- 2: 0$/, why: SPEC },
  { program: 'traps', qemu: /^[ms]epc write 0x[0-9a-f]+ -> [0-9a-f]*[13579bdf]$/, ours: /^[ms]epc write 0x[0-9a-f]+ -> [0-9a-f]*[02468ace]$/, why: SPEC },
  // mret/sret to a mode other than M clear MPRV (priv §3.1.6.3).
  { program: 'traps', qemu: /^quirk: MPRV after mret to [SU]: 1$/, ours: /^quirk: MPRV after mret to [SU]: 0$/, why: SPEC },
  // pmpaddr bits 63:54 read as zero; pmpcfg bits 6:5 are reserved zero (priv §3.7.1).
  { program: 'pmp', qemu: /^pmpcfg0=0 pmpcfg2=1f00000000000000 pmpaddr15=ffffffffffffffff$/, ours: /^pmpcfg0=0 pmpcfg2=1f00000000000000 pmpaddr15=3fffffffffffff$/, why: SPEC },
  { program: 'pmp', qemu: /^pmpaddr0 <- ~0: ffffffffffffffff$/, ours: /^pmpaddr0 <- ~0: 3fffffffffffff$/, why: SPEC },
  { program: 'pmp', qemu: /^pmpaddr0 <- 0x123456789abcdef: 123456789abcdef$/, ours: /^pmpaddr0 <- 0x123456789abcdef: 23456789abcdef$/, why: SPEC },
  { program: 'pmp', qemu: /^pmpcfg0 <- 7f: 7f$/, ours: /^pmpcfg0 <- 7f: 1f$/, why: SPEC },
  { program: 'pmp', qemu: /^pmpcfg0 <- 60: 60$/, ours: /^pmpcfg0 <- 60: 0$/, why: SPEC },
];

/**
 * Compares QEMU's and typervisor's output of `program` line by line, accepting only the listed
 * deviations. Returns { ok, message, used } where `used` is the set of rules that matched.
 */
export function compareWithDeviations(program, qemuText, oursText) {
  const rules = DEVIATIONS.filter((r) => r.program === program);
  const q = qemuText.split('\n');
  const o = oursText.split('\n');
  const used = new Set();
  let i = 0;
  let j = 0;
  while (i < q.length || j < o.length) {
    if (i < q.length && j < o.length && q[i] === o[j]) { i++; j++; continue; }
    const pair = rules.find((r) => r.qemu && r.ours && i < q.length && j < o.length && r.qemu.test(q[i]) && r.ours.test(o[j]));
    if (pair) { used.add(pair); i++; j++; continue; }
    const oursOnly = rules.find((r) => !r.qemu && r.ours && j < o.length && r.ours.test(o[j]));
    if (oursOnly) { used.add(oursOnly); j++; continue; }
    const qemuOnly = rules.find((r) => r.qemu && !r.ours && i < q.length && r.qemu.test(q[i]));
    if (qemuOnly) { used.add(qemuOnly); i++; continue; }
    const ctx = q.slice(Math.max(0, i - 3), i).map((l) => `    ${l}`).join('\n');
    return {
      ok: false,
      used,
      message: `line ${i + 1} (ours ${j + 1}) differs:\n${ctx}\n  qemu:       ${JSON.stringify(q[i])}\n  typervisor: ${JSON.stringify(o[j])}`,
    };
  }
  const unused = rules.filter((r) => !used.has(r));
  if (unused.length) {
    return { ok: false, used, message: `deviation rules not exercised (stale?): ${unused.map((r) => `${r.qemu ?? '∅'} / ${r.ours ?? '∅'}`).join('; ')}` };
  }
  return { ok: true, used, message: '' };
}
