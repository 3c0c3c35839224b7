//! What the CPU implements, read once per CPU at boot, and the EL2 trap registers that
//! depend on it (CPTR_EL2.TAM, MDCR_EL2, HCRX_EL2, HCR_EL2.TERR/TLOR).
//!
//! Why at run time: the same image runs on CPUs with and without pointer
//! authentication, SME, a PMU, activity monitors, RAS or LOR. A register of a missing
//! feature is UNDEFINED even at EL2 (touching it would crash the hypervisor), and a trap
//! bit of a missing feature is RES0, so both the world switch (`el1`) and the trap
//! set-up ask here first. The values never change after boot; every CPU stores the
//! same ones (the board's CPUs are one kind), so relaxed atomics are enough.
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hv_core::sysdesc::PmuAccess;
use hv_core::trap::SysReg;
use hv_core::trap::debug::Comparators;

static PAUTH: AtomicBool = AtomicBool::new(false);
static SME: AtomicBool = AtomicBool::new(false);
static AMU: AtomicBool = AtomicBool::new(false);
static PMU: AtomicBool = AtomicBool::new(false);
static DFR0: AtomicU64 = AtomicU64::new(0);
static HCR_EXTRA: AtomicU64 = AtomicU64::new(0);
static MDCR: AtomicU64 = AtomicU64::new(0);

macro_rules! mrs {
    ($name:literal) => {{
        let v: u64;
        // SAFETY: the feature-ID space (op0=3, op1=0, CRn=0, CRm=1..7) is readable at
        // EL2 on every Armv8-A CPU, unallocated encodings reading as zero.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

/// The hardware value of an ID register of the VMs' sanitised set
/// (`hv_core::trap::idreg::SHOWN`); zero for any other encoding, which is not read.
pub fn read_id(reg: SysReg) -> u64 {
    match (reg.crm, reg.op2) {
        (4, 0) => mrs!("id_aa64pfr0_el1"),
        (4, 1) => mrs!("id_aa64pfr1_el1"),
        (5, 0) => mrs!("id_aa64dfr0_el1"),
        (6, 0) => mrs!("id_aa64isar0_el1"),
        (6, 1) => mrs!("id_aa64isar1_el1"),
        (6, 2) => mrs!("s3_0_c0_c6_2"),
        (7, 0) => mrs!("id_aa64mmfr0_el1"),
        (7, 1) => mrs!("id_aa64mmfr1_el1"),
        (7, 2) => mrs!("id_aa64mmfr2_el1"),
        // The AArch32 ID registers (defined on every ARMv8-A CPU, UNKNOWN without AArch32).
        (1, 0) => mrs!("s3_0_c0_c1_0"),
        (1, 1) => mrs!("s3_0_c0_c1_1"),
        (1, 2) => mrs!("s3_0_c0_c1_2"),
        (1, 4) => mrs!("s3_0_c0_c1_4"),
        (1, 5) => mrs!("s3_0_c0_c1_5"),
        (1, 6) => mrs!("s3_0_c0_c1_6"),
        (1, 7) => mrs!("s3_0_c0_c1_7"),
        (2, 0) => mrs!("s3_0_c0_c2_0"),
        (2, 1) => mrs!("s3_0_c0_c2_1"),
        (2, 2) => mrs!("s3_0_c0_c2_2"),
        (2, 3) => mrs!("s3_0_c0_c2_3"),
        (2, 4) => mrs!("s3_0_c0_c2_4"),
        (2, 5) => mrs!("s3_0_c0_c2_5"),
        (2, 6) => mrs!("s3_0_c0_c2_6"),
        (2, 7) => mrs!("s3_0_c0_c2_7"),
        (3, 0) => mrs!("s3_0_c0_c3_0"),
        (3, 1) => mrs!("s3_0_c0_c3_1"),
        (3, 2) => mrs!("s3_0_c0_c3_2"),
        (3, 4) => mrs!("s3_0_c0_c3_4"),
        (3, 6) => mrs!("s3_0_c0_c3_6"),
        _ => 0,
    }
}

fn field(v: u64, shift: u32) -> u64 {
    (v >> shift) & 0xF
}

/// Whether the CPU runs AArch32 at EL0 (ID_AA64PFR0_EL1.EL0 = 2).
pub fn aarch32_el0() -> bool {
    field(mrs!("id_aa64pfr0_el1"), 0) == 2
}

/// Whether the CPU has pointer authentication (then the five key pairs are switched).
pub fn pauth() -> bool {
    PAUTH.load(Ordering::Relaxed)
}

/// Whether the CPU has a PMUv3 (a VM with `pmu = "virtual"` needs it: its registers are
/// moved at every switch).
pub fn pmu() -> bool {
    PMU.load(Ordering::Relaxed)
}

/// Whether the CPU has SME (then TPIDR2_EL0, which no CPTR_EL2 bit traps, is switched).
pub fn sme() -> bool {
    SME.load(Ordering::Relaxed)
}

/// CPTR_EL2.TAM if the CPU has activity monitors, else 0 (the bit is RES0 then).
pub fn cptr_tam() -> u64 {
    if AMU.load(Ordering::Relaxed) {
        1 << 30
    } else {
        0
    }
}

/// The hardware's breakpoint and watchpoint counts.
pub fn comparators() -> Comparators {
    Comparators::from_dfr0(DFR0.load(Ordering::Relaxed))
}

/// HCR_EL2 bits that exist only with a feature: TERR (bit 36, RAS error records trap)
/// and TLOR (bit 35, LOR registers trap).
pub fn hcr_extra() -> u64 {
    HCR_EXTRA.load(Ordering::Relaxed)
}

/// CPTR_EL2 with E2H=0: RES1 bits, TZ (SVE traps, the bit is RES1 without SVE), TSM
/// (SME traps, likewise), TTA (trace registers trap); TFP clear (the world switch
/// moves FP/SIMD state; EL2 uses it for that). TAM is added when present.
#[cfg(not(feature = "vhe"))]
pub const CPTR_EL2_NVHE: u64 = 0x33ff | (1 << 20);

/// Reads this CPU's features and sets the trap registers that depend on them:
/// CPTR_EL2 (TAM), MDCR_EL2 and HCRX_EL2; quiesces the PMU. Call on every CPU before
/// its first guest runs.
pub fn init_cpu() {
    let pfr0 = read_id(SysReg::ID_AA64PFR0_EL1);
    let pfr1 = read_id(SysReg::ID_AA64PFR1_EL1);
    let dfr0 = read_id(SysReg::ID_AA64DFR0_EL1);
    let isar1 = read_id(SysReg::ID_AA64ISAR1_EL1);
    let isar2 = read_id(SysReg::ID_AA64ISAR2_EL1);
    let mmfr1 = read_id(SysReg::ID_AA64MMFR1_EL1);
    let pauth = [4, 8, 24, 28].iter().any(|&s| field(isar1, s) != 0)
        || [8, 12].iter().any(|&s| field(isar2, s) != 0);
    PAUTH.store(pauth, Ordering::Relaxed);
    SME.store(field(pfr1, 24) != 0, Ordering::Relaxed);
    AMU.store(field(pfr0, 44) != 0, Ordering::Relaxed);
    DFR0.store(dfr0, Ordering::Relaxed);
    let mut hcr = 0;
    if field(pfr0, 28) != 0 {
        hcr |= 1 << 36;
    }
    if field(mmfr1, 16) != 0 {
        hcr |= 1 << 35;
    }
    HCR_EXTRA.store(hcr, Ordering::Relaxed);

    #[cfg(not(feature = "vhe"))]
    let cptr = CPTR_EL2_NVHE | cptr_tam();
    #[cfg(feature = "vhe")]
    let cptr = super::vhe::cptr_el2(false);
    // SAFETY: CPTR_EL2 decides which FP/SVE/SME/trace/AMU accesses of EL0..EL2 trap;
    // this value traps none at EL2 that the hypervisor makes (it uses FP only to switch
    // guests' registers, never SVE, SME, trace or AMU).
    unsafe { asm!("msr cptr_el2, {}", "isb", in(reg) cptr, options(nomem, nostack)) };

    let pmu = matches!(field(dfr0, 8), 1..=0xE);
    PMU.store(pmu, Ordering::Relaxed);
    let mut mdcr = MDCR_TDRA | MDCR_TDOSA | MDCR_TDA;
    if pmu {
        mdcr |= MDCR_TPM | MDCR_TPMCR | quiesce_pmu();
        let ver = field(dfr0, 8);
        let mut quiet = 0;
        if ver >= 4 {
            quiet |= MDCR_HPMD;
        }
        if ver >= 6 {
            quiet |= MDCR_HCCD;
        }
        MDCR_EL2_QUIET.store(quiet, Ordering::Relaxed);
    }
    if field(dfr0, 32) != 0 {
        mdcr |= MDCR_TPMS;
    }
    if field(dfr0, 40) != 0 {
        mdcr |= MDCR_TTRF;
    }
    MDCR.store(mdcr, Ordering::Relaxed);
    set_pmu_access(PmuAccess::Hidden);

    if field(mmfr1, 40) != 0 {
        // SAFETY: HCRX_EL2 (present with FEAT_HCX) = 0 enables none of its EL0/EL1
        // features (LS64 accesses, MOPS, NMI, …) and traps what it can; it has no
        // effect on EL2 itself.
        unsafe { asm!("msr s3_4_c1_c2_2, xzr", "isb", options(nomem, nostack)) };
    }
}

/// Sets MDCR_EL2 for the vCPU about to run: the PMU trapped (hidden), passed through to a
/// VM configured to share it (`pmu = "shared"`), or the vCPU's own PMU (`"virtual"`:
/// passed through, with counting at EL2 prohibited — HPMD for the event counters from
/// PMUv3p1, HCCD for the cycle counter from PMUv3p5 — so that the hypervisor's work,
/// other guests' included, never shows in a guest's counters). The ERET into the guest
/// synchronises the write.
pub fn set_pmu_access(access: PmuAccess) {
    let mut mdcr = MDCR.load(Ordering::Relaxed);
    match access {
        PmuAccess::Hidden => {}
        PmuAccess::Shared => mdcr &= !(MDCR_TPM | MDCR_TPMCR),
        PmuAccess::Virtual => {
            mdcr &= !(MDCR_TPM | MDCR_TPMCR);
            mdcr |= MDCR_EL2_QUIET.load(Ordering::Relaxed);
        }
    }
    // SAFETY: MDCR_EL2 only selects which debug, PMU, SPE and trace accesses of EL0/EL1
    // trap to EL2 and which counters are the guests'; E2PB = E2TB = 0b00 keep the
    // profiling and trace buffers EL2's (EL1 accesses trap); TDE = 0 leaves a guest's
    // debug exceptions at its EL1; the hypervisor does not use the PMU.
    unsafe { asm!("msr mdcr_el2, {}", in(reg) mdcr, options(nomem, nostack)) };
}

/// MDCR_EL2.HPMD and/or HCCD as the PMU version has them (set at boot).
static MDCR_EL2_QUIET: AtomicU64 = AtomicU64::new(0);
/// MDCR_EL2.HPMD: event counters do not count at EL2 (PMUv3p1).
const MDCR_HPMD: u64 = 1 << 17;
/// MDCR_EL2.HCCD: the cycle counter does not count at EL2 (PMUv3p5).
const MDCR_HCCD: u64 = 1 << 23;

/// MDCR_EL2.TPMCR: PMCR_EL0 accesses trap.
const MDCR_TPMCR: u64 = 1 << 5;
/// MDCR_EL2.TPM: every PMU register access traps.
const MDCR_TPM: u64 = 1 << 6;
/// MDCR_EL2.TDA: debug register accesses trap.
const MDCR_TDA: u64 = 1 << 9;
/// MDCR_EL2.TDOSA: OS lock and power-down debug register accesses trap.
const MDCR_TDOSA: u64 = 1 << 10;
/// MDCR_EL2.TDRA: MDRAR_EL1 accesses trap.
const MDCR_TDRA: u64 = 1 << 11;
/// MDCR_EL2.TPMS: statistical profiling (SPE) accesses trap.
const MDCR_TPMS: u64 = 1 << 14;
/// MDCR_EL2.TTRF: trace filter (TRFCR_EL1) accesses trap.
const MDCR_TTRF: u64 = 1 << 19;

/// Stops and clears the PMU (no VM can reach it: TPM), and returns MDCR_EL2.HPMN =
/// PMCR_EL0.N (all event counters in the first range; HPMN = 0 would be CONSTRAINED
/// UNPREDICTABLE without FEAT_HPMN0).
fn quiesce_pmu() -> u64 {
    let pmcr: u64;
    // SAFETY: the CPU implements PMUv3 (checked by the caller). Clearing PMCR_EL0.E and
    // every enable, interrupt enable and overflow flag, and resetting the counters (C,
    // P), stops all counting; the hypervisor does not use the PMU.
    unsafe {
        asm!(
            "mrs {p}, pmcr_el0",
            "bic {t}, {p}, #1",
            "orr {t}, {t}, #6",
            "msr pmcr_el0, {t}",
            "mov {t}, #-1",
            "msr pmcntenclr_el0, {t}",
            "msr pmintenclr_el1, {t}",
            "msr pmovsclr_el0, {t}",
            "msr pmuserenr_el0, xzr",
            "msr pmselr_el0, xzr",
            "isb",
            p = out(reg) pmcr, t = out(reg) _,
            options(nomem, nostack),
        );
    }
    (pmcr >> 11) & 0x1F
}
