//! Data and instruction aborts: the ISS fields, the fault status code and the MMIO access
//! a stage-2 data abort describes.
//!
//! Why: every emulated device (vGIC, PL011) is reached through a stage-2 data abort on an
//! unmapped IPA. The hypervisor can only emulate the access when the syndrome is valid
//! (ISV=1): then SAS/SSE/SRT/SF say which register is moved and how. Spec: Arm ARM
//! ESR_EL2, "ISS encoding for an exception from a Data Abort" and "… from an Instruction
//! Abort"; fault status codes in the same section (DFSC/IFSC).
//!
//! Invariant: [`DataAbort::mmio`] returns `Some` only when the access can be emulated
//! exactly (syndrome valid, not a stage-1 walk, FAR valid, not a cache maintenance op);
//! everything else must be reflected to the guest or treated as a fatal guest error.

use super::fault_ipa;

/// A fault status code (DFSC/IFSC, 6 bits), decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultStatus {
    /// Address size fault at the given lookup level (-1..=3).
    AddressSize(i8),
    /// Translation fault at the given lookup level (-1..=3).
    Translation(i8),
    /// Access flag fault at the given lookup level (0..=3).
    AccessFlag(i8),
    /// Permission fault at the given lookup level (0..=3).
    Permission(i8),
    /// Synchronous external abort, not on a translation table walk (0x10).
    SyncExternal,
    /// Synchronous tag check fault (0x11).
    TagCheck,
    /// Synchronous external abort on a translation table walk at the given level.
    SyncExternalWalk(i8),
    /// Synchronous parity/ECC error, not on a walk (0x18).
    Parity,
    /// Synchronous parity/ECC error on a walk at the given level.
    ParityWalk(i8),
    /// Alignment fault (0x21).
    Alignment,
    /// TLB conflict abort (0x30).
    TlbConflict,
    /// Any other code.
    Other(u8),
}

impl FaultStatus {
    /// Decodes a 6-bit DFSC/IFSC.
    pub const fn decode(code: u8) -> FaultStatus {
        let code = code & 0x3F;
        let level = (code & 3) as i8;
        match code {
            0x00..=0x03 => FaultStatus::AddressSize(level),
            0x29 => FaultStatus::AddressSize(-1),
            0x04..=0x07 => FaultStatus::Translation(level),
            0x2B => FaultStatus::Translation(-1),
            0x08..=0x0B => FaultStatus::AccessFlag(level),
            0x0C..=0x0F => FaultStatus::Permission(level),
            0x10 => FaultStatus::SyncExternal,
            0x11 => FaultStatus::TagCheck,
            0x13 => FaultStatus::SyncExternalWalk(-1),
            0x14..=0x17 => FaultStatus::SyncExternalWalk(level),
            0x18 => FaultStatus::Parity,
            0x1B => FaultStatus::ParityWalk(-1),
            0x1C..=0x1F => FaultStatus::ParityWalk(level),
            0x21 => FaultStatus::Alignment,
            0x30 => FaultStatus::TlbConflict,
            other => FaultStatus::Other(other),
        }
    }

    /// Encodes back into a 6-bit DFSC/IFSC (used when injecting an abort into a guest).
    /// Levels outside the encodable range fall back to level 3 / the -1 codes.
    pub const fn code(self) -> u8 {
        const fn lvl(base: u8, level: i8) -> u8 {
            base | ((level as u8) & 3)
        }
        match self {
            FaultStatus::AddressSize(-1) => 0x29,
            FaultStatus::AddressSize(l) => lvl(0x00, l),
            FaultStatus::Translation(-1) => 0x2B,
            FaultStatus::Translation(l) => lvl(0x04, l),
            FaultStatus::AccessFlag(l) => lvl(0x08, l),
            FaultStatus::Permission(l) => lvl(0x0C, l),
            FaultStatus::SyncExternal => 0x10,
            FaultStatus::TagCheck => 0x11,
            FaultStatus::SyncExternalWalk(-1) => 0x13,
            FaultStatus::SyncExternalWalk(l) => lvl(0x14, l),
            FaultStatus::Parity => 0x18,
            FaultStatus::ParityWalk(-1) => 0x1B,
            FaultStatus::ParityWalk(l) => lvl(0x1C, l),
            FaultStatus::Alignment => 0x21,
            FaultStatus::TlbConflict => 0x30,
            FaultStatus::Other(c) => c & 0x3F,
        }
    }
}

/// The syndrome of a data abort (EC 0x24/0x25), with the addresses read alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataAbort {
    /// Taken from a lower EL (EC 0x24) rather than EL2 itself (EC 0x25).
    pub from_lower_el: bool,
    /// ISS\[24\]: the fields SAS, SSE, SRT, SF and AR are valid.
    pub isv: bool,
    /// ISS\[23:22\]: access size as log2 of bytes (0 = byte … 3 = doubleword).
    pub sas: u8,
    /// ISS\[21\]: the load sign-extends.
    pub sse: bool,
    /// ISS\[20:16\]: the transfer register (31 = XZR/WZR).
    pub srt: u8,
    /// ISS\[15\]: the register is 64-bit (X) rather than 32-bit (W).
    pub sf: bool,
    /// ISS\[14\]: acquire/release semantics.
    pub ar: bool,
    /// ISS\[10\]: FAR is not valid.
    pub fnv: bool,
    /// ISS\[9\]: external abort type (implementation defined).
    pub ea: bool,
    /// ISS\[8\]: fault came from a cache maintenance or address translation instruction.
    pub cm: bool,
    /// ISS\[7\]: fault on a stage-2 access made by a stage-1 translation table walk.
    pub s1ptw: bool,
    /// ISS\[6\]: write (`true`) or read (`false`). For CM or S1PTW faults, see the Arm ARM.
    pub wnr: bool,
    /// ISS\[5:0\]: data fault status code, raw.
    pub dfsc: u8,
    /// FAR_EL2: faulting virtual address (valid only if `!fnv`).
    pub far: u64,
    /// Faulting IPA: `(HPFAR_EL2.FIPA << 8) | FAR_EL2[11:0]`. Meaningful for stage-2
    /// faults; for `s1ptw` faults only the page (bits \[..:12\]) is meaningful.
    pub ipa: u64,
}

impl DataAbort {
    /// Decodes a data abort ISS.
    pub const fn from_iss(iss: u32, from_lower_el: bool, far: u64, hpfar: u64) -> DataAbort {
        DataAbort {
            from_lower_el,
            isv: iss & (1 << 24) != 0,
            sas: ((iss >> 22) & 3) as u8,
            sse: iss & (1 << 21) != 0,
            srt: ((iss >> 16) & 0x1F) as u8,
            sf: iss & (1 << 15) != 0,
            ar: iss & (1 << 14) != 0,
            fnv: iss & (1 << 10) != 0,
            ea: iss & (1 << 9) != 0,
            cm: iss & (1 << 8) != 0,
            s1ptw: iss & (1 << 7) != 0,
            wnr: iss & (1 << 6) != 0,
            dfsc: (iss & 0x3F) as u8,
            far,
            ipa: fault_ipa(far, hpfar),
        }
    }

    /// Access size in bytes (1, 2, 4 or 8); meaningful only when `isv`.
    pub const fn size(&self) -> u8 {
        1 << self.sas
    }

    /// The decoded fault status.
    pub const fn status(&self) -> FaultStatus {
        FaultStatus::decode(self.dfsc)
    }

    /// The access to emulate, when it can be emulated exactly (see the module invariant).
    pub const fn mmio(&self) -> Option<MmioAccess> {
        if !self.isv || self.s1ptw || self.fnv || self.cm {
            return None;
        }
        Some(MmioAccess {
            ipa: self.ipa,
            size: self.size(),
            write: self.wnr,
            reg: self.srt,
            sign_extend: self.sse,
            sixty_four: self.sf,
        })
    }
}

/// One emulatable load or store on an IPA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MmioAccess {
    /// Faulting IPA (exact byte address).
    pub ipa: u64,
    /// Bytes moved: 1, 2, 4 or 8.
    pub size: u8,
    /// Store (`true`) or load (`false`).
    pub write: bool,
    /// General-purpose register number; 31 is the zero register (XZR/WZR).
    pub reg: u8,
    /// The load sign-extends into the register.
    pub sign_extend: bool,
    /// The register is an X register (64-bit) rather than a W register.
    pub sixty_four: bool,
}

impl MmioAccess {
    /// Mask of the access size.
    pub const fn size_mask(&self) -> u64 {
        if self.size >= 8 {
            u64::MAX
        } else {
            (1u64 << (self.size as u32 * 8)) - 1
        }
    }

    /// Whether the transfer register is the zero register.
    pub const fn is_zero_reg(&self) -> bool {
        self.reg == 31
    }

    /// Value a store writes to the device, given the content of the register
    /// (pass anything for the zero register: it stores 0).
    pub const fn store_value(&self, reg_value: u64) -> u64 {
        if self.is_zero_reg() {
            0
        } else {
            reg_value & self.size_mask()
        }
    }

    /// Value a load puts in the register, given the device's raw value: truncated to the
    /// access size, sign-extended when SSE, then truncated to 32 bits for a W register
    /// (a write to Wn zeroes bits \[63:32\] of Xn).
    pub const fn load_value(&self, raw: u64) -> u64 {
        let bits = self.size as u32 * 8;
        let mut v = raw & self.size_mask();
        if self.sign_extend && bits < 64 {
            let shift = 64 - bits;
            v = (((v << shift) as i64) >> shift) as u64;
        }
        if !self.sixty_four {
            v &= 0xFFFF_FFFF;
        }
        v
    }
}

/// The syndrome of an instruction abort (EC 0x20/0x21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstructionAbort {
    /// Taken from a lower EL (EC 0x20) rather than EL2 itself (EC 0x21).
    pub from_lower_el: bool,
    /// ISS\[10\]: FAR is not valid.
    pub fnv: bool,
    /// ISS\[9\]: external abort type.
    pub ea: bool,
    /// ISS\[7\]: fault on a stage-2 access made by a stage-1 translation table walk.
    pub s1ptw: bool,
    /// ISS\[5:0\]: instruction fault status code, raw.
    pub ifsc: u8,
    /// FAR_EL2: faulting virtual address (valid only if `!fnv`).
    pub far: u64,
    /// Faulting IPA from HPFAR_EL2 and FAR_EL2\[11:0\] (stage-2 faults).
    pub ipa: u64,
}

impl InstructionAbort {
    /// Decodes an instruction abort ISS.
    pub const fn from_iss(iss: u32, from_lower_el: bool, far: u64, hpfar: u64) -> Self {
        InstructionAbort {
            from_lower_el,
            fnv: iss & (1 << 10) != 0,
            ea: iss & (1 << 9) != 0,
            s1ptw: iss & (1 << 7) != 0,
            ifsc: (iss & 0x3F) as u8,
            far,
            ipa: fault_ipa(far, hpfar),
        }
    }

    /// The decoded fault status.
    pub const fn status(&self) -> FaultStatus {
        FaultStatus::decode(self.ifsc)
    }
}
