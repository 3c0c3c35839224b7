//! A vCPU's self-hosted debug state, emulated: MDCR_EL2.TDA, TDOSA and TDRA trap every
//! debug register access of a guest to the hypervisor, which keeps the values here.
//!
//! Why emulate instead of passing the registers through: a guest's breakpoint or
//! watchpoint registers must never reach another VM (they are per vCPU here and cleared
//! at reset), and a guest must not program a comparator that matches at EL2 or on
//! another VM's VMID (HMC, SSC and the VMID/EL2 context types are kept out of the
//! hardware copy, [`VDebug::hw_bcr`], [`VDebug::hw_wcr`]). Debug register accesses are
//! rare (a kernel sets them up at boot and when a debugger asks), so a trap per access
//! costs nothing that matters; what a vCPU programmed is loaded into the hardware only
//! while it runs and only if some comparator is enabled ([`VDebug::active`]), so a VM
//! switch between VMs that use no breakpoints touches no debug register.
//!
//! Emulated: DBGBVR/BCR/WVR/WCR<n>_EL1 for the comparators the hardware has (others are
//! UNDEFINED), MDSCR_EL1 (the arch reads and writes the loaded guest's; SS, TDCC, KDE,
//! MDE writable), MDCCINT_EL1, the claim tags, the OS lock (OSLAR/OSLSR: while it is set
//! the vCPU's comparators are not loaded), DBGPRCR_EL1.CORENPDRQ. RAZ/WI: OSDLR_EL1 (no
//! double lock is shown), OSECCR_EL1, OSDTRRX/TX_EL1, the DCC registers (no external
//! debugger exists: MDCCSR_EL0 reads zero, DBGDTR* RAZ/WI). MDRAR_EL1 reads zero (no ROM
//! table). DBGAUTHSTATUS_EL1 reads "non-secure invasive and non-invasive debug
//! implemented and enabled".
//!
//! Spec: Arm ARM (DDI 0487), chapter D2 "AArch64 Self-hosted Debug" and the register
//! descriptions of DBGBCR<n>_EL1, DBGWCR<n>_EL1, OSLSR_EL1, DBGAUTHSTATUS_EL1.

use super::sysreg::SysReg;

/// Most breakpoints and watchpoints the Arm ARM allows without FEAT_Debugv8p9.
pub const MAX_COMPARATORS: usize = 16;

/// A debug register a guest reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugReg {
    /// DBGBVR<n>_EL1.
    Bvr(u8),
    /// DBGBCR<n>_EL1.
    Bcr(u8),
    /// DBGWVR<n>_EL1.
    Wvr(u8),
    /// DBGWCR<n>_EL1.
    Wcr(u8),
    /// MDSCR_EL1 (kept in the guest's EL1 context).
    Mdscr,
    /// MDCCINT_EL1.
    Mdccint,
    /// DBGCLAIMSET_EL1.
    ClaimSet,
    /// DBGCLAIMCLR_EL1.
    ClaimClr,
    /// DBGAUTHSTATUS_EL1 (read-only).
    AuthStatus,
    /// OSLAR_EL1 (write-only).
    Oslar,
    /// OSLSR_EL1 (read-only).
    Oslsr,
    /// DBGPRCR_EL1.
    Dbgprcr,
    /// MDRAR_EL1 (read-only).
    Mdrar,
    /// OSDLR_EL1, OSECCR_EL1, OSDTRRX/TX_EL1, MDCCSR_EL0, DBGDTR*_EL0: RAZ/WI.
    RazWi,
}

impl DebugReg {
    /// The debug register `r` names, if any.
    pub fn decode(r: SysReg) -> Option<DebugReg> {
        if r.op0 != 2 {
            return None;
        }
        if (r.op1, r.crn) == (0, 0) && r.op2 >= 4 {
            let n = r.crm;
            return Some(match r.op2 {
                4 => DebugReg::Bvr(n),
                5 => DebugReg::Bcr(n),
                6 => DebugReg::Wvr(n),
                _ => DebugReg::Wcr(n),
            });
        }
        Some(match r {
            SysReg::MDSCR_EL1 => DebugReg::Mdscr,
            SysReg::MDCCINT_EL1 => DebugReg::Mdccint,
            SysReg::DBGCLAIMSET_EL1 => DebugReg::ClaimSet,
            SysReg::DBGCLAIMCLR_EL1 => DebugReg::ClaimClr,
            SysReg::DBGAUTHSTATUS_EL1 => DebugReg::AuthStatus,
            SysReg::OSLAR_EL1 => DebugReg::Oslar,
            SysReg::OSLSR_EL1 => DebugReg::Oslsr,
            SysReg::DBGPRCR_EL1 => DebugReg::Dbgprcr,
            SysReg::MDRAR_EL1 => DebugReg::Mdrar,
            SysReg::OSDLR_EL1
            | SysReg::OSECCR_EL1
            | SysReg::OSDTRRX_EL1
            | SysReg::OSDTRTX_EL1
            | SysReg::MDCCSR_EL0
            | SysReg::DBGDTR_EL0
            | SysReg::DBGDTRRX_EL0 => DebugReg::RazWi,
            _ => return None,
        })
    }
}

/// What an emulated access does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebugOutcome {
    /// The read returns this.
    Read(u64),
    /// Written (or ignored); `reload` says the hardware comparators of the loaded vCPU
    /// must be loaded again ([`VDebug::active`] may have changed).
    Written {
        /// The comparators changed.
        reload: bool,
    },
    /// MDSCR_EL1: the arch reads the loaded guest's.
    ReadMdscr,
    /// MDSCR_EL1: the arch writes this (already masked) to the loaded guest's.
    WriteMdscr(u64),
    /// The register does not exist for this vCPU (or a read-only one is written, a
    /// write-only one read): UNDEFINED.
    Undefined,
}

/// The comparators the hardware has (ID_AA64DFR0_EL1.BRPs + 1, WRPs + 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparators {
    /// Breakpoints.
    pub breakpoints: u8,
    /// Watchpoints.
    pub watchpoints: u8,
}

impl Comparators {
    /// From the hardware's ID_AA64DFR0_EL1.
    pub const fn from_dfr0(dfr0: u64) -> Comparators {
        Comparators {
            breakpoints: ((dfr0 >> 12) & 0xF) as u8 + 1,
            watchpoints: ((dfr0 >> 20) & 0xF) as u8 + 1,
        }
    }
}

/// MDSCR_EL1 bits a guest may set: SS, TDCC, KDE, MDE (halting debug stays off: there
/// is no external debugger).
pub const MDSCR_WRITABLE: u64 = (1 << 0) | (1 << 12) | (1 << 13) | (1 << 15);

/// DBGBCR fields kept: E, PMC, BAS, HMC, SSC, LBN, BT (the rest is RES0).
const BCR_FIELDS: u64 = 0x00FF_E1E7;
/// DBGWCR fields kept: E, PAC, LSC, BAS, HMC, SSC, LBN, WT, MASK.
const WCR_FIELDS: u64 = 0x1F1F_FFFF;
/// HMC and SSC: never in the hardware copy (no EL2 or Secure matching).
const HMC_SSC: u64 = 0xE000;

/// One vCPU's debug registers. All zero at reset (comparators disabled, OS lock clear).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VDebug {
    bvr: [u64; MAX_COMPARATORS],
    /// As written (masked to its fields).
    bcr: [u64; MAX_COMPARATORS],
    wvr: [u64; MAX_COMPARATORS],
    /// As written (masked to its fields).
    wcr: [u64; MAX_COMPARATORS],
    mdccint: u64,
    claim: u8,
    os_lock: bool,
    dbgprcr: u64,
    /// [`VDebug::active`], kept up to date by every write: the world switch asks on
    /// every switch, so it must not scan the comparators.
    active: bool,
}

impl Default for VDebug {
    fn default() -> Self {
        VDebug::RESET
    }
}

impl VDebug {
    /// The reset state.
    pub const RESET: VDebug = VDebug {
        bvr: [0; MAX_COMPARATORS],
        bcr: [0; MAX_COMPARATORS],
        wvr: [0; MAX_COMPARATORS],
        wcr: [0; MAX_COMPARATORS],
        mdccint: 0,
        claim: 0,
        os_lock: false,
        dbgprcr: 0,
        active: false,
    };

    /// Emulates an access: `value` is what an MSR writes (ignored for reads).
    pub fn access(
        &mut self,
        reg: DebugReg,
        read: bool,
        value: u64,
        c: Comparators,
    ) -> DebugOutcome {
        use DebugOutcome::{Read, ReadMdscr, Undefined, WriteMdscr, Written};
        let comparator = |n: u8, count: u8| (n < count).then_some(n as usize);
        let ok = Written { reload: false };
        match reg {
            DebugReg::Bvr(n) | DebugReg::Bcr(n) | DebugReg::Wvr(n) | DebugReg::Wcr(n) => {
                let count = match reg {
                    DebugReg::Bvr(_) | DebugReg::Bcr(_) => c.breakpoints,
                    _ => c.watchpoints,
                };
                let Some(i) = comparator(n, count) else {
                    return Undefined;
                };
                let (slot, mask) = match reg {
                    DebugReg::Bvr(_) => (&mut self.bvr[i], u64::MAX),
                    DebugReg::Bcr(_) => (&mut self.bcr[i], BCR_FIELDS),
                    DebugReg::Wvr(_) => (&mut self.wvr[i], u64::MAX),
                    _ => (&mut self.wcr[i], WCR_FIELDS),
                };
                if read {
                    return Read(*slot);
                }
                *slot = value & mask;
                self.update_active();
                Written { reload: true }
            }
            DebugReg::Mdscr if read => ReadMdscr,
            DebugReg::Mdscr => WriteMdscr(value & MDSCR_WRITABLE),
            DebugReg::Mdccint if read => Read(self.mdccint),
            DebugReg::Mdccint => {
                self.mdccint = value & ((1 << 29) | (1 << 30));
                ok
            }
            // Reading CLAIMSET shows which tags exist (all eight); CLAIMCLR the set ones.
            DebugReg::ClaimSet if read => Read(0xFF),
            DebugReg::ClaimSet => {
                self.claim |= value as u8;
                ok
            }
            DebugReg::ClaimClr if read => Read(self.claim as u64),
            DebugReg::ClaimClr => {
                self.claim &= !(value as u8);
                ok
            }
            // NSID = NSNID = 0b11: non-secure debug implemented and enabled.
            DebugReg::AuthStatus if read => Read(0xF),
            DebugReg::Oslar if !read => {
                self.os_lock = value & 1 != 0;
                self.update_active();
                Written { reload: true }
            }
            // OSLM = 0b10 (the OS lock is implemented), OSLK.
            DebugReg::Oslsr if read => Read((1 << 3) | ((self.os_lock as u64) << 1)),
            DebugReg::Dbgprcr if read => Read(self.dbgprcr),
            DebugReg::Dbgprcr => {
                self.dbgprcr = value & 1;
                ok
            }
            DebugReg::Mdrar if read => Read(0),
            DebugReg::RazWi if read => Read(0),
            DebugReg::RazWi => ok,
            DebugReg::AuthStatus | DebugReg::Oslar | DebugReg::Oslsr | DebugReg::Mdrar => Undefined,
        }
    }

    /// Whether any comparator is enabled (and the OS lock clear): only then are this
    /// vCPU's comparators loaded into the hardware while it runs.
    pub fn active(&self) -> bool {
        self.active
    }

    fn update_active(&mut self) {
        self.active = !self.os_lock
            && (self.bcr.iter().any(|b| b & 1 != 0) || self.wcr.iter().any(|w| w & 1 != 0));
    }

    /// DBGBVR<n>_EL1.
    pub fn bvr(&self, n: usize) -> u64 {
        self.bvr[n]
    }

    /// DBGWVR<n>_EL1.
    pub fn wvr(&self, n: usize) -> u64 {
        self.wvr[n]
    }

    /// The DBGBCR<n>_EL1 value the hardware gets: no EL2 or Secure matching (HMC, SSC
    /// zero), and disabled unless it matches at EL1 and/or EL0 (PMC ≠ 0) with an
    /// address, context-ID or mismatch type (BT 0b0000..0b0101): VMID and
    /// CONTEXTIDR_EL2 types would compare the hypervisor's state.
    pub fn hw_bcr(&self, n: usize) -> u64 {
        let b = self.bcr[n] & !HMC_SSC;
        let pmc = (b >> 1) & 3;
        let bt = (b >> 20) & 0xF;
        if pmc == 0 || bt > 0b0101 { b & !1 } else { b }
    }

    /// The DBGWCR<n>_EL1 value the hardware gets: HMC and SSC zero, disabled unless PAC
    /// (the privilege it matches at) is set.
    pub fn hw_wcr(&self, n: usize) -> u64 {
        let w = self.wcr[n] & !HMC_SSC;
        if (w >> 1) & 3 == 0 { w & !1 } else { w }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Comparators = Comparators {
        breakpoints: 6,
        watchpoints: 4,
    };

    fn bcr(n: u8) -> SysReg {
        SysReg::new(2, 0, 0, n, 5)
    }

    #[test]
    fn decodes_the_debug_space() {
        assert_eq!(DebugReg::decode(bcr(3)), Some(DebugReg::Bcr(3)));
        assert_eq!(
            DebugReg::decode(SysReg::new(2, 0, 0, 15, 6)),
            Some(DebugReg::Wvr(15))
        );
        assert_eq!(DebugReg::decode(SysReg::OSLAR_EL1), Some(DebugReg::Oslar));
        assert_eq!(DebugReg::decode(SysReg::MDSCR_EL1), Some(DebugReg::Mdscr));
        assert_eq!(DebugReg::decode(SysReg::OSDLR_EL1), Some(DebugReg::RazWi));
        assert_eq!(DebugReg::decode(SysReg::ID_AA64DFR0_EL1), None);
        assert_eq!(DebugReg::decode(SysReg::new(2, 0, 1, 5, 4)), None);
    }

    #[test]
    fn comparators_are_per_vcpu_and_bounded() {
        let mut d = VDebug::RESET;
        let w = d.access(DebugReg::Bvr(5), false, 0x4000_1000, C);
        assert_eq!(w, DebugOutcome::Written { reload: true });
        assert_eq!(
            d.access(DebugReg::Bvr(5), true, 0, C),
            DebugOutcome::Read(0x4000_1000)
        );
        assert_eq!(
            d.access(DebugReg::Bvr(6), false, 1, C),
            DebugOutcome::Undefined
        );
        assert_eq!(
            d.access(DebugReg::Wcr(4), true, 0, C),
            DebugOutcome::Undefined
        );
        // A second vCPU sees nothing of the first's.
        let mut other = VDebug::RESET;
        assert_eq!(
            other.access(DebugReg::Bvr(5), true, 0, C),
            DebugOutcome::Read(0)
        );
    }

    #[test]
    fn the_hardware_never_matches_at_el2() {
        let mut d = VDebug::RESET;
        // E, PMC = EL1+EL0, BAS, HMC, SSC = 0b11.
        d.access(
            DebugReg::Bcr(0),
            false,
            0x1 | (3 << 1) | (0xF << 5) | HMC_SSC,
            C,
        );
        assert!(d.active());
        assert_eq!(d.hw_bcr(0) & HMC_SSC, 0);
        assert_eq!(d.hw_bcr(0) & 1, 1);
        // PMC = 0 with HMC: EL2 only — not loaded enabled.
        d.access(DebugReg::Bcr(1), false, 0x1 | (1 << 13), C);
        assert_eq!(d.hw_bcr(1) & 1, 0);
        // A VMID-match type stays disabled in the hardware.
        d.access(DebugReg::Bcr(2), false, 0x1 | (3 << 1) | (0b1000 << 20), C);
        assert_eq!(d.hw_bcr(2) & 1, 0);
        // Watchpoint with PAC = 0 matches nothing architecturally useful: disabled.
        d.access(DebugReg::Wcr(0), false, 0x1 | HMC_SSC, C);
        assert_eq!(d.hw_wcr(0), 0);
        d.access(DebugReg::Wcr(0), false, 0x1 | (2 << 1) | (0xFF << 5), C);
        assert_eq!(d.hw_wcr(0) & 1, 1);
    }

    #[test]
    fn os_lock_and_fixed_registers() {
        let mut d = VDebug::RESET;
        d.access(DebugReg::Bcr(0), false, 0x7, C);
        assert!(d.active());
        d.access(DebugReg::Oslar, false, 1, C);
        assert_eq!(
            d.access(DebugReg::Oslsr, true, 0, C),
            DebugOutcome::Read(0b1010)
        );
        assert!(!d.active(), "the OS lock holds the comparators off");
        d.access(DebugReg::Oslar, false, 0, C);
        assert_eq!(
            d.access(DebugReg::Oslsr, true, 0, C),
            DebugOutcome::Read(0b1000)
        );
        assert_eq!(
            d.access(DebugReg::Oslsr, false, 0, C),
            DebugOutcome::Undefined
        );
        assert_eq!(
            d.access(DebugReg::Oslar, true, 0, C),
            DebugOutcome::Undefined
        );
        assert_eq!(d.access(DebugReg::Mdrar, true, 0, C), DebugOutcome::Read(0));
        assert_eq!(d.access(DebugReg::RazWi, true, 0, C), DebugOutcome::Read(0));
        assert_eq!(
            d.access(DebugReg::Mdscr, false, u64::MAX, C),
            DebugOutcome::WriteMdscr(MDSCR_WRITABLE)
        );
        d.access(DebugReg::ClaimSet, false, 0x5, C);
        d.access(DebugReg::ClaimClr, false, 0x1, C);
        assert_eq!(
            d.access(DebugReg::ClaimClr, true, 0, C),
            DebugOutcome::Read(0x4)
        );
        assert_eq!(
            Comparators::from_dfr0(0x0000_0009_f031_5096),
            Comparators {
                breakpoints: 6,
                watchpoints: 4
            }
        );
    }
}
