//! The plain data of a vCPU that the arch glue saves and loads: general registers, the
//! EL1 context, FP/SIMD registers, the virtual CPU interface. One definition serves the
//! aarch64 modules (which move it with `mrs`/`msr` and the vectors) and the host's
//! simulated machine (`fake`), so the two can never disagree on what a vCPU holds.
use hv_core::trap::debug::VDebug;

/// x0..x30, ELR_EL2 and SPSR_EL2 of a vCPU. Layout shared with `vectors.rs`.
#[repr(C)]
#[derive(Debug, Default, Clone)]
pub struct GuestRegs {
    /// x0..x30.
    pub x: [u64; 31],
    /// Where the guest resumes.
    pub elr: u64,
    /// PSTATE the guest resumes with.
    pub spsr: u64,
    /// The exception classes (bit EC of ESR_EL2) whose next synchronous exit the vector
    /// first offers to the image's fast path; 0 = none. Set by the run loop each time it
    /// takes up a full vCPU (0 while a reschedule request is pending, and for anything
    /// else: an lwVM).
    pub fast: u64,
    /// HPFAR_EL2 of the one page whose data aborts are offered to the fast path (the
    /// emulated distributor's first page); set when the vCPU powers on.
    pub fast_page: u64,
    /// The vCPU these registers are (its `VcpuId`), for the fast path.
    pub vcpu: u64,
}

impl GuestRegs {
    /// Reads register `n` as an instruction operand (31 = XZR reads 0).
    pub fn get(&self, n: usize) -> u64 {
        if n < 31 { self.x[n] } else { 0 }
    }

    /// Writes register `n` (31 = XZR discards).
    pub fn set(&mut self, n: usize, v: u64) {
        if n < 31 {
            self.x[n] = v;
        }
    }
}

/// Why the guest came back to EL2 (which vector was taken; from AArch64 or AArch32 code
/// alike — SPSR_EL2.M\[4\] tells them apart). The values are those of
/// telemetry's `ExitClass`, so that the trap path stores the code as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Synchronous exception from a lower EL (AArch64): read ESR_EL2.
    Sync = 0,
    /// A physical IRQ arrived while the guest ran.
    Irq = 1,
    /// A physical FIQ arrived.
    Fiq = 2,
    /// An SError.
    SError = 3,
}

/// V0..V31, FPSR and FPCR.
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy)]
pub struct FpRegs {
    /// Q0..Q31.
    pub q: [u128; 32],
    /// FPSR.
    pub fpsr: u64,
    /// FPCR.
    pub fpcr: u64,
}

impl FpRegs {
    /// The state of a fresh program: all zero.
    pub const ZERO: FpRegs = FpRegs {
        q: [0; 32],
        fpsr: 0,
        fpcr: 0,
    };
}

// The layout the assembly relies on.
const _: () = assert!(core::mem::offset_of!(FpRegs, fpsr) == 512);

/// A guest's EL1 system registers (and the EL0 ones the kernel owns), FP/SIMD registers,
/// pointer-authentication keys and debug state. Field names are the architectural
/// register names without their `_EL1` suffix.
#[repr(C)]
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct El1State {
    pub sctlr: u64,
    pub cpacr: u64,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub tcr: u64,
    pub mair: u64,
    pub amair: u64,
    pub vbar: u64,
    pub contextidr: u64,
    pub esr: u64,
    pub far: u64,
    pub afsr0: u64,
    pub afsr1: u64,
    pub elr: u64,
    pub spsr: u64,
    pub sp_el1: u64,
    pub sp_el0: u64,
    pub tpidr_el0: u64,
    pub tpidrro_el0: u64,
    pub tpidr_el1: u64,
    pub par: u64,
    pub csselr: u64,
    pub cntkctl: u64,
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    /// The EL1 physical timer (CNTP_CTL/CVAL_EL0), the guest's own: CNTHCTL_EL2.EL1PCEN
    /// lets it program the hardware timer, which is switched with the vCPU.
    pub cntp_ctl: u64,
    pub cntp_cval: u64,
    pub mdscr: u64,
    /// TPIDR2_EL0 (SME's; no CPTR_EL2 bit traps it, so it is switched where it exists).
    pub tpidr2_el0: u64,
    /// APIAKeyLo/Hi, APIBKeyLo/Hi, APDAKeyLo/Hi, APDBKeyLo/Hi, APGAKeyLo/Hi.
    pub pauth_keys: [u64; 10],
    /// V0..V31, FPSR, FPCR. Not moved by `save`/`restore`: switched lazily, in the CPU
    /// while this vCPU owns its FP registers (the image's `world`), saved here when
    /// another vCPU takes them.
    pub fp: FpRegs,
    /// Breakpoints, watchpoints, OS lock, claim tags: emulated (MDCR_EL2.TDA/TDOSA), in
    /// the hardware only while this vCPU runs with a comparator enabled.
    pub debug: VDebug,
}

/// SCTLR_EL1 at reset as the Arm ARM gives its RES1 bits (MMU and caches off,
/// little-endian).
pub const SCTLR_EL1_RESET: u64 = 0x30D0_0800;

impl Default for El1State {
    fn default() -> Self {
        El1State::ZERO
    }
}

impl El1State {
    /// All zero (not a valid reset state: see [`El1State::reset`]).
    pub const ZERO: El1State = El1State {
        sctlr: 0,
        cpacr: 0,
        ttbr0: 0,
        ttbr1: 0,
        tcr: 0,
        mair: 0,
        amair: 0,
        vbar: 0,
        contextidr: 0,
        esr: 0,
        far: 0,
        afsr0: 0,
        afsr1: 0,
        elr: 0,
        spsr: 0,
        sp_el1: 0,
        sp_el0: 0,
        tpidr_el0: 0,
        tpidrro_el0: 0,
        tpidr_el1: 0,
        par: 0,
        csselr: 0,
        cntkctl: 0,
        cntv_ctl: 0,
        cntv_cval: 0,
        cntp_ctl: 0,
        cntp_cval: 0,
        mdscr: 0,
        tpidr2_el0: 0,
        pauth_keys: [0; 10],
        fp: FpRegs::ZERO,
        debug: VDebug::RESET,
    };

    /// The state of a vCPU coming out of reset: every register the hypervisor switches
    /// is cleared, so nothing of an earlier life (or another VM) survives.
    pub const fn reset() -> Self {
        El1State {
            sctlr: SCTLR_EL1_RESET,
            ..El1State::ZERO
        }
    }
}

/// The per-vCPU part of the virtual CPU interface that is not in the list registers.
#[derive(Debug, Default, Clone, Copy)]
pub struct VcpuIfState {
    /// ICH_VMCR_EL2 (the guest's PMR, BPR, group enables).
    pub vmcr: u64,
    /// ICH_AP1R0_EL2 (group 1 active priorities; QEMU implements 5 priority bits: one register).
    pub ap1r0: u64,
    /// ICH_AP0R0_EL2.
    pub ap0r0: u64,
}

/// A vCPU's performance monitors (a VM with `pmu = "virtual"`): the PMU registers EL0 and
/// EL1 reach, in the hardware while the vCPU runs and saved here (counting stopped) while
/// it does not. Event counters beyond the hardware's PMCR_EL0.N are unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmuState {
    /// PMCR_EL0 (E, LC, LP, D, X, DP; N and IMP are the hardware's).
    pub pmcr: u64,
    /// PMCNTENSET_EL0: counters enabled.
    pub cnten: u64,
    /// PMINTENSET_EL1: overflow interrupts enabled.
    pub inten: u64,
    /// PMOVSSET_EL0: overflow flags.
    pub ovs: u64,
    /// PMSELR_EL0.
    pub selr: u64,
    /// PMUSERENR_EL0: EL0 access.
    pub userenr: u64,
    /// PMCCFILTR_EL0.
    pub ccfiltr: u64,
    /// PMCCNTR_EL0.
    pub ccntr: u64,
    /// PMEVTYPER<n>_EL0.
    pub evtyper: [u64; 31],
    /// PMEVCNTR<n>_EL0.
    pub evcntr: [u64; 31],
}

impl PmuState {
    /// The reset state: nothing enabled, every counter and flag zero.
    pub const RESET: PmuState = PmuState {
        pmcr: 0,
        cnten: 0,
        inten: 0,
        ovs: 0,
        selr: 0,
        userenr: 0,
        ccfiltr: 0,
        ccntr: 0,
        evtyper: [0; 31],
        evcntr: [0; 31],
    };
}

impl Default for PmuState {
    fn default() -> Self {
        PmuState::RESET
    }
}
