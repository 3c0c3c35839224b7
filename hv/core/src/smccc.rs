//! SMC Calling Convention function identifiers and the architecture service calls.
//!
//! Why: PSCI, the Arm architecture calls and the project's own hypercalls all share one
//! calling convention; the dispatcher routes a call by the owning entity in its function
//! ID before a service decodes it. Spec: Arm DEN 0028 (SMCCC) v1.1+, "Function
//! Identifier" (bit 31 fast call, bit 30 SMC64, bits \[29:24\] owning entity, bits
//! \[15:0\] function number), "Arm Architecture Calls" (SMCCC_VERSION,
//! SMCCC_ARCH_FEATURES).
//!
//! Invariant: an unknown function ID always gets `NOT_SUPPORTED` (-1) in x0, and the
//! hypervisor never claims a workaround (ARCH_WORKAROUND_*) it does not perform.

/// SMCCC return: success.
pub const SUCCESS: i64 = 0;
/// SMCCC return: unknown function / not supported.
pub const NOT_SUPPORTED: i64 = -1;

/// `SMCCC_VERSION` (returns the SMCCC version).
pub const SMCCC_VERSION: u32 = 0x8000_0000;
/// `SMCCC_ARCH_FEATURES` (w1 = a function ID: is it implemented?).
pub const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
/// `SMCCC_ARCH_SOC_ID`.
pub const SMCCC_ARCH_SOC_ID: u32 = 0x8000_0002;
/// `SMCCC_ARCH_WORKAROUND_1` (Spectre v2).
pub const SMCCC_ARCH_WORKAROUND_1: u32 = 0x8000_8000;
/// `SMCCC_ARCH_WORKAROUND_2` (Spectre v4).
pub const SMCCC_ARCH_WORKAROUND_2: u32 = 0x8000_7FFF;
/// `SMCCC_ARCH_WORKAROUND_3` (Spectre-BHB).
pub const SMCCC_ARCH_WORKAROUND_3: u32 = 0x8000_3FFF;
/// The SMCCC version this hypervisor implements: 1.1 (`major << 16 | minor`).
pub const VERSION_1_1: i64 = 0x1_0001;

/// Owning entity numbers (bits \[29:24\] of a function ID).
pub mod owner {
    /// Arm architecture calls.
    pub const ARCH: u8 = 0;
    /// CPU service calls.
    pub const CPU: u8 = 1;
    /// SiP service calls.
    pub const SIP: u8 = 2;
    /// OEM service calls.
    pub const OEM: u8 = 3;
    /// Standard secure service calls (PSCI lives here).
    pub const STANDARD: u8 = 4;
    /// Standard hypervisor service calls.
    pub const STANDARD_HYP: u8 = 5;
    /// Vendor-specific hypervisor service calls (the project's hypercalls).
    pub const VENDOR_HYP: u8 = 6;
}

/// A function identifier (w0 of a call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionId(pub u32);

impl FunctionId {
    /// Takes the function ID from x0 (only w0 counts).
    pub const fn from_x0(x0: u64) -> FunctionId {
        FunctionId(x0 as u32)
    }
    /// Bit 31: fast call (yielding calls have it clear).
    pub const fn is_fast(self) -> bool {
        self.0 & (1 << 31) != 0
    }
    /// Bit 30: SMC64/HVC64 calling convention (arguments are full X registers).
    pub const fn is_64(self) -> bool {
        self.0 & (1 << 30) != 0
    }
    /// Bits \[29:24\]: owning entity.
    pub const fn owner(self) -> u8 {
        ((self.0 >> 24) & 0x3F) as u8
    }
    /// Bits \[15:0\]: function number.
    pub const fn number(self) -> u16 {
        self.0 as u16
    }
    /// The function ID with the SMC64 bit cleared (to compare 32/64 variants at once).
    pub const fn as_32(self) -> u32 {
        self.0 & !(1 << 30)
    }
    /// An argument register as the convention passes it: truncated to 32 bits for
    /// SMC32 calls.
    pub const fn arg(self, x: u64) -> u64 {
        if self.is_64() { x } else { x & 0xFFFF_FFFF }
    }
}

/// An Arm architecture call (owner 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchCall {
    /// `SMCCC_VERSION`.
    Version,
    /// `SMCCC_ARCH_FEATURES(fid)`.
    Features {
        /// The function ID asked about.
        fid: u32,
    },
    /// Any other architecture call (SOC_ID, workarounds, …).
    Other(u32),
}

impl ArchCall {
    /// Decodes an architecture call from x0 and x1 (`None` if x0 is not owner 0 fast).
    pub const fn decode(x0: u64, x1: u64) -> Option<ArchCall> {
        let fid = FunctionId::from_x0(x0);
        if !fid.is_fast() || fid.owner() != owner::ARCH {
            return None;
        }
        Some(match fid.0 {
            SMCCC_VERSION => ArchCall::Version,
            SMCCC_ARCH_FEATURES => ArchCall::Features { fid: x1 as u32 },
            other => ArchCall::Other(other),
        })
    }

    /// The x0 reply. `implemented` says whether a function ID outside the architecture
    /// range is implemented (PSCI and hypercalls answer that themselves); architecture
    /// workarounds are reported NOT_SUPPORTED since the hypervisor performs none.
    pub fn reply(self, implemented: impl Fn(u32) -> bool) -> i64 {
        match self {
            ArchCall::Version => VERSION_1_1,
            ArchCall::Features { fid } => match fid {
                SMCCC_VERSION | SMCCC_ARCH_FEATURES => SUCCESS,
                f if FunctionId(f).owner() == owner::ARCH => NOT_SUPPORTED,
                f if implemented(f) => SUCCESS,
                _ => NOT_SUPPORTED,
            },
            ArchCall::Other(_) => NOT_SUPPORTED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_id_fields() {
        let f = FunctionId::from_x0(0xFFFF_FFFF_C400_0003);
        assert!(f.is_fast() && f.is_64());
        assert_eq!((f.owner(), f.number(), f.as_32()), (4, 3, 0x8400_0003));
        assert_eq!(f.arg(0x1_0000_0002), 0x1_0000_0002);
        let f = FunctionId(0x8400_0003);
        assert!(!f.is_64());
        assert_eq!(f.arg(0x1_0000_0002), 2);
        assert_eq!(FunctionId(0xC600_0001).owner(), owner::VENDOR_HYP);
    }

    #[test]
    fn arch_calls() {
        let none = |_| false;
        assert_eq!(
            ArchCall::decode(0x8000_0000, 0).unwrap().reply(none),
            0x1_0001
        );
        let feat = |fid: u32| ArchCall::decode(0x8000_0001, fid as u64).unwrap();
        assert_eq!(feat(SMCCC_VERSION).reply(none), SUCCESS);
        assert_eq!(feat(SMCCC_ARCH_FEATURES).reply(none), SUCCESS);
        assert_eq!(feat(SMCCC_ARCH_WORKAROUND_1).reply(|_| true), NOT_SUPPORTED);
        assert_eq!(feat(SMCCC_ARCH_WORKAROUND_2).reply(none), NOT_SUPPORTED);
        assert_eq!(feat(SMCCC_ARCH_SOC_ID).reply(none), NOT_SUPPORTED);
        assert_eq!(feat(0x8400_0000).reply(|f| f == 0x8400_0000), SUCCESS);
        assert_eq!(feat(0x8400_0000).reply(none), NOT_SUPPORTED);
        assert_eq!(
            ArchCall::decode(SMCCC_ARCH_WORKAROUND_1 as u64, 0)
                .unwrap()
                .reply(none),
            NOT_SUPPORTED
        );
        assert_eq!(ArchCall::decode(0x8400_0000, 0), None);
        assert_eq!(ArchCall::decode(0x0000_0000, 0), None, "yielding call");
    }
}
