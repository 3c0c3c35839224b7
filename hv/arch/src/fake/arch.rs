//! The arch API of the aarch64 modules (`imp/`), module for module, on the simulated
//! machine. Types the image stores (`GuestRegs`, `El1State`, `FpRegs`, `VcpuIfState`)
//! have the same fields as theirs.
pub mod context;
pub mod el1;
pub mod gic;

pub mod boot {
    //! Per-CPU stacks (the sizes the image checks against).
    /// Bytes of stack per physical CPU.
    pub const STACK_SIZE: usize = 64 * 1024;
    /// Number of per-CPU stacks.
    pub const MAX_CPUS: usize = 8;

    /// Where secondaries start (no code on the host: a recognisable address).
    pub fn secondary_entry_pa() -> u64 {
        0
    }
}

pub mod cache {
    //! Cache maintenance: the simulated memory has no caches.
    /// Cleans `[pa, pa+len)` to the point of coherency: nothing to do.
    pub fn clean_to_poc(_pa: u64, _len: u64) {}
}

pub mod cpu {
    //! Small CPU operations.
    use super::super::machine::{self, with};

    /// MPIDR_EL1 affinity fields of the CPU.
    pub fn mpidr() -> u64 {
        with(|m| m.mpidr)
    }

    /// Waits for an event: returns at once (nothing else runs on the simulated machine).
    pub fn wait_for_event() {}

    /// Waits for an interrupt: the counter jumps to the next event; the run ends when there
    /// is none.
    pub fn wait_for_interrupt() {
        machine::wait_for_interrupt()
    }

    /// Signals an event: no other CPU waits.
    pub fn send_event() {}

    /// A YIELD hint: nothing to yield to.
    pub fn relax() {}

    /// The counter.
    pub fn counter() -> u64 {
        with(|m| m.counter)
    }

    /// The counter, as a telemetry timestamp.
    pub fn stamp() -> u64 {
        counter()
    }

    /// Counter frequency in Hz.
    pub fn counter_frequency() -> u64 {
        with(|m| m.frequency)
    }
}

pub mod debug {
    //! The loaded guest's debug state.
    use hv_core::trap::debug::{Comparators, VDebug};

    use super::super::machine::with;

    /// Loads a vCPU's comparators: the simulated CPU has none to program.
    pub fn load(_d: &VDebug, _c: Comparators) {}

    /// Disables every comparator.
    pub fn disable_all(_c: Comparators) {}

    /// MDSCR_EL1 of the loaded guest.
    pub fn guest_mdscr() -> u64 {
        with(|m| m.el1.mdscr)
    }

    /// Writes MDSCR_EL1 of the loaded guest.
    pub fn set_guest_mdscr(v: u64) {
        with(|m| m.el1.mdscr = v)
    }

    /// DC CISW: no caches.
    pub fn clean_invalidate_set_way(_sw: u64) {}
}

pub mod features {
    //! What the simulated CPU implements: its ID registers ([`Machine::id_regs`]), no
    //! pointer authentication, SME, activity monitors, RAS or LOR.
    //!
    //! [`Machine::id_regs`]: super::super::Machine::id_regs
    use hv_core::trap::SysReg;
    use hv_core::trap::debug::Comparators;

    use super::super::machine::with;

    /// The value of ID register `reg` (zero unless the test set one).
    pub fn read_id(reg: SysReg) -> u64 {
        with(|m| m.id_regs.get(&(reg.crm, reg.op2)).copied().unwrap_or(0))
    }

    /// Whether EL0 runs AArch32 (ID_AA64PFR0_EL1.EL0 = 2).
    pub fn aarch32_el0() -> bool {
        read_id(SysReg::ID_AA64PFR0_EL1) & 0xF == 2
    }

    /// Pointer authentication: absent.
    pub fn pauth() -> bool {
        false
    }

    /// SME: absent.
    pub fn sme() -> bool {
        false
    }

    /// CPTR_EL2.TAM: no activity monitors.
    pub fn cptr_tam() -> u64 {
        0
    }

    /// The breakpoint and watchpoint counts of ID_AA64DFR0_EL1.
    pub fn comparators() -> Comparators {
        Comparators::from_dfr0(read_id(SysReg::ID_AA64DFR0_EL1))
    }

    /// No optional HCR_EL2 trap bits.
    pub fn hcr_extra() -> u64 {
        0
    }

    /// CPTR_EL2 with E2H=0 (the value the aarch64 module uses).
    pub const CPTR_EL2_NVHE: u64 = 0x33ff | (1 << 20);

    /// Reads the CPU's features: fixed on the simulated CPU.
    pub fn init_cpu() {}

    /// The simulated CPU has a PMU.
    pub fn pmu() -> bool {
        true
    }

    /// MDCR_EL2 for the vCPU about to run: PMU trapped, shared or the vCPU's own.
    pub fn set_pmu_access(access: hv_core::sysdesc::PmuAccess) {
        with(|m| m.pmu_access = access)
    }
}

pub mod pmu {
    //! The PMU registers: the machine's [`Machine::pmu`](super::super::Machine::pmu).
    use super::super::machine::with;

    pub use crate::state::PmuState;

    /// The event counters of the simulated PMU.
    pub fn counters() -> usize {
        6
    }

    /// Saves the PMU into `s` and leaves it stopped and clear.
    pub fn save(s: &mut PmuState) {
        with(|m| {
            *s = m.pmu;
            m.pmu.pmcr &= !1;
            m.pmu.cnten = 0;
            m.pmu.inten = 0;
            m.pmu.ovs = 0;
            m.pmu.userenr = 0;
        })
    }

    /// Loads `s` into the PMU.
    pub fn load(s: &PmuState) {
        with(|m| m.pmu = *s)
    }

    /// Disables every overflow interrupt.
    pub fn mask_overflow_irqs() {
        with(|m| m.pmu.inten = 0)
    }
}

pub mod firmware {
    //! The platform firmware's PSCI: CPU_ON is recorded; SYSTEM_OFF and SYSTEM_RESET end
    //! the run ([`End::PowerOff`], [`End::Reset`]).
    //!
    //! [`End::PowerOff`]: super::super::End::PowerOff
    //! [`End::Reset`]: super::super::End::Reset
    use super::super::machine::{End, end, with};

    /// Records the request; success.
    pub fn cpu_on(mpidr: u64, entry: u64, context: u64) -> i64 {
        with(|m| m.cpu_on.push((mpidr, entry, context)));
        0
    }

    /// Powers the machine off: the run ends.
    pub fn system_off() -> ! {
        end(End::PowerOff)
    }

    /// Resets the machine: the run ends.
    pub fn system_reset() -> ! {
        end(End::Reset)
    }
}

pub mod fpsimd {
    //! The FP/SIMD register file.
    use super::super::machine::with;

    pub use crate::state::FpRegs;

    /// Saves the CPU's FP/SIMD registers into `r`.
    pub fn save(r: &mut FpRegs) {
        *r = with(|m| {
            assert!(!m.fp_trapped, "FP registers moved at EL2 with FP trapped");
            m.fp
        });
    }

    /// Loads `r` into the CPU's FP/SIMD registers.
    pub fn load(r: &FpRegs) {
        with(|m| {
            assert!(!m.fp_trapped, "FP registers moved at EL2 with FP trapped");
            m.fp = *r
        });
    }

    /// Traps (`on`) the guest's FP/SIMD instructions.
    pub fn set_trap(on: bool) {
        with(|m| m.fp_trapped = on);
    }
}

pub mod mem {
    //! Physical memory: the machine's sparse pages.
    use super::super::machine::with;

    /// Copies `len` bytes from physical `src` to physical `dst`.
    ///
    /// # Safety
    /// None on the simulated machine; the signature is the aarch64 one.
    pub unsafe fn copy(dst: u64, src: u64, len: u64) {
        with(|m| {
            let mut buf = vec![0; len as usize];
            m.read_mem(src, &mut buf);
            m.write_mem(dst, &buf);
        })
    }

    /// Fills `len` bytes at physical `dst` with zeros.
    ///
    /// # Safety
    /// None on the simulated machine; the signature is the aarch64 one.
    pub unsafe fn zero(dst: u64, len: u64) {
        with(|m| m.zero_mem(dst, len))
    }

    /// Copies `buf.len()` bytes from physical `src` into `buf`.
    ///
    /// # Safety
    /// None on the simulated machine; the signature is the aarch64 one.
    pub unsafe fn read(src: u64, buf: &mut [u8]) {
        with(|m| m.read_mem(src, buf))
    }

    /// Copies `buf` to physical `dst`.
    ///
    /// # Safety
    /// None on the simulated machine; the signature is the aarch64 one.
    pub unsafe fn write(dst: u64, buf: &[u8]) {
        with(|m| m.write_mem(dst, buf))
    }
}

pub mod mmu {
    //! The hypervisor's own MMU: the simulated machine translates nothing.

    /// Turns the MMU on: nothing to do.
    ///
    /// # Safety
    /// None on the simulated machine; the signature is the aarch64 one.
    pub unsafe fn enable_el2(_mair: u64, _tcr: u64, _ttbr0: u64) {}
}

pub mod regs {
    //! EL2 control registers and the syndrome of the last exit.
    use super::super::machine::with;

    /// HCR_EL2 for running a guest at EL1 (the aarch64 module's value, E2H=0).
    pub const HCR_GUEST: u64 = (1 << 0)
        | (1 << 1)
        | (1 << 3)
        | (1 << 4)
        | (1 << 5)
        | (1 << 9)
        | (1 << 10)
        | (1 << 13)
        | (1 << 18)
        | (1 << 19)
        | (1 << 20)
        | (1 << 21)
        | (1 << 22)
        | (1 << 31)
        | (1 << 40)
        | (1 << 41);

    /// The HCR_EL2 value guests run with.
    pub fn hcr_guest() -> u64 {
        HCR_GUEST | super::features::hcr_extra()
    }

    /// Sets HCR_EL2.
    pub fn set_hcr(v: u64) {
        with(|m| m.hcr = v)
    }

    /// Sets VTCR_EL2.
    pub fn set_vtcr(v: u64) {
        with(|m| m.vtcr = v)
    }

    /// Selects the stage-2 tables and VMID of the guest about to run.
    pub fn set_vttbr(vmid: u16, root: u64) {
        with(|m| {
            m.vttbr = ((vmid as u64) << 48) | root;
            m.vttbr_writes += 1;
        })
    }

    /// Sets the MPIDR_EL1 value the guest reads.
    pub fn set_vmpidr(v: u64) {
        with(|m| m.vmpidr = v)
    }

    /// The CPU's MIDR_EL1 (the simulated machine's: QEMU `max`).
    pub fn midr() -> u64 {
        0x000f_0510
    }

    /// Sets the MIDR_EL1 value the guest reads (the simulated machine keeps no guest MIDR).
    pub fn set_vpidr(_v: u64) {}

    /// VTTBR_EL2 as last written.
    pub fn vttbr() -> u64 {
        with(|m| m.vttbr)
    }

    /// TLB maintenance for a VMID: nothing to model (the machine has no TLB).
    pub fn tlb_flush_for(_vmid: u16) {}

    /// Timer traps: nothing to model.
    pub fn init_timer_traps() {}

    /// The syndrome of the last exception taken to EL2.
    #[derive(Debug, Clone, Copy)]
    pub struct Syndrome {
        /// ESR_EL2.
        pub esr: u64,
        /// FAR_EL2.
        pub far: u64,
        /// HPFAR_EL2.
        pub hpfar: u64,
    }

    /// ESR/FAR/HPFAR_EL2 of the last exit.
    pub fn syndrome() -> Syndrome {
        let (esr, far, hpfar) = with(|m| m.syndrome);
        Syndrome { esr, far, hpfar }
    }

    /// ESR_EL2 alone.
    pub fn esr() -> u64 {
        with(|m| m.syndrome.0)
    }

    /// FAR_EL2 and HPFAR_EL2 of the last exit.
    pub fn fault_addresses() -> (u64, u64) {
        with(|m| (m.syndrome.1, m.syndrome.2))
    }

    /// TLB maintenance: no TLBs.
    pub fn tlb_flush_vmid() {}
}

pub mod timer {
    //! The loaded guest's timers and the EL2 timer.
    use super::super::machine::with;

    /// CNTx_CTL.ENABLE.
    pub const CTL_ENABLE: u64 = 1 << 0;
    /// CNTx_CTL.IMASK.
    pub const CTL_IMASK: u64 = 1 << 1;
    /// CNTx_CTL.ISTATUS.
    pub const CTL_ISTATUS: u64 = 1 << 2;

    /// A control value as read: ISTATUS set when enabled and the compare value reached.
    fn read(ctl: u64, cval: u64, now: u64) -> u64 {
        let met = ctl & CTL_ENABLE != 0 && now >= cval;
        (ctl & !CTL_ISTATUS) | if met { CTL_ISTATUS } else { 0 }
    }

    /// Reads the loaded guest's CNTV_CTL.
    pub fn guest_vtimer_ctl() -> u64 {
        with(|m| read(m.el1.cntv_ctl, m.el1.cntv_cval, m.counter))
    }

    /// Writes the loaded guest's CNTV_CTL.
    pub fn set_guest_vtimer_ctl(v: u64) {
        with(|m| m.el1.cntv_ctl = v & !CTL_ISTATUS)
    }

    /// Reads the loaded guest's CNTP_CTL.
    pub fn guest_ptimer_ctl() -> u64 {
        with(|m| read(m.el1.cntp_ctl, m.el1.cntp_cval, m.counter))
    }

    /// Writes the loaded guest's CNTP_CTL.
    pub fn set_guest_ptimer_ctl(v: u64) {
        with(|m| m.el1.cntp_ctl = v & !CTL_ISTATUS)
    }

    /// Arms the EL2 timer for `deadline`, or disarms it.
    pub fn set_hyp_deadline(deadline: Option<u64>) {
        with(|m| m.hyp_deadline = deadline)
    }
}

pub mod uart {
    //! The physical PL011: bytes written are recorded, input comes from
    //! [`Machine::uart_rx`](super::super::Machine::uart_rx).
    use super::super::machine::with;

    /// Writes `bytes` to the UART.
    pub fn write(_base: u64, bytes: &[u8]) {
        with(|m| m.uart.extend_from_slice(bytes))
    }

    /// Takes one received byte, if any.
    pub fn read_byte(_base: u64) -> Option<u8> {
        with(|m| m.uart_rx.pop_front())
    }

    /// Enables the receive interrupts: input is queued by the test.
    pub fn enable_rx_interrupt(_base: u64) {}
}

pub mod ns16550 {
    //! The physical 16550 of boards without a PL011: the same simulated UART as
    //! [`super::uart`] (bytes written are recorded, input comes from
    //! [`Machine::uart_rx`](super::super::Machine::uart_rx)).
    use hv_core::sysdesc::Ns16550Regs;

    /// Writes `bytes` to the UART.
    pub fn write(base: u64, _r: Ns16550Regs, bytes: &[u8]) {
        super::uart::write(base, bytes)
    }

    /// Takes one received byte, if any.
    pub fn read_byte(base: u64, _r: Ns16550Regs) -> Option<u8> {
        super::uart::read_byte(base)
    }

    /// Enables the receive interrupt: input is queued by the test.
    pub fn enable_rx_interrupt(_base: u64, _r: Ns16550Regs) {}
}
