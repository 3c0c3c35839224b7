//! Telemetry on: per-CPU state, the hooks, and the drain to the transport.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use hv_arch::context::{Exit, GuestRegs};
use hv_arch::cpu;
use hv_core::ext::MoveCause;
use hv_core::ids::{CpuId, VcpuId, VmId};
use hv_core::vgic::ListReg;
use hv_core::vgic::lr::MAX_LRS;
use hv_protocol::{Event, MigrateCause, SwitchReason, VmExitReason};
use hv_telemetry::{CpuTelemetry, ExitClass, MAX_PAYLOAD, RAW_DEPTH, Raw, Ring};

use super::super::decision::Left;
use super::super::generated::{CPU_COUNT, SYSTEM, VCPU_COUNT, VM_COUNT};
use super::super::state::{self, LIVE_VMS};

mod hello;
mod logger;
// Transport: null (benchmarks) > net > uart.
#[cfg(all(feature = "telemetry-net", not(feature = "telemetry-null")))]
mod net;
#[cfg(feature = "telemetry-null")]
mod null;
#[cfg(not(any(feature = "telemetry-net", feature = "telemetry-null")))]
mod uart;
#[cfg(all(feature = "telemetry-net", not(feature = "telemetry-null")))]
use net as transport;
#[cfg(feature = "telemetry-null")]
use null as transport;
#[cfg(not(any(feature = "telemetry-net", feature = "telemetry-null")))]
use uart as transport;

/// Bytes of encoded frames each CPU can hold before it drops events.
pub const RING_BYTES: usize = 32 * 1024;

/// `Counters` period: a tenth of a second of counter time.
const COUNTERS_PER_SECOND: u64 = 10;

/// PSCI function ids that end a VM (to name the reason of a `VmExit`).
const PSCI_SYSTEM_OFF: u32 = 0x8400_0008;
const PSCI_SYSTEM_RESET: u32 = 0x8400_0009;
const PSCI_CPU_OFF: u32 = 0x8400_0002;

/// The trap being handled, as [`exit`] saw it: raw facts only, classified at encoding.
/// Its ESR_EL2 is read when the trap ends: nothing at EL2 takes a synchronous exception
/// in between, so the register still holds it.
#[derive(Clone, Copy)]
#[repr(C)]
struct Pending {
    /// Counter value at the trap; 0: no trap is being handled.
    entry: u64,
    /// The guest's x0 at the trap (an HVC/SMC's function id).
    x0: u64,
    vcpu: u16,
    exit: ExitClass,
}

impl Pending {
    const NONE: Pending = Pending {
        entry: 0,
        x0: 0,
        vcpu: 0,
        exit: ExitClass::Sync,
    };

    /// The SMCCC function id, if the trap being handled is an HVC/SMC (EC 0x16/0x17).
    fn call(&self) -> Option<u32> {
        let ec = hv_arch::regs::esr() >> 26;
        (self.entry != 0 && self.exit == ExitClass::Sync && (ec == 0x16 || ec == 0x17))
            .then_some(self.x0 as u32)
    }
}

/// What one physical CPU keeps. `repr(C)` with the telemetry state (and its big queue)
/// last: what the trap path touches sits at small offsets, one instruction each to reach.
#[repr(C)]
struct PerCpu {
    /// The trap being handled.
    trap: Pending,
    /// A VM this CPU's current trap ended (reported after the trap's own record).
    vm_ended: Option<(VmId, VmExitReason)>,
    /// vCPU running now ([`IDLE`]: none).
    running: u32,
    /// Why the running vCPU gave the CPU back, when the run loop said so (names the next
    /// switch).
    left: Option<SwitchReason>,
    /// A vCPU ran here before.
    started: bool,
    /// Counter value of the last `Counters` record.
    last_counters: u64,
    /// A vCPU ran since the last `Counters` record (an idle CPU sends them then).
    counters_stale: bool,
    /// When the run loop next encodes and sends a batch (counter value).
    next_flush: u64,
    /// The defmt frame being assembled by the logger.
    log: [u8; MAX_PAYLOAD],
    log_len: usize,
    /// The logger is inside acquire..release on this CPU.
    logging: bool,
    t: CpuTelemetry<'static, RING_BYTES>,
}

impl PerCpu {
    const fn new(cpu: u16, ring: &'static Ring<RING_BYTES>) -> Self {
        PerCpu {
            trap: Pending::NONE,
            vm_ended: None,
            running: IDLE,
            left: None,
            started: false,
            last_counters: 0,
            counters_stale: false,
            next_flush: 0,
            log: [0; MAX_PAYLOAD],
            log_len: 0,
            logging: false,
            t: CpuTelemetry::new(cpu, ring),
        }
    }
}

struct Slot(UnsafeCell<PerCpu>);

// SAFETY: a slot is only dereferenced through `per_cpu`, whose contract restricts it to the
// physical CPU it belongs to.
unsafe impl Sync for Slot {}

/// Each CPU's ring of encoded frames: its CPU produces, the transport lock's holder consumes
/// (the CPU itself, or with `telemetry-net` whichever CPU drives the device).
static RINGS: [Ring<RING_BYTES>; CPU_COUNT] = [const { Ring::new() }; CPU_COUNT];

static CPUS: [Slot; CPU_COUNT] = {
    let mut a = [const { Slot(UnsafeCell::new(PerCpu::new(0, &RINGS[0]))) }; CPU_COUNT];
    let mut i = 0;
    while i < CPU_COUNT {
        // The slot's queue has a destructor, which a static's initialiser cannot run: the
        // placeholder replaced here is forgotten (it owns nothing).
        let placeholder = core::mem::replace(
            &mut a[i],
            Slot(UnsafeCell::new(PerCpu::new(i as u16, &RINGS[i]))),
        );
        core::mem::forget(placeholder);
        i += 1;
    }
    a
};
/// Held while a CPU writes to the transport (whole frames only).
static TRANSPORT_BUSY: AtomicBool = AtomicBool::new(false);
/// The hello went out (CPU 0 sends it at its first drain; nobody sends before).
static HELLO_SENT: AtomicBool = AtomicBool::new(false);
/// Per CPU: its latest counts are in its ring (it sent `Counters` after its vCPUs last ran,
/// or they never ran). The power-off waits for every CPU's, so that each stream ends with
/// its CPU's final counts.
static COUNTS_SENT: [AtomicBool; CPU_COUNT] = [const { AtomicBool::new(true) }; CPU_COUNT];
/// A VM's end was reported (by the CPU whose trap ended it, or through [`vm_exit`]).
static EXIT_REPORTED: [AtomicBool; VM_COUNT] = [const { AtomicBool::new(false) }; VM_COUNT];

/// This CPU's telemetry state.
///
/// # Safety
/// Only physical CPU `cpu` may call this, and it must not hold two references at once
/// (the hooks never call each other, and nothing at EL2 interrupts them).
unsafe fn per_cpu(cpu: usize) -> &'static mut PerCpu {
    // SAFETY: by the contract, this CPU is the slot's only user and holds no other reference.
    unsafe { &mut *CPUS[cpu].0.get() }
}

/// Runs `f` with the calling CPU's state (found from MPIDR).
fn with_this_cpu<R>(f: impl FnOnce(usize, &mut PerCpu) -> R) -> R {
    let cpu = super::this_cpu();
    // SAFETY: `cpu` is the CPU running this code; the reference ends with `f`.
    f(cpu, unsafe { per_cpu(cpu) })
}

/// Whether vCPU `raw` is on (a switch away from one that is not is an exit).
fn is_on(raw: u16) -> bool {
    state::vcpu_on(VcpuId::new(raw)).load(Ordering::Relaxed)
}

// ---------------------------------------------------------------- hooks of the run loop

/// Records queued before the run loop encodes them even if [`FLUSH_PER_SECOND`] has not
/// come: three quarters of the queue, so a guest that traps faster than records can be
/// encoded stalls in one bounded batch instead of losing records.
const HIGH_WATER: usize = RAW_DEPTH * 3 / 4;
/// Records one periodic flush encodes at most (bounds the time one trap can take).
const FLUSH_BUDGET: usize = 256;
/// How often a busy CPU encodes and sends what it queued (per second of counter time).
const FLUSH_PER_SECOND: u64 = 1000;

/// Before entering vCPU `v` on `cpu`: record the trap that ends (one copy into the queue)
/// and a switch if another vCPU runs now. Encoding and sending happen here only every
/// millisecond or when the queue is three quarters full — never per trap.
#[inline(always)]
pub fn enter(cpu: CpuId, v: VcpuId, regs: &GuestRegs) {
    let cpu = cpu.index();
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu) };
    let now = cpu::stamp();
    let queued = finish_trap(p, now, regs.x[0]);
    let v = v.raw();
    if p.running != v as u32 {
        switch_to(p, now, v);
    }
    // A VM the trap ended is reported by `flush` (it sets `next_flush` to now).
    if now >= p.next_flush || queued >= HIGH_WATER {
        flush(cpu, p, now);
    }
}

/// Another vCPU than the last one is entered: the switch record, named by why the last one
/// left (which is then forgotten).
#[cold]
#[inline(never)]
fn switch_to(p: &mut PerCpu, now: u64, v: u16) {
    let reason = match (running(p), p.left.take()) {
        (None, _) if !p.started => SwitchReason::Start,
        (None, _) => SwitchReason::Irq,
        (Some(old), _) if !is_on(old) => SwitchReason::Exit,
        (Some(_), Some(r)) => r,
        (Some(_), None) => SwitchReason::Irq,
    };
    switch(p, now, Some(v), reason);
}

/// Right after vCPU `v` trapped to EL2 on `cpu`: stamp the entry and keep the raw facts
/// (how it left, x0) — nothing is classified or counted here.
#[inline(always)]
pub fn exit(cpu: CpuId, v: VcpuId, why: &Exit, regs: &GuestRegs) {
    let now = cpu::stamp();
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu.index()) };
    // The same codes (see `Exit`): the match is the identity.
    let exit = match why {
        Exit::Sync => ExitClass::Sync,
        Exit::Irq => ExitClass::Irq,
        Exit::Fiq => ExitClass::Fiq,
        Exit::SError => ExitClass::SError,
    };
    p.trap = Pending {
        entry: now,
        x0: regs.x[0],
        vcpu: v.raw(),
        exit,
    };
}

/// The counter value a trap the exit fast path answers is stamped with on arrival.
#[inline(always)]
pub fn stamp() -> u64 {
    cpu::stamp()
}

/// A trap of vCPU `v` that the exit fast path answered (syndrome `esr`, x0 before and
/// after, arrived at `entry`): the same record the run loop's [`exit`] and [`enter`]
/// make, written at once — the vCPU stays the one running, so there is no switch to note.
#[inline(always)]
pub fn answered(v: VcpuId, esr: u64, entry: u64, x0_in: u64, x0_out: u64) {
    let cpu = super::super::placement::cpu_of(v).index();
    // SAFETY: the fast path of `cpu` (the CPU `v` is placed on) runs on `cpu`, inside
    // `enter_guest`, when the run loop's hooks hold no reference to the slot.
    let p = unsafe { per_cpu(cpu) };
    let now = cpu::stamp();
    let queued = p.t.record(Raw::Trap {
        entry,
        ret: now,
        x0_in,
        x0_out,
        esr: esr as u32,
        vcpu: v.raw(),
        exit: ExitClass::Sync,
    });
    if now >= p.next_flush || queued >= HIGH_WATER {
        flush(cpu, p, now);
    }
}

/// Encodes a bounded batch of queued records (everything when over the high-water mark),
/// the periodic counters when due, and hands the ring to the transport if it wants it.
#[cold]
#[inline(never)]
fn flush(cpu: usize, p: &mut PerCpu, now: u64) {
    if p.vm_ended.is_some() {
        vm_ended(p, now);
    }
    let per_second = cpu::counter_frequency();
    p.next_flush = now + per_second / FLUSH_PER_SECOND;
    let budget = if p.t.queued() >= HIGH_WATER {
        usize::MAX
    } else {
        FLUSH_BUDGET
    };
    p.t.pump(budget);
    if now.wrapping_sub(p.last_counters) >= per_second / COUNTERS_PER_SECOND {
        counters(p, now);
    }
    let pending = p.t.ring.len();
    if transport::due(pending, now) {
        drain(cpu, transport::must_wait(pending, RING_BYTES));
    }
}

/// The running vCPU on `cpu` gave the CPU back to the schedule, for `why`; `slots`: the CPU
/// has a slot table (its EL2 timer then marks slot ends).
pub fn left(cpu: CpuId, why: Left, slots: bool) {
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu.index()) };
    p.left = Some(match why {
        Left::Waiting => SwitchReason::Wfi,
        Left::Stopped => SwitchReason::Exit,
        Left::Reflecting => SwitchReason::Yield,
        Left::Preempted => SwitchReason::Irq,
        Left::Timer if slots => SwitchReason::Slot,
        Left::Timer => SwitchReason::Irq,
    });
}

/// The CPU has nothing to run: report the switch to idle, encode what is queued and drain
/// (waiting for the transport if need be), then the counters — until an interrupt is
/// pending: then the CPU goes back to its run loop within one record's encoding or one
/// frame's sending, and the rest waits for the next idle or flush. Between pieces it lets
/// the other CPUs go first ([`yield_or_stop`]).
#[inline(never)]
pub fn idle(cpu: CpuId) {
    let cpu = cpu.index();
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu) };
    let now = cpu::counter();
    finish_trap(p, now, 0);
    vm_ended(p, now);
    p.left = None;
    let ran = running(p);
    if let Some(old) = ran {
        let reason = if is_on(old) {
            SwitchReason::Wfi
        } else {
            SwitchReason::Exit
        };
        switch(p, now, None, reason);
    }
    pump_idle(cpu, p);
    // The counters after everything queued before them is out, when a vCPU ran since the
    // last ones (or none went out yet) and no interrupt waits — else at a later idle: each
    // CPU's stream ends with its latest counts, and a wake-up never waits for more than
    // one record's encoding.
    if ran.is_some() {
        p.counters_stale = true;
        COUNTS_SENT[cpu].store(false, Ordering::Release);
    }
    if (p.counters_stale || p.last_counters == 0) && p.t.queued() == 0 && !yield_or_stop() {
        counters(p, now);
        COUNTS_SENT[cpu].store(true, Ordering::Release);
        pump_idle(cpu, p);
    }
}

/// Encodes everything this CPU queued and sends it, waiting for the transport; the ring may
/// fill faster than the transport takes it, so this goes round until the queue is empty —
/// or until a drain sends nothing (a secondary CPU before the hello went out): the records
/// then stay queued for the next time.
fn pump_all(cpu: usize, p: &mut PerCpu) {
    loop {
        p.t.pump(usize::MAX);
        let before = p.t.ring.len();
        drain(cpu, true);
        if p.t.queued() == 0 || p.t.ring.len() >= before {
            break;
        }
    }
    p.next_flush = cpu::counter() + cpu::counter_frequency() / FLUSH_PER_SECOND;
}

/// The machine is about to power off (the last VM ended): finish this CPU's trap, report
/// the switch to idle and the final counters, send everything, then wait a bounded time (a
/// tenth of a second) until every other CPU has its final counts queued and every ring is
/// empty — the other CPUs drain theirs (UART), or this
/// one sends them (net) — and let the transport flush what it holds. Called by [`log_line`]
/// when no VM is left (the power-off path logs before it powers off).
pub fn power_off() {
    with_this_cpu(|cpu, p| {
        let now = cpu::counter();
        finish_trap(p, now, 0);
        vm_ended(p, now);
        if p.running != IDLE {
            switch(p, now, None, SwitchReason::Exit);
        }
        p.t.pump(usize::MAX);
        counters(p, now);
        pump_all(cpu, p);
    });
    let deadline = cpu::counter() + cpu::counter_frequency() / 10;
    let me = super::this_cpu();
    let unsent = || {
        RINGS.iter().any(|r| !r.is_empty())
            || (0..CPU_COUNT).any(|c| c != me && !COUNTS_SENT[c].load(Ordering::Acquire))
    };
    while cpu::counter() < deadline && unsent() {
        // The other CPUs send their final counts and drain their rings (UART), or this one
        // sends them (net); they go first (`cpu::relax`).
        drain(me, false);
        cpu::send_event();
        cpu::relax();
    }
    lock_transport();
    transport::flush();
    TRANSPORT_BUSY.store(false, Ordering::Release);
}

/// The machine powers off now: the transport is taken for good, after a last flush. An
/// idle CPU that took it between the power-off's flush and the SYSTEM_OFF would otherwise
/// be cut off in the middle of a frame (the monitor then counts an unfinished frame).
pub fn seal() {
    lock_transport();
    transport::flush();
}

/// Queues the record of the trap that ends now (`x0`: the guest's x0 at ERET); returns the
/// records queued after it (0: no trap was being handled).
#[inline(always)]
fn finish_trap(p: &mut PerCpu, now: u64, x0: u64) -> usize {
    let t = p.trap;
    if t.entry == 0 {
        return 0;
    }
    p.trap.entry = 0;
    p.t.record(Raw::Trap {
        entry: t.entry,
        ret: now,
        x0_in: t.x0,
        x0_out: x0,
        esr: hv_arch::regs::esr() as u32,
        vcpu: t.vcpu,
        exit: t.exit,
    })
}

#[cold]
#[inline(never)]
fn vm_ended(p: &mut PerCpu, now: u64) {
    if let Some((vm, reason)) = p.vm_ended.take() {
        p.t.record(Raw::VmExit {
            ts: now,
            vm: vm.raw(),
            reason,
        });
    }
}

fn exit_reason(last_call: u32) -> VmExitReason {
    match last_call {
        PSCI_SYSTEM_OFF => VmExitReason::PowerOff,
        PSCI_SYSTEM_RESET => VmExitReason::Reset,
        PSCI_CPU_OFF => VmExitReason::AllCpusOff,
        _ => VmExitReason::Fault,
    }
}

/// [`PerCpu::running`] when no vCPU runs.
const IDLE: u32 = u32::MAX;

/// The vCPU running on this CPU, if any.
fn running(p: &PerCpu) -> Option<u16> {
    (p.running != IDLE).then_some(p.running as u16)
}

fn switch(p: &mut PerCpu, now: u64, to: Option<u16>, reason: SwitchReason) {
    let from = running(p);
    p.running = to.map_or(IDLE, u32::from);
    p.started |= to.is_some();
    p.t.counters.switch();
    p.t.record(Raw::Switch {
        ts: now,
        from,
        to,
        reason,
    });
}

/// The periodic `Counters` record; traps are counted as their records are encoded, so
/// the queue is encoded first.
fn counters(p: &mut PerCpu, now: u64) {
    p.last_counters = now.max(1);
    p.counters_stale = false;
    p.t.pump(usize::MAX);
    let e = p.t.counters_event();
    p.t.emit(now, &e);
}

// ---------------------------------------------------------------- events from anywhere

/// VM `vm` stopped (called once, on the CPU that stopped it, while it handles the trap
/// that did: that trap names the reason, and its record goes out first).
#[inline(never)]
pub fn vm_exit(vm: VmId) {
    if EXIT_REPORTED[vm.index()].swap(true, Ordering::Relaxed) {
        return;
    }
    with_this_cpu(|_, p| {
        let call = p.trap.call().unwrap_or(0);
        match p.trap.entry {
            1.. => {
                p.vm_ended = Some((vm, exit_reason(call)));
                // The next entry's flush reports it, after the trap's own record.
                p.next_flush = 0;
            }
            // Not inside a trap (an lwVM's system call is one too): report it now.
            0 => {
                p.t.record(Raw::VmExit {
                    ts: cpu::counter(),
                    vm: vm.raw(),
                    reason: exit_reason(call),
                });
            }
        }
    });
}

/// Bytes VM `vm` wrote to its console (any length; split into records).
#[inline(never)]
pub fn console(vm: VmId, bytes: &[u8]) {
    with_this_cpu(|_, p| {
        let ts = cpu::counter();
        for chunk in bytes.chunks(MAX_PAYLOAD) {
            p.t.emit(
                ts,
                &Event::Console {
                    vm: vm.raw(),
                    bytes: chunk,
                },
            );
        }
    });
}

/// Encodes and sends everything CPU `cpu` queued, waiting for the transport (the run loop
/// of `cpu` calls it, at idle): a piece of a console line must be on the wire before
/// another CPU can send the rest of that line through its own ring.
pub fn send_now(cpu: CpuId) {
    let cpu = cpu.index();
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu) };
    pump_all(cpu, p);
}

/// [`send_now`] for the CPU this code runs on (a handler that found it must).
pub fn send_here() {
    send_now(CpuId::new(super::this_cpu() as u16));
}

/// One hypervisor log line, as a defmt frame (`{=str}`) in a `Log` record.
#[inline(never)]
pub fn log_line(line: &[u8]) {
    let s = match core::str::from_utf8(line) {
        Ok(s) => s,
        // A line cut inside a UTF-8 sequence: keep the valid prefix.
        Err(e) => core::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or(""),
    };
    // `println` (no level): always compiled in, whatever DEFMT_LOG says.
    defmt::println!("{=str}", s);
    // Log lines are rare and may be the last words before a power-off: send them now, and
    // everything else too when no VM is left.
    if LIVE_VMS.load(Ordering::Acquire) == 0 {
        power_off();
    } else {
        drain(super::this_cpu(), false);
    }
}

/// An experiment marker (hypercall TELEMETRY_MARKER) of vCPU `vcpu`.
#[inline(never)]
pub fn marker(vcpu: VcpuId, id: u16, value: u64) {
    with_this_cpu(|_, p| {
        p.t.record(Raw::Marker {
            ts: cpu::counter(),
            vcpu: vcpu.raw(),
            id,
            value,
        });
    });
}

/// Elastic pool `pool` moved VM `vm` from `from` to `to` blocks.
#[inline(never)]
pub fn elastic(pool: usize, vm: VmId, from: u32, to: u32) {
    with_this_cpu(|_, p| {
        p.t.record(Raw::Elastic {
            ts: cpu::counter(),
            vm: vm.raw(),
            pool: pool as u16,
            from,
            to,
        });
    });
}

/// lwVM `vm`'s shadow paging did `op` at its VA `va` (on the lwVM's own CPU).
#[inline(never)]
pub fn shadow(vm: VmId, op: super::ShadowOp, va: u64) {
    use super::ShadowOp as Op;
    let op = match op {
        Op::Fill => hv_protocol::ShadowOp::Fill,
        Op::TableWrite => hv_protocol::ShadowOp::TableWrite,
        Op::Tlbi => hv_protocol::ShadowOp::Tlbi,
        Op::Flush => hv_protocol::ShadowOp::Flush,
        Op::GuestFault => hv_protocol::ShadowOp::GuestFault,
        Op::Switch => hv_protocol::ShadowOp::Switch,
    };
    with_this_cpu(|_, p| {
        p.t.record(Raw::Shadow {
            ts: cpu::counter(),
            vm: vm.raw(),
            op,
            va,
        });
    });
}

/// vCPU `v` was handed from CPU `from` (this one) to `to`, for `cause`.
#[inline(never)]
pub fn migrated(v: VcpuId, from: CpuId, to: CpuId, cause: MoveCause) {
    let cause = match cause {
        MoveCause::Hint => MigrateCause::Hint,
        MoveCause::Governor => MigrateCause::Governor,
        MoveCause::Plan => MigrateCause::Plan,
    };
    with_this_cpu(|_, p| {
        p.t.record(Raw::Migrated {
            ts: cpu::counter(),
            vcpu: v.raw(),
            from: from.raw(),
            to: to.raw(),
            cause,
        });
    });
}

/// Per vCPU: the virtual INTIDs its list registers still held pending at its last exit
/// (re-filled, they are not new injections). Touched only by the vCPU's own CPU.
struct LrBack(UnsafeCell<([u32; MAX_LRS], u8)>);

// SAFETY: an entry is only touched by the CPU that holds its vCPU (`lrs_back` and
// `lrs_filled` are called from that CPU's run loop; a hand-over to another CPU is
// ordered after the last use, `placement::hand`).
unsafe impl Sync for LrBack {}

static LR_BACK: [LrBack; VCPU_COUNT] =
    [const { LrBack(UnsafeCell::new(([0; MAX_LRS], 0))) }; VCPU_COUNT];

/// The list registers of vCPU `vcpu` as read back at its exit: remember which interrupts
/// were still pending in them.
pub fn lrs_back(vcpu: VcpuId, lrs: &[u64]) {
    // SAFETY: called by the run loop of the CPU that holds `vcpu` (see `LrBack`).
    let (ids, n) = unsafe { &mut *LR_BACK[vcpu.index()].0.get() };
    *n = 0;
    for &raw in lrs {
        let lr = ListReg::decode(raw);
        if lr.state.pending() && (*n as usize) < MAX_LRS {
            ids[*n as usize] = lr.vintid;
            *n += 1;
        }
    }
}

/// The list registers filled for vCPU `vcpu` on `cpu`: each interrupt that entered one as
/// pending and was not already pending in one at the last exit is an injection, reported
/// with its latency from the entry of the trap being handled (the trap that raised it, or
/// the kick that made this CPU look).
pub fn lrs_filled(cpu: CpuId, vcpu: VcpuId, lrs: &[u64]) {
    // SAFETY: called by the run loop of the CPU that holds `vcpu` (see `LrBack`).
    let (ids, n) = unsafe { &mut *LR_BACK[vcpu.index()].0.get() };
    let before = &ids[..*n as usize];
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu.index()) };
    let ts = cpu::counter();
    let latency_ticks = match p.trap.entry {
        0 => 0,
        entry => ts.wrapping_sub(entry).min(u32::MAX as u64) as u32,
    };
    for &raw in lrs {
        let lr = ListReg::decode(raw);
        if lr.state.pending() && !lr.state.active() && !before.contains(&lr.vintid) {
            p.t.record(Raw::IrqInjected {
                ts,
                vcpu: vcpu.raw(),
                intid: lr.vintid,
                latency_ticks,
            });
        }
    }
    *n = 0;
}

/// Virtual `intid` entered a list register of vCPU `vcpu` on `cpu` as a new injection, put
/// there by the trap path itself (a timer tick: nothing was in the list registers before
/// it), with its latency from the entry of the trap being handled.
#[inline(always)]
pub fn injected(cpu: CpuId, vcpu: VcpuId, intid: u32) {
    // SAFETY: the run loop of `cpu` calls this on `cpu`.
    let p = unsafe { per_cpu(cpu.index()) };
    let ts = cpu::stamp();
    let latency_ticks = ts.wrapping_sub(p.trap.entry).min(u32::MAX as u64) as u32;
    p.t.record(Raw::IrqInjected {
        ts,
        vcpu: vcpu.raw(),
        intid,
        latency_ticks,
    });
}

/// A hypercall other than the ones [`enter`] reports by itself (it reports every HVC/SMC
/// trap's function and x0 result); for handlers that finish a call later.
#[inline(never)]
pub fn hypercall(vcpu: VcpuId, func: u32, result: i64) {
    with_this_cpu(|_, p| {
        p.t.emit(
            cpu::counter(),
            &Event::Hypercall {
                vcpu: vcpu.raw(),
                func,
                result,
            },
        );
    });
}

// ---------------------------------------------------------------- the drain

/// Takes the transport, waiting for it.
fn lock_transport() {
    while TRANSPORT_BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        // The holder may be an idle CPU that yielded to this one (`yield_or_stop`).
        cpu::relax();
    }
}

/// Sends this CPU's ring (and, with `telemetry-net`, the others'). `block`: wait for the
/// transport and let it send everything; otherwise skip when it is busy (its holder may
/// take this ring along).
fn drain(cpu: usize, block: bool) {
    if block {
        lock_transport();
    } else if TRANSPORT_BUSY
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    if !HELLO_SENT.load(Ordering::Relaxed) {
        if cpu == 0 {
            hello::send(transport::send_hello);
            HELLO_SENT.store(true, Ordering::Relaxed);
        } else {
            TRANSPORT_BUSY.store(false, Ordering::Release);
            return;
        }
    }
    transport::drain(cpu, &RINGS, block, false);
    TRANSPORT_BUSY.store(false, Ordering::Release);
}

/// Sends this CPU's ring while it idles: as [`drain`] with `block`, but it gives the CPU
/// back as soon as an interrupt is pending, so that an IPI or a timer does not wait for
/// the UART; what is left goes at the next idle or flush.
fn drain_idle(cpu: usize) {
    lock_transport();
    if !HELLO_SENT.load(Ordering::Relaxed) {
        TRANSPORT_BUSY.store(false, Ordering::Release);
        return drain(cpu, true);
    }
    transport::drain(cpu, &RINGS, true, true);
    TRANSPORT_BUSY.store(false, Ordering::Release);
}

/// Encodes what this CPU queued and sends it before the CPU waits for an interrupt, in
/// batches, until nothing is left or an interrupt is pending.
fn pump_idle(cpu: usize, p: &mut PerCpu) {
    loop {
        if hv_arch::gic::irq_pending() {
            break;
        }
        p.t.pump_while(IDLE_BATCH, || !yield_or_stop());
        let before = p.t.ring.len();
        drain_idle(cpu);
        let after = p.t.ring.len();
        if (p.t.queued() == 0 && after == 0) || (after >= before && before != 0) {
            break;
        }
    }
    p.next_flush = cpu::counter() + cpu::counter_frequency() / FLUSH_PER_SECOND;
}

/// Between two pieces of an idle CPU's telemetry work: whether to stop (an interrupt is
/// pending), after letting the other CPUs go first when none is (the work is low-priority:
/// `cpu::relax`) — and looking again, since one may have come meanwhile.
fn yield_or_stop() -> bool {
    hv_arch::gic::irq_pending() || {
        cpu::relax();
        hv_arch::gic::irq_pending()
    }
}

/// Records one idle batch encodes at most (a few UART milliseconds); it stops earlier when an
/// interrupt is pending (looked at after every record).
const IDLE_BATCH: usize = 32;

/// Emits a finished defmt frame of this CPU (the logger's release).
fn log_frame(p: &mut PerCpu) {
    let n = p.log_len;
    let frame = p.log;
    p.t.emit(
        cpu::counter(),
        &Event::Log {
            defmt_frame: &frame[..n],
        },
    );
}

/// The per-CPU state for the logger (acquire/write/release run on one CPU, in sequence).
fn logger_cpu() -> &'static mut PerCpu {
    let cpu = super::this_cpu();
    // SAFETY: the logger runs on `cpu` between hooks, never inside one (no hook logs).
    unsafe { per_cpu(cpu) }
}
