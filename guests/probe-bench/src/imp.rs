//! The aarch64 side: PMU cycle counter, hypervisor detection, sample buffers, reporting,
//! the shared mailbox page and minimal SMCCC calls.
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use guest_rt::println;

use crate::{ITERS, MARKER_BEGIN, MARKER_END, MARKER_SAMPLE, MAX_SAMPLES, WARMUP};

/// SMCCC function ids used by the probes.
pub mod fid {
    /// SMCCC_VERSION (answered by the VM's PSCI/SMCCC model).
    pub const SMCCC_VERSION: u64 = 0x8000_0000;
    /// PSCI_VERSION (PSCI 0.2+, 32-bit function id).
    pub const PSCI_VERSION: u64 = 0x8400_0000;
    /// The project's VIRQ_RAISE (x1 = channel).
    pub const VIRQ_RAISE: u64 = 0xC600_0001;
    /// TELEMETRY_MARKER (x1 = id, x2 = value).
    pub const TELEMETRY_MARKER: u64 = 0xC600_0004;
    /// VM_INFO (no arguments; answers in x0..x3).
    pub const VM_INFO: u64 = 0xC600_0007;
}

/// The PMU cycle counter.
pub mod pmu {
    use core::arch::asm;

    /// Enables PMCCNTR_EL0 (counting at EL1 and, NSH, at EL2; no divider; 64-bit) and
    /// aligns it with the generic counter ([`sync_to_counter`]).
    pub fn enable() {
        enable_only();
        sync_to_counter();
    }

    fn enable_only() {
        // SAFETY: programs only the PMU's cycle counter of this CPU (PMCR_EL0.E, D, LC;
        // PMCCFILTR_EL0; PMCNTENSET_EL0.C); it never resets a counter another VM reads.
        unsafe {
            asm!(
                "msr pmccfiltr_el0, {filt}",
                "mrs {t}, pmcr_el0",
                "orr {t}, {t}, #1",        // E
                "bic {t}, {t}, #8",        // D: count every cycle
                "orr {t}, {t}, #64",       // LC: 64-bit overflow
                "msr pmcr_el0, {t}",
                "msr pmcntenset_el0, {c}",
                // PMUSERENR_EL0.{EN,CR}: EL0 may read the cycle counter (the lwVM
                // partner of the switch probe runs at EL0 on the same CPU).
                "mov {t}, #5",
                "msr pmuserenr_el0, {t}",
                "isb",
                filt = in(reg) 1u64 << 27,
                c = in(reg) 1u64 << 31,
                t = out(reg) _,
                options(nomem, nostack),
            )
        };
    }

    /// Sets this CPU's PMCCNTR_EL0 to the generic counter in nanoseconds (CNTVCT_EL0 ×
    /// 10⁹/CNTFRQ, CNTVOFF_EL2 = 0 under the hypervisor), at a counter tick edge, so that
    /// stamps taken on different CPUs (each CPU has its own cycle counter, started at a
    /// different time) and the timer's CVAL compare. QEMU's cycle counter runs at 1 GHz of
    /// its virtual clock, the same clock as the generic counter; the error is the few
    /// instructions between seeing the edge and the write (±3).
    pub fn sync_to_counter() {
        let ns_per_tick = 1_000_000_000 / guest_rt::timer::frequency().max(1);
        // SAFETY: reads the virtual counter and writes this CPU's cycle counter only.
        unsafe {
            asm!(
                "isb",
                "mrs {c0}, cntvct_el0",
                "1:",
                "isb",
                "mrs {c}, cntvct_el0",
                "cmp {c}, {c0}",
                "b.eq 1b",
                // The edge lies 0..4 instructions before the read that saw it; five more
                // until the write: count it as 6.
                "mul {c}, {c}, {k}",
                "add {c}, {c}, #6",
                "msr pmccntr_el0, {c}",
                "isb",
                c0 = out(reg) _,
                c = out(reg) _,
                k = in(reg) ns_per_tick,
                options(nomem, nostack),
            )
        };
    }

    /// PMCCNTR_EL0 after an ISB (not taken early).
    #[inline(always)]
    pub fn now() -> u64 {
        let v: u64;
        // SAFETY: reading the cycle counter has no side effect.
        unsafe { asm!("isb", "mrs {}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
        v
    }

    /// CNTVCT_EL0 after an ISB.
    #[inline(always)]
    pub fn cntvct() -> u64 {
        guest_rt::timer::now()
    }
}

/// One SMCCC call through `hvc #0` with x0..x2; returns x0. Only x0..x3 are declared
/// clobbered (the hypervisor writes no other register), so the call adds few
/// instructions of its own to a measurement.
#[inline(always)]
pub fn hvc3(x0: u64, x1: u64, x2: u64) -> u64 {
    let r: u64;
    // SAFETY: HVC traps to the hypervisor, which writes at most x0..x3.
    unsafe {
        asm!("hvc #0", inout("x0") x0 => r, inout("x1") x1 => _, inout("x2") x2 => _,
             out("x3") _, options(nostack))
    };
    r
}

static NATIVE: AtomicBool = AtomicBool::new(false);

/// Finds out whether this hypervisor is below: VM_INFO answers with the VM's index (≥ 0).
/// Natively (QEMU `-kernel` at EL1, PSCI conduit HVC) QEMU answers unknown SMCCC calls
/// with NOT_SUPPORTED (−1); a QEMU without that would make HVC UNDEFINED (caught). Call
/// once, first.
pub fn detect() -> bool {
    let mut x0 = fid::VM_INFO;
    let f = guest_rt::exceptions::catch(|| {
        // SAFETY: HVC either traps to the hypervisor (which writes x0..x3) or is
        // UNDEFINED (caught, skipped).
        unsafe {
            asm!("hvc #0", inout("x0") x0, out("x1") _, out("x2") _, out("x3") _, options(nostack))
        };
    });
    let native = f.is_some() || (x0 as i64) < 0;
    NATIVE.store(native, Ordering::SeqCst);
    native
}

/// Whether [`detect`] found no hypervisor.
pub fn native() -> bool {
    NATIVE.load(Ordering::SeqCst)
}

/// Waits until `cond` holds without spinning: sleeps (WFI, IRQs masked) on the virtual
/// timer in steps of ~1.6 µs. Under `-icount` QEMU runs the CPUs round-robin and a CPU
/// that spins can starve the one it waits for; a sleeping CPU hands over at once. Needs
/// this vCPU's GIC interface set up (`gic::init_cpu`) and enables the timer's PPI: the
/// caller's IRQ handler sees INTID 27 once per step.
pub fn sleep_until(cond: impl Fn() -> bool) {
    use guest_rt::{arch, gic, timer};
    if cond() {
        return;
    }
    gic::configure(timer::INTID, 0x80);
    while !cond() {
        arch::irq_mask();
        timer::arm_at(timer::now() + 100);
        arch::wfi();
        timer::disable();
        // Take what woke us (the hypervisor injected the timer's PPI through a list
        // register; it stays pending there until acknowledged, and a pending interrupt
        // makes the next WFI fall through without trapping).
        arch::irq_unmask();
        arch::irq_mask();
    }
}

/// A telemetry marker (only under the hypervisor).
pub fn marker(id: u64, value: u64) {
    if !native() {
        hvc3(fid::TELEMETRY_MARKER, id, value);
    }
}

/// Marks the start of the timed phase of metric `id`.
pub fn phase_begin(id: u64) {
    marker(MARKER_BEGIN, id);
}

/// Marks the end of the timed phase of metric `id`.
pub fn phase_end(id: u64) {
    marker(MARKER_END, id);
}

/// Samples of one metric (single writer: the vCPU that measures).
pub struct Samples {
    /// Name printed in the `METRIC` line.
    pub name: &'static str,
    buf: [AtomicU64; MAX_SAMPLES],
    n: AtomicUsize,
}

impl Samples {
    /// An empty buffer.
    pub const fn new(name: &'static str) -> Self {
        Samples {
            name,
            buf: [const { AtomicU64::new(0) }; MAX_SAMPLES],
            n: AtomicUsize::new(0),
        }
    }

    /// Appends a sample (dropped when full).
    #[inline(always)]
    pub fn push(&self, v: u64) {
        let n = self.n.load(Ordering::Relaxed);
        if n < MAX_SAMPLES {
            self.buf[n].store(v, Ordering::Relaxed);
            self.n.store(n + 1, Ordering::Relaxed);
        }
    }

    /// Appends `v` for round `round` unless it is a warm-up round.
    #[inline(always)]
    pub fn round(&self, round: usize, v: u64) {
        if round >= WARMUP {
            self.push(v);
        }
    }

    /// Samples so far.
    pub fn len(&self) -> usize {
        self.n.load(Ordering::SeqCst)
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i`.
    pub fn get(&self, i: usize) -> u64 {
        self.buf[i].load(Ordering::Relaxed)
    }

    /// Smallest sample (0 when empty).
    pub fn min(&self) -> u64 {
        (0..self.len()).map(|i| self.get(i)).min().unwrap_or(0)
    }
}

/// Rounds a probe runs: warm-up plus timed.
pub const fn rounds() -> usize {
    WARMUP + ITERS
}

/// Cost of the measurement itself: two back-to-back [`pmu::now`] (smallest of a few).
pub fn clock_overhead() -> u64 {
    let mut best = u64::MAX;
    for _ in 0..64 {
        let t0 = pmu::now();
        let t1 = pmu::now();
        best = best.min(t1.wrapping_sub(t0));
    }
    best
}

/// Prints the probe header.
pub fn header(probe: &str) {
    println!(
        "PROBE {probe} {} iters={ITERS} warmup={WARMUP}",
        if native() { "native" } else { "hv" }
    );
}

/// Prints metric `id`'s samples (and sends them as markers under the hypervisor).
pub fn report(id: u64, s: &Samples) {
    if crate::QUIET {
        return;
    }
    println!("METRIC {id} {} {}", s.name, s.len());
    let mut i = 0;
    while i < s.len() {
        let end = (i + 16).min(s.len());
        // One line per 16 values; `print` in pieces keeps the stack small.
        let mut line = Line::new();
        line.push_str("SAMPLES ");
        line.push_u64(id);
        for k in i..end {
            line.push_str(" ");
            line.push_u64(s.get(k));
        }
        println!("{}", line.as_str());
        i = end;
    }
    if !native() {
        for k in 0..s.len() {
            marker(MARKER_SAMPLE + id, s.get(k));
        }
    }
}

/// A fixed line buffer (no allocator).
struct Line {
    b: [u8; 512],
    n: usize,
}

impl Line {
    fn new() -> Self {
        Line { b: [0; 512], n: 0 }
    }
    fn push_str(&mut self, s: &str) {
        for &c in s.as_bytes() {
            if self.n < self.b.len() {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
    }
    fn push_u64(&mut self, mut v: u64) {
        let mut d = [0u8; 20];
        let mut k = d.len();
        loop {
            k -= 1;
            d[k] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &c in &d[k..] {
            if self.n < self.b.len() {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("")
    }
}

/// The shared page of two probe VMs (`[[shared]]` at IPA 0x5000_0000 in the exp-*
/// systems): a few 64-bit words, each with a single writer.
pub mod mbox {
    use core::ptr::{read_volatile, write_volatile};

    /// IPA of the shared page.
    pub const BASE: usize = 0x5000_0000;
    /// Words.
    pub const STAMP_A: usize = 0;
    pub const STAMP_B: usize = 1;
    pub const STOP: usize = 2;
    pub const READY: usize = 3;
    /// A parameter of the round in flight (probe-bl-giver: which block count).
    pub const ARG: usize = 4;

    /// Reads word `w`.
    #[inline(always)]
    pub fn get(w: usize) -> u64 {
        // SAFETY: the page is mapped in both VMs (system description); 8-byte aligned.
        unsafe { read_volatile((BASE + 8 * w) as *const u64) }
    }

    /// Writes word `w`.
    #[inline(always)]
    pub fn set(w: usize, v: u64) {
        // SAFETY: as in `get`; the caller is the word's only writer.
        unsafe { write_volatile((BASE + 8 * w) as *mut u64, v) }
    }
}
