//! The simulated machine one host test runs the image against (see the parent module).
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use super::arch::context::{Exit, GuestRegs};
use super::arch::el1::El1State;
use super::arch::fpsimd::FpRegs;
use super::arch::timer::{CTL_ENABLE, CTL_IMASK};

/// Why a test's run ended: the payload the machine unwinds with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The hypervisor called the firmware's SYSTEM_OFF.
    PowerOff,
    /// The hypervisor reset the machine (its reaction to its own failure).
    Reset,
    /// The CPU waits for an interrupt and nothing (no pending interrupt, timer deadline or
    /// scheduled event) will ever raise one.
    Deadlock,
    /// A script said it is done (its vCPU's part of the test is over).
    ScriptDone,
    /// More guest entries than [`Machine::max_entries`]: the run loop does not get anywhere.
    Runaway,
}

/// What a scripted guest does next: the exception that brings it back to EL2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestExit {
    /// HVC #imm (ELR already past it, as the hardware leaves it).
    Hvc(u16),
    /// SMC #imm, trapped (ELR at the SMC).
    Smc(u16),
    /// WFI.
    Wfi,
    /// A data access to `ipa` that stage 2 does not map: an abort with a valid syndrome.
    DataAbort {
        /// The guest-physical address.
        ipa: u64,
        /// Store (else load).
        write: bool,
        /// Access size in bytes (1, 2, 4, 8).
        size: u8,
        /// The transfer register (x0..x30).
        reg: u8,
    },
    /// A physical interrupt `intid` arrives while the guest runs.
    Irq(u32),
    /// Any other synchronous exception, by its raw syndrome.
    Sync {
        /// ESR_EL2.
        esr: u64,
        /// FAR_EL2.
        far: u64,
        /// HPFAR_EL2.
        hpfar: u64,
    },
    /// An SError.
    SError,
    /// An FP/SIMD instruction trapped by CPTR_EL2 (EC 0x07; ELR at the instruction).
    FpTrap,
}

/// ESR_EL2.IL (a 32-bit instruction).
const IL: u64 = 1 << 25;

impl GuestExit {
    /// The syndrome the hardware reports for this exit (ESR, FAR, HPFAR).
    pub fn syndrome(self) -> (u64, u64, u64) {
        match self {
            GuestExit::Hvc(imm) => ((0x16 << 26) | IL | imm as u64, 0, 0),
            GuestExit::Smc(imm) => ((0x17 << 26) | IL | imm as u64, 0, 0),
            GuestExit::FpTrap => ((0x07 << 26) | IL, 0, 0),
            // CV = 1, COND = AL: the condition passed.
            GuestExit::Wfi => ((0x01 << 26) | IL | (1 << 24) | (0xE << 20), 0, 0),
            GuestExit::DataAbort {
                ipa,
                write,
                size,
                reg,
            } => {
                let sas = size.trailing_zeros() as u64;
                let sf = (size == 8) as u64;
                // ISV, SAS, SRT, SF (an X register for 8 bytes), WnR; DFSC = translation
                // fault, level 3.
                let iss = (1 << 24)
                    | (sas << 22)
                    | ((reg as u64) << 16)
                    | (sf << 15)
                    | ((write as u64) << 6)
                    | 0x07;
                ((0x24 << 26) | IL | iss, ipa, (ipa >> 12) << 4)
            }
            GuestExit::Sync { esr, far, hpfar } => (esr, far, hpfar),
            GuestExit::Irq(_) | GuestExit::SError => (0, 0, 0),
        }
    }
}

/// What a script sees of its vCPU at one step: its general registers and the EL1 and
/// list-register state loaded in the CPU.
pub struct Guest<'a> {
    /// x0..x30, ELR, SPSR as the hypervisor left them.
    pub regs: &'a mut GuestRegs,
    /// The guest's EL1 registers in the CPU.
    pub el1: &'a mut El1State,
    /// The list registers.
    pub lrs: &'a mut [u64],
    /// The FP/SIMD registers, `None` while the hypervisor traps them: a script that would
    /// use them then returns [`GuestExit::FpTrap`] and retries at its next entry.
    pub fp: Option<&'a mut FpRegs>,
    /// The counter.
    pub now: u64,
    /// VTTBR_EL2.VMID of the running guest.
    pub vmid: u16,
    /// VMPIDR_EL2 of the running guest.
    pub vmpidr: u64,
    /// How many steps this vCPU's script took before this one.
    pub step: usize,
}

/// ICH_LR state field values.
const LR_STATE_SHIFT: u32 = 62;
const LR_PENDING: u64 = 1;
const LR_ACTIVE: u64 = 2;

impl Guest<'_> {
    /// The virtual INTIDs the list registers hold as pending.
    pub fn pending_virqs(&self) -> Vec<u32> {
        self.lrs
            .iter()
            .filter(|&&lr| (lr >> LR_STATE_SHIFT) & LR_PENDING != 0)
            .map(|&lr| lr as u32)
            .collect()
    }

    /// Acknowledges the first pending virtual interrupt (ICC_IAR1_EL1 at the virtual CPU
    /// interface): its list register goes active; returns its INTID.
    pub fn ack_virq(&mut self) -> Option<u32> {
        let lr = self
            .lrs
            .iter_mut()
            .find(|lr| (**lr >> LR_STATE_SHIFT) & LR_PENDING != 0)?;
        *lr = (*lr & !(3 << LR_STATE_SHIFT)) | (LR_ACTIVE << LR_STATE_SHIFT);
        Some(*lr as u32)
    }

    /// Ends virtual `intid` (EOI with EOImode 0): its list register becomes invalid.
    pub fn eoi_virq(&mut self, intid: u32) {
        for lr in self.lrs.iter_mut().filter(|lr| **lr as u32 == intid) {
            *lr &= !(3 << LR_STATE_SHIFT);
        }
    }
}

/// A vCPU's guest: called at every entry, it returns the next exit.
pub type Script = Box<dyn FnMut(&mut Guest<'_>) -> GuestExit>;

/// The simulated machine (one CPU's view, plus what the hypervisor sends elsewhere).
pub struct Machine {
    /// CNTPCT_EL0.
    pub counter: u64,
    /// CNTFRQ_EL0.
    pub frequency: u64,
    /// Counter ticks one guest step takes.
    pub step_ticks: u64,
    /// MPIDR_EL1 of the CPU.
    pub mpidr: u64,
    /// The private interrupts of the board: (virtual timer, EL1 physical timer, EL2 timer).
    pub timer_intids: (u32, u32, u32),
    /// Physical interrupts pending at the CPU interface, in acknowledge order.
    pub pending: VecDeque<u32>,
    /// Physical interrupts that become pending when the counter reaches a value.
    pub scheduled: Vec<(u64, u32)>,
    /// Active physical interrupts.
    pub active: BTreeSet<u32>,
    /// Physical interrupts whose priority was dropped (EOIR), in order.
    pub eoi: Vec<u32>,
    /// ICH_LR<n>_EL2.
    pub lrs: [u64; 16],
    /// How many list registers the CPU has (ICH_VTR_EL2.ListRegs + 1).
    pub nr_lrs: usize,
    /// ICH_HCR_EL2.
    pub ich_hcr: u64,
    /// ICH_VMCR_EL2, ICH_AP1R0_EL2, ICH_AP0R0_EL2.
    pub vcpu_if: [u64; 3],
    /// CNTHP: the EL2 timer's deadline.
    pub hyp_deadline: Option<u64>,
    /// The guest EL1 registers in the CPU.
    pub el1: El1State,
    /// The FP/SIMD registers.
    pub fp: FpRegs,
    /// The guest's FP/SIMD instructions trap (CPTR_EL2).
    pub fp_trapped: bool,
    /// A physical SError is pending (an asynchronous abort of the guest's accesses that has
    /// not been taken yet).
    pub serror_pending: bool,
    /// ESR_EL2, FAR_EL2, HPFAR_EL2 of the last exit.
    pub syndrome: (u64, u64, u64),
    /// HCR_EL2, VTCR_EL2, VTTBR_EL2, VMPIDR_EL2.
    pub hcr: u64,
    /// VTCR_EL2.
    pub vtcr: u64,
    /// VTTBR_EL2.
    pub vttbr: u64,
    /// VMPIDR_EL2.
    pub vmpidr: u64,
    /// What MDCR_EL2 gives the running guest of the PMU.
    pub pmu_access: hv_core::sysdesc::PmuAccess,
    /// The PMU registers.
    pub pmu: super::arch::pmu::PmuState,
    /// ID registers by (CRm, op2) of op0=3, op1=0, CRn=0 (absent: zero).
    pub id_regs: BTreeMap<(u8, u8), u64>,
    /// Bytes the hypervisor wrote to its UART.
    pub uart: Vec<u8>,
    /// Bytes waiting in the UART's receive FIFO.
    pub uart_rx: VecDeque<u8>,
    /// MPIDRs the kick SGI was sent to.
    pub kicks: Vec<u64>,
    /// Firmware CPU_ON calls: (MPIDR, entry, context).
    pub cpu_on: Vec<(u64, u64, u64)>,
    /// Guest entries: (VMID, VMPIDR) of each.
    pub entries: Vec<(u16, u64)>,
    /// Stage-2 selections (VTTBR_EL2 writes): one per world switch.
    pub vttbr_writes: usize,
    /// Times the CPU waited for an interrupt.
    pub idles: usize,
    /// A run is cut off after this many guest entries ([`End::Runaway`]).
    pub max_entries: usize,
    mem: BTreeMap<u64, Box<[u8; PAGE]>>,
    scripts: BTreeMap<(u16, u64), (Option<Script>, usize)>,
}

const PAGE: usize = 4096;

impl Default for Machine {
    fn default() -> Self {
        Machine::new()
    }
}

impl Machine {
    /// A machine as QEMU's `virt` board presents it to CPU 0: a 62.5 MHz counter, four
    /// list registers, timers at PPIs 27/30/26, nothing pending.
    pub fn new() -> Machine {
        Machine {
            counter: 0,
            frequency: 62_500_000,
            step_ticks: 100,
            mpidr: 0,
            timer_intids: (27, 30, 26),
            pending: VecDeque::new(),
            scheduled: Vec::new(),
            active: BTreeSet::new(),
            eoi: Vec::new(),
            lrs: [0; 16],
            nr_lrs: 4,
            ich_hcr: 0,
            vcpu_if: [0; 3],
            hyp_deadline: None,
            el1: El1State::ZERO,
            fp: FpRegs::ZERO,
            fp_trapped: false,
            serror_pending: false,
            syndrome: (0, 0, 0),
            hcr: 0,
            vtcr: 0,
            vttbr: 0,
            vmpidr: 0,
            pmu_access: hv_core::sysdesc::PmuAccess::Hidden,
            pmu: super::arch::pmu::PmuState::RESET,
            id_regs: BTreeMap::new(),
            uart: Vec::new(),
            uart_rx: VecDeque::new(),
            kicks: Vec::new(),
            cpu_on: Vec::new(),
            entries: Vec::new(),
            vttbr_writes: 0,
            idles: 0,
            max_entries: 100_000,
            mem: BTreeMap::new(),
            scripts: BTreeMap::new(),
        }
    }

    /// Gives the vCPU with VMID `vmid` and VMPIDR `vmpidr` its guest.
    pub fn guest(
        &mut self,
        vmid: u16,
        vmpidr: u64,
        script: impl FnMut(&mut Guest<'_>) -> GuestExit + 'static,
    ) {
        self.scripts
            .insert((vmid, vmpidr), (Some(Box::new(script)), 0));
    }

    /// How many steps the guest of (`vmid`, `vmpidr`) took.
    pub fn steps(&self, vmid: u16, vmpidr: u64) -> usize {
        self.scripts.get(&(vmid, vmpidr)).map_or(0, |s| s.1)
    }

    /// VTTBR_EL2.VMID.
    pub fn vmid(&self) -> u16 {
        (self.vttbr >> 48) as u16
    }

    /// Writes physical memory.
    pub fn write_mem(&mut self, pa: u64, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let a = pa + i as u64;
            let page = self
                .mem
                .entry(a / PAGE as u64)
                .or_insert_with(|| Box::new([0; PAGE]));
            page[(a % PAGE as u64) as usize] = b;
        }
    }

    /// Reads physical memory (never written: zero).
    pub fn read_mem(&self, pa: u64, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = pa + i as u64;
            *b = self
                .mem
                .get(&(a / PAGE as u64))
                .map_or(0, |p| p[(a % PAGE as u64) as usize]);
        }
    }

    /// Clears physical memory.
    pub fn zero_mem(&mut self, pa: u64, len: u64) {
        let end = pa + len;
        let mut a = pa;
        while a < end {
            let page = a / PAGE as u64;
            let in_page = (a % PAGE as u64) as usize;
            let n = ((PAGE - in_page) as u64).min(end - a) as usize;
            if in_page == 0 && n == PAGE {
                self.mem.remove(&page);
            } else if let Some(p) = self.mem.get_mut(&page) {
                p[in_page..in_page + n].fill(0);
            }
            a += n as u64;
        }
    }

    /// Whether a timer control value is enabled, unmasked and its compare value reached.
    fn timer_due(&self, ctl: u64, cval: u64) -> bool {
        ctl & CTL_ENABLE != 0 && ctl & CTL_IMASK == 0 && self.counter >= cval
    }

    /// Makes pending what is due at the current counter: scheduled interrupts, the loaded
    /// guest's timers (level: while not active or pending already) and the EL2 timer.
    fn deliver_due(&mut self) {
        let now = self.counter;
        let mut due: Vec<u32> = Vec::new();
        self.scheduled.retain(|&(t, i)| {
            if t <= now {
                due.push(i);
            }
            t > now
        });
        let (vt, pt, ht) = self.timer_intids;
        if self.timer_due(self.el1.cntv_ctl, self.el1.cntv_cval) {
            due.push(vt);
        }
        if self.timer_due(self.el1.cntp_ctl, self.el1.cntp_cval) {
            due.push(pt);
        }
        if self.hyp_deadline.is_some_and(|d| now >= d) {
            due.push(ht);
        }
        for i in due {
            if !self.pending.contains(&i) && !self.active.contains(&i) {
                self.pending.push_back(i);
            }
        }
    }

    /// The next counter value at which something becomes pending.
    fn next_event(&self) -> Option<u64> {
        let mut t: Vec<u64> = self.scheduled.iter().map(|&(t, _)| t).collect();
        t.extend(self.hyp_deadline);
        let (vt, pt, _) = self.timer_intids;
        for (ctl, cval, i) in [
            (self.el1.cntv_ctl, self.el1.cntv_cval, vt),
            (self.el1.cntp_ctl, self.el1.cntp_cval, pt),
        ] {
            if ctl & CTL_ENABLE != 0 && ctl & CTL_IMASK == 0 && !self.active.contains(&i) {
                t.push(cval);
            }
        }
        t.into_iter().min()
    }
}

thread_local! {
    static MACHINE: RefCell<Option<Machine>> = const { RefCell::new(None) };
}

/// Makes `m` the machine of this thread (replacing any earlier one).
pub fn install(m: Machine) {
    quiet_ends();
    MACHINE.with(|c| *c.borrow_mut() = Some(m));
}

/// Runs `f` on this thread's machine. Panics when none is installed.
pub fn with<R>(f: impl FnOnce(&mut Machine) -> R) -> R {
    MACHINE.with(|c| {
        let mut g = c.borrow_mut();
        f(g.as_mut()
            .expect("no fake machine installed on this thread"))
    })
}

/// Ends the run from a script: its vCPU's part of the test is over ([`End::ScriptDone`]).
pub fn done() -> ! {
    end(End::ScriptDone)
}

/// Ends the run: unwinds with `why` (caught by [`run`]).
pub(crate) fn end(why: End) -> ! {
    panic::panic_any(why)
}

/// Runs `f` (a run loop, which never returns) until the machine ends it; returns why.
/// A panic that is not an [`End`] (a failed assertion, a hypervisor bug) goes on.
pub fn run(f: impl FnOnce()) -> End {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => panic!("the run returned"),
        Err(p) => match p.downcast::<End>() {
            Ok(e) => *e,
            Err(p) => panic::resume_unwind(p),
        },
    }
}

/// An [`End`] is how a run stops, not a failure: the panic hook stays silent about it.
fn quiet_ends() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<End>().is_none() {
                default(info);
            }
        }));
    });
}

/// `enter_guest`: runs one step of the loaded vCPU's script, unless a physical interrupt
/// is pending (then the guest is interrupted at once).
pub(crate) fn enter_guest(regs: &mut GuestRegs) -> Exit {
    // A pending SError (HCR_EL2.AMO routes it to EL2) is taken as soon as a guest runs,
    // whichever guest that is.
    if with(|m| core::mem::take(&mut m.serror_pending)) {
        return Exit::SError;
    }
    let taken = with(|m| {
        m.counter += m.step_ticks;
        m.deliver_due();
        if !m.pending.is_empty() {
            return None;
        }
        if m.entries.len() >= m.max_entries {
            end(End::Runaway);
        }
        let key = (m.vmid(), m.vmpidr);
        m.entries.push(key);
        let Some((script, step)) = m.scripts.get_mut(&key) else {
            panic!("no guest script for VMID {} VMPIDR {:#x}", key.0, key.1);
        };
        let script = script.take().expect("a script re-entered");
        let lrs = m.lrs;
        let fp = (!m.fp_trapped).then_some(m.fp);
        Some((
            key,
            script,
            *step,
            m.el1.clone(),
            lrs,
            m.nr_lrs,
            m.counter,
            fp,
        ))
    });
    let Some((key, mut script, step, mut el1, mut lrs, nr_lrs, now, mut fp)) = taken else {
        return Exit::Irq;
    };
    let mut g = Guest {
        regs,
        el1: &mut el1,
        lrs: &mut lrs[..nr_lrs],
        fp: fp.as_mut(),
        now,
        vmid: key.0,
        vmpidr: key.1,
        step,
    };
    let exit = script(&mut g);
    with(|m| {
        m.el1 = el1;
        m.lrs = lrs;
        if let Some(fp) = fp {
            m.fp = fp;
        }
        let s = m.scripts.get_mut(&key).expect("script slot");
        s.0 = Some(script);
        s.1 += 1;
        m.syndrome = exit.syndrome();
        match exit {
            GuestExit::Irq(i) => {
                m.pending.push_back(i);
                Exit::Irq
            }
            GuestExit::SError => Exit::SError,
            _ => Exit::Sync,
        }
    })
}

/// `wait_for_interrupt`: returns at once if an interrupt is pending; otherwise the counter
/// jumps to the next event, or the run ends when there is none.
pub(crate) fn wait_for_interrupt() {
    with(|m| {
        m.idles += 1;
        m.deliver_due();
        if !m.pending.is_empty() {
            return;
        }
        match m.next_event() {
            Some(t) => {
                m.counter = m.counter.max(t);
                m.deliver_due();
            }
            None => end(End::Deadlock),
        }
    })
}
