//! Decoding the A64 instructions the hypervisor must emulate for a shadow lwVM.
//!
//! Two kinds of trap carry no usable syndrome. The lwVM's MSR/MRS of EL1 translation
//! registers and its TLBIs are undefined at EL0, so they arrive as unknown-reason
//! exceptions (EC 0x00) and the instruction itself says what was meant. Its stores to a
//! watched table page are stage-1 permission faults, which have no ISV (no register, no
//! size), so the store must be decoded to be replayed through [`crate::Space::table_write`].
//! Only what a guest's table code uses is decoded: integer stores (STR/STRB/STRH in every
//! addressing form, STUR, STTR, STP/STNP, STLR); SIMD/FP stores and exclusives are not, and
//! decode to `None` (the hypervisor stops the lwVM).

use crate::{TlbiOp, VReg};

/// A system instruction of the guest's translation regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysInsn {
    /// `MSR <reg>, Xt`.
    Msr {
        /// The register written.
        reg: VReg,
        /// The source register (31: XZR).
        rt: u8,
    },
    /// `MRS Xt, <reg>`.
    Mrs {
        /// The register read.
        reg: VReg,
        /// The destination register (31: XZR, the value is discarded).
        rt: u8,
    },
    /// `TLBI <op>{, Xt}` (local or inner shareable: the lwVM has one vCPU).
    Tlbi {
        /// The operation.
        op: TlbiKind,
        /// The operand register (31 for VMALLE1).
        rt: u8,
    },
}

/// The TLBI operations of EL1&0 a guest issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlbiKind {
    /// Everything of the current VMID.
    Vmalle1,
    /// By VA and ASID.
    Vae1,
    /// By ASID.
    Aside1,
    /// By VA, every ASID.
    Vaae1,
    /// By VA and ASID, last level only.
    Vale1,
    /// By VA, every ASID, last level only.
    Vaale1,
}

/// Decodes an MSR/MRS of TTBR0_EL1, TCR_EL1, MAIR_EL1 or SCTLR_EL1, or a TLBI of EL1&0.
pub fn decode_sys(insn: u32) -> Option<SysInsn> {
    // System instructions: 1101_0101_00 L op0(2) op1(3) CRn(4) CRm(4) op2(3) Rt(5).
    if insn & 0xFFC0_0000 != 0xD500_0000 {
        return None;
    }
    let l = (insn >> 21) & 1;
    let op0 = (insn >> 19) & 3;
    let op1 = (insn >> 16) & 7;
    let crn = (insn >> 12) & 15;
    let crm = (insn >> 8) & 15;
    let op2 = (insn >> 5) & 7;
    let rt = (insn & 31) as u8;
    match (op0, op1) {
        (3, 0) => {
            let reg = match (crn, crm, op2) {
                (2, 0, 0) => VReg::Ttbr0,
                (2, 0, 2) => VReg::Tcr,
                (10, 2, 0) => VReg::Mair,
                (1, 0, 0) => VReg::Sctlr,
                _ => return None,
            };
            Some(if l == 1 {
                SysInsn::Mrs { reg, rt }
            } else {
                SysInsn::Msr { reg, rt }
            })
        }
        (1, 0) if l == 0 && crn == 8 && (crm == 7 || crm == 3) => {
            let op = match op2 {
                0 if rt == 31 => TlbiKind::Vmalle1,
                1 => TlbiKind::Vae1,
                2 => TlbiKind::Aside1,
                3 => TlbiKind::Vaae1,
                5 => TlbiKind::Vale1,
                7 => TlbiKind::Vaale1,
                _ => return None,
            };
            Some(SysInsn::Tlbi { op, rt })
        }
        _ => None,
    }
}

/// The meaning of TLBI `kind` with operand `xt`: ASID in \[63:48\], VA\[55:12\] in \[43:0\].
pub fn tlbi_op(kind: TlbiKind, xt: u64) -> TlbiOp {
    let asid = (xt >> 48) as u16;
    let va = (xt & ((1 << 44) - 1)) << 12;
    let by_va = |all_asids, last_level| TlbiOp::Va {
        asid,
        va,
        all_asids,
        last_level,
    };
    match kind {
        TlbiKind::Vmalle1 => TlbiOp::All,
        TlbiKind::Aside1 => TlbiOp::Asid(asid),
        TlbiKind::Vae1 => by_va(false, false),
        TlbiKind::Vale1 => by_va(false, true),
        TlbiKind::Vaae1 => by_va(true, false),
        TlbiKind::Vaale1 => by_va(true, true),
    }
}

/// How a register offset is extended (`option` of the register-offset forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extend {
    /// Wm zero-extended.
    Uxtw,
    /// Xm as is (LSL).
    Lsl,
    /// Wm sign-extended.
    Sxtw,
    /// Xm as is (SXTX).
    Sxtx,
}

/// How a store forms its address from the base register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// base + offset, no writeback (unsigned scaled, unscaled, signed pair offset).
    Offset(i64),
    /// base + offset, written back before the store.
    PreIndex(i64),
    /// base, then base + offset written back.
    PostIndex(i64),
    /// base + extend(Rm) << shift.
    Register {
        /// The offset register (31: XZR).
        rm: u8,
        /// Its extension.
        extend: Extend,
        /// The left shift applied after extension.
        shift: u8,
    },
}

/// A decoded integer store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store {
    /// Bytes per register: 1, 2, 4, 8.
    pub bytes: u8,
    /// The (first) data register (31: XZR).
    pub rt: u8,
    /// The second data register of a pair, stored at `bytes` past the first.
    pub rt2: Option<u8>,
    /// The base register Rn (31: SP).
    pub base: u8,
    /// The addressing mode.
    pub addressing: Addressing,
}

/// Sign-extends the low `bits` bits of `v`.
fn sext(v: u32, bits: u32) -> i64 {
    ((v as i64) << (64 - bits)) >> (64 - bits)
}

/// Decodes an integer store; `None` for anything else.
pub fn decode_store(insn: u32) -> Option<Store> {
    let rt = (insn & 31) as u8;
    let rn = ((insn >> 5) & 31) as u8;
    let size = insn >> 30;
    let one = |addressing| {
        Some(Store {
            bytes: 1 << size,
            rt,
            rt2: None,
            base: rn,
            addressing,
        })
    };
    // STR (immediate, unsigned offset): size 111 0 01 00 imm12 Rn Rt.
    if insn & 0x3FC0_0000 == 0x3900_0000 {
        let imm12 = ((insn >> 10) & 0xFFF) as i64;
        return one(Addressing::Offset(imm12 << size));
    }
    // STUR/STTR/STR post/pre (imm9), STR (register): size 111 0 00 00 x ...
    if insn & 0x3FE0_0000 == 0x3800_0000 {
        let imm9 = sext((insn >> 12) & 0x1FF, 9);
        return match (insn >> 10) & 3 {
            // STUR, STTR (unprivileged: the lwVM is at EL0 anyway).
            0 | 2 => one(Addressing::Offset(imm9)),
            1 => one(Addressing::PostIndex(imm9)),
            _ => one(Addressing::PreIndex(imm9)),
        };
    }
    if insn & 0x3FE0_0C00 == 0x3820_0800 {
        let extend = match (insn >> 13) & 7 {
            0b010 => Extend::Uxtw,
            0b011 => Extend::Lsl,
            0b110 => Extend::Sxtw,
            0b111 => Extend::Sxtx,
            _ => return None,
        };
        let shift = if (insn >> 12) & 1 != 0 { size as u8 } else { 0 };
        return one(Addressing::Register {
            rm: ((insn >> 16) & 31) as u8,
            extend,
            shift,
        });
    }
    // STLR/STLRB/STLRH: size 001000 1 0 0 11111 1 11111 Rn Rt.
    if insn & 0x3FFF_FC00 == 0x089F_FC00 {
        return one(Addressing::Offset(0));
    }
    // STP/STNP: opc 101 0 mode(3) 0 imm7 Rt2 Rn Rt, opc 00 (32-bit) or 10 (64-bit).
    if insn & 0x3E40_0000 == 0x2800_0000 && (size == 0 || size == 2) {
        let bytes: u8 = if size == 2 { 8 } else { 4 };
        let off = sext((insn >> 15) & 0x7F, 7) * bytes as i64;
        let addressing = match (insn >> 23) & 7 {
            0b000 | 0b010 => Addressing::Offset(off),
            0b001 => Addressing::PostIndex(off),
            0b011 => Addressing::PreIndex(off),
            _ => return None,
        };
        return Some(Store {
            bytes,
            rt,
            rt2: Some(((insn >> 10) & 31) as u8),
            base: rn,
            addressing,
        });
    }
    None
}

impl Store {
    /// The address written and the base register's value afterwards (`Some` for the
    /// writeback forms), given a register reader `x` (never asked for register 31: it
    /// means SP for the base, XZR for an offset register).
    pub fn address(&self, x: impl Fn(u8) -> u64, sp: u64) -> (u64, Option<u64>) {
        let base = if self.base == 31 { sp } else { x(self.base) };
        match self.addressing {
            Addressing::Offset(off) => (base.wrapping_add(off as u64), None),
            Addressing::PreIndex(off) => {
                let a = base.wrapping_add(off as u64);
                (a, Some(a))
            }
            Addressing::PostIndex(off) => (base, Some(base.wrapping_add(off as u64))),
            Addressing::Register { rm, extend, shift } => {
                let m = if rm == 31 { 0 } else { x(rm) };
                let m = match extend {
                    Extend::Uxtw => m as u32 as u64,
                    Extend::Sxtw => m as u32 as i32 as i64 as u64,
                    Extend::Lsl | Extend::Sxtx => m,
                };
                (base.wrapping_add(m << shift), None)
            }
        }
    }

    /// The (value, bytes) pieces stored: the first at the address, the second (a pair's
    /// `rt2`) at the address + `bytes`. Register 31 is XZR.
    pub fn values(&self, x: impl Fn(u8) -> u64) -> [Option<(u64, u8)>; 2] {
        let mask = if self.bytes == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.bytes)) - 1
        };
        let val = |r: u8| if r == 31 { 0 } else { x(r) & mask };
        [
            Some((val(self.rt), self.bytes)),
            self.rt2.map(|r| (val(r), self.bytes)),
        ]
    }
}

#[cfg(test)]
mod tests;
