// RVC: expands a 16-bit instruction to the 32-bit instruction it stands for (unprivileged ISA
// manual, chapter 16 "C" Standard Extension, table 16.4–16.6 for RV64). Returns 0 (an illegal
// 32-bit word) for reserved encodings.

// @ts-ignore: decorator
@inline function bit(x: u32, i: u32): u32 { return (x >> i) & 1; }
// @ts-ignore: decorator
@inline function bits(x: u32, hi: u32, lo: u32): u32 { return (x >> lo) & ((1 << (hi - lo + 1)) - 1); }
// @ts-ignore: decorator
@inline function sext(x: u32, width: u32): i32 { return (<i32>(x << (32 - width))) >> (32 - width); }

function encI(imm: i32, rs1: u32, f3: u32, rd: u32, opc: u32): u32 {
  return (<u32>imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
}
function encS(imm: i32, rs2: u32, rs1: u32, f3: u32, opc: u32): u32 {
  const u = <u32>imm;
  return ((u >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((u & 31) << 7) | opc;
}
function encR(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, opc: u32): u32 {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | opc;
}
function encB(imm: i32, rs2: u32, rs1: u32, f3: u32): u32 {
  const u = <u32>imm;
  return (bit(u, 12) << 31) | (bits(u, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    (bits(u, 4, 1) << 8) | (bit(u, 11) << 7) | 0x63;
}
function encJ(imm: i32, rd: u32): u32 {
  const u = <u32>imm;
  return (bit(u, 20) << 31) | (bits(u, 10, 1) << 21) | (bit(u, 11) << 20) | (bits(u, 19, 12) << 12) |
    (rd << 7) | 0x6f;
}

export function expandCompressed(c: u32): u32 {
  const op = c & 3;
  const f3 = c >> 13;
  const rdp = 8 + bits(c, 4, 2); // rd'/rs2'
  const rs1p = 8 + bits(c, 9, 7);
  const rd = bits(c, 11, 7);
  const rs2 = bits(c, 6, 2);
  if (op == 0) {
    switch (f3) {
      case 0: { // c.addi4spn
        const imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3);
        if (imm == 0) return 0;
        return encI(<i32>imm, 2, 0, rdp, 0x13);
      }
      case 1: return encI(<i32>((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)), rs1p, 3, rdp, 0x07); // c.fld
      case 2: return encI(<i32>((bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6)), rs1p, 2, rdp, 0x03); // c.lw
      case 3: return encI(<i32>((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)), rs1p, 3, rdp, 0x03); // c.ld
      case 5: return encS(<i32>((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)), rdp, rs1p, 3, 0x27); // c.fsd
      case 6: return encS(<i32>((bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6)), rdp, rs1p, 2, 0x23); // c.sw
      case 7: return encS(<i32>((bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6)), rdp, rs1p, 3, 0x23); // c.sd
    }
    return 0;
  }
  if (op == 1) {
    const imm6 = sext((bit(c, 12) << 5) | rs2, 6);
    switch (f3) {
      case 0: return encI(imm6, rd, 0, rd, 0x13); // c.addi / c.nop
      case 1: if (rd == 0) return 0; return encI(imm6, rd, 0, rd, 0x1b); // c.addiw
      case 2: return encI(imm6, 0, 0, rd, 0x13); // c.li
      case 3: {
        if (rd == 2) { // c.addi16sp
          const imm = sext((bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (bits(c, 4, 3) << 7) | (bit(c, 2) << 5), 10);
          if (imm == 0) return 0;
          return encI(imm, 2, 0, 2, 0x13);
        }
        if (imm6 == 0) return 0; // c.lui with nzimm = 0 is reserved
        return (<u32>(imm6 << 12) & 0xfffff000) | (rd << 7) | 0x37;
      }
      case 4: {
        const shamt = <i32>((bit(c, 12) << 5) | rs2);
        switch (bits(c, 11, 10)) {
          case 0: return encI(shamt, rs1p, 5, rs1p, 0x13); // c.srli
          case 1: return encI(shamt | 0x400, rs1p, 5, rs1p, 0x13); // c.srai
          case 2: return encI(imm6, rs1p, 7, rs1p, 0x13); // c.andi
        }
        const sub = bits(c, 6, 5);
        if (bit(c, 12) == 0) {
          if (sub == 0) return encR(0x20, rdp, rs1p, 0, rs1p, 0x33); // c.sub
          if (sub == 1) return encR(0, rdp, rs1p, 4, rs1p, 0x33); // c.xor
          if (sub == 2) return encR(0, rdp, rs1p, 6, rs1p, 0x33); // c.or
          return encR(0, rdp, rs1p, 7, rs1p, 0x33); // c.and
        }
        if (sub == 0) return encR(0x20, rdp, rs1p, 0, rs1p, 0x3b); // c.subw
        if (sub == 1) return encR(0, rdp, rs1p, 0, rs1p, 0x3b); // c.addw
        return 0;
      }
      case 5: { // c.j
        const imm = sext((bit(c, 12) << 11) | (bit(c, 11) << 4) | (bits(c, 10, 9) << 8) | (bit(c, 8) << 10) |
          (bit(c, 7) << 6) | (bit(c, 6) << 7) | (bits(c, 5, 3) << 1) | (bit(c, 2) << 5), 12);
        return encJ(imm, 0);
      }
      default: { // c.beqz / c.bnez
        const imm = sext((bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) |
          (bit(c, 2) << 5), 9);
        return encB(imm, 0, rs1p, f3 == 6 ? 0 : 1);
      }
    }
  }
  if (op == 2) {
    switch (f3) {
      case 0: return encI(<i32>((bit(c, 12) << 5) | rs2), rd, 1, rd, 0x13); // c.slli
      case 1: return encI(<i32>((bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6)), 2, 3, rd, 0x07); // c.fldsp
      case 2: // c.lwsp
        if (rd == 0) return 0;
        return encI(<i32>((bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6)), 2, 2, rd, 0x03);
      case 3: // c.ldsp
        if (rd == 0) return 0;
        return encI(<i32>((bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6)), 2, 3, rd, 0x03);
      case 4:
        if (bit(c, 12) == 0) {
          if (rs2 == 0) { if (rd == 0) return 0; return encI(0, rd, 0, 0, 0x67); } // c.jr
          return encR(0, rs2, 0, 0, rd, 0x33); // c.mv
        }
        if (rs2 == 0) {
          if (rd == 0) return 0x00100073; // c.ebreak
          return encI(0, rd, 0, 1, 0x67); // c.jalr
        }
        return encR(0, rs2, rd, 0, rd, 0x33); // c.add
      case 5: return encS(<i32>((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6)), rs2, 2, 3, 0x27); // c.fsdsp
      case 6: return encS(<i32>((bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6)), rs2, 2, 2, 0x23); // c.swsp
      case 7: return encS(<i32>((bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6)), rs2, 2, 3, 0x23); // c.sdsp
    }
  }
  return 0;
}
