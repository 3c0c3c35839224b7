//! The per-CPU run loop: pick the vCPU to run from the static schedule, switch to it,
//! deliver its virtual interrupts, run it until it traps, handle the trap, repeat.
//!
//! Scheduling is the configuration's fixed-priority, event-driven order for this CPU
//! (`SYSTEM.cpus[cpu].schedule`, highest priority first): the first vCPU that is on, or
//! waiting with an interrupt to take, runs. Since the loop picks again after every trap,
//! a higher-priority vCPU that got an interrupt preempts at the next exit (a kick SGI or
//! the interrupt itself forces one).
use core::sync::atomic::Ordering;

use hv_arch::context::{Exit, enter_guest, take_guest_serror};
use hv_arch::{cpu, timer};
use hv_core::ext::Ran;
use hv_core::fast;
use hv_core::ids::{CpuId, VcpuId, VmId};
use hv_core::schedule::slot_at;
use hv_core::sysdesc::Slot;
use hv_core::trap::inject::GuestException;

use super::decision::{Left, Outcome};
use super::generated::SYSTEM;
use super::inject::inject_fault;
use super::state::{self, Power};
use super::world::{self, CpuCtx, power_on};
use super::{console, exit, ext, irq, kick, placement, reflect, vmctl};

/// Runs the vCPUs placed on `cpu_index` until the machine powers off.
///
/// Two loops: the outer one decides what runs (start requests, resets, the schedule, the
/// world switch); the inner one ([`run_loaded`]) re-enters the chosen vCPU after every trap
/// that cannot change that decision — an answered hypercall, an emulated system register or
/// MMIO access with nothing raised for another vCPU of this CPU — without looking at the
/// schedule again.
pub fn run_cpu(cpu: CpuId) -> ! {
    let mut ctx = CpuCtx::new(cpu);
    for v in SYSTEM.cpu(cpu).schedule_ids() {
        let d = SYSTEM.vcpu(v);
        if d.index_in_vm == 0 && placement::is_home(cpu, v) {
            vmctl::boot_vm(&mut ctx, d.vm_id());
        }
    }
    loop {
        kick::take_resched(cpu);
        ext::resync(cpu);
        hand_over(&mut ctx);
        take_start_requests(&mut ctx);
        vmctl::service_resets(&mut ctx);
        let next = pick(&mut ctx);
        settle_serror(&mut ctx, next);
        let Some(v) = next else {
            console::send_partial_lines(cpu);
            super::telemetry::idle(cpu);
            idle(&mut ctx);
            continue;
        };
        if ext::claims_vcpu(v) {
            // An extension's runnable (e.g. an lwVM): no EL1/stage-2/vGIC switch.
            world::release_fp(&mut ctx);
            world::park_pmu(&mut ctx);
            match ext::run(cpu, v, ctx.vcpus.get(v)) {
                Ran::Handled => {}
                Ran::PhysicalIrq => world::physical_irqs(&mut ctx),
            }
            continue;
        }
        world::switch_to(&mut ctx, v);
        // An extension's runnable may hold CPU state (an lwVM's FP/SIMD registers).
        ext::before_switch(cpu);
        let vcpu = ctx.vcpus.get(v);
        if core::mem::take(&mut vcpu.reflect_done) {
            let outcome = reflect::apply_completion(v, vcpu);
            if carry_out(SYSTEM.vm_of(v), outcome) {
                continue;
            }
        }
        if !state::vm(SYSTEM.vm_of(v)).alive.load(Ordering::Acquire) {
            continue;
        }
        let slots = ctx.slots();
        let wake = preempting_deadline(&mut ctx, v);
        arm_preemption(cpu, slots, wake);
        let since = if ext::ACCOUNTS { cpu::counter() } else { 0 };
        let left = run_loaded(&mut ctx, v);
        if ext::ACCOUNTS {
            ext::ran(cpu, v, since, cpu::counter(), left == Left::Waiting);
        }
        super::telemetry::left(cpu, left, slots.is_some());
    }
}

/// Hands the vCPUs an extension moves away from this CPU (big.LITTLE) to their new CPUs:
/// each is parked — all its state saved into its `Vcpu` ([`world::evict`]) — then given
/// to the other CPU, which is kicked and takes it up at its next look at its schedule.
/// Here, at the top of the run loop, no guest runs and no handler holds a vCPU: the
/// trap boundary the hand-over needs. Without an extension that moves vCPUs this is
/// nothing.
#[inline(always)]
fn hand_over(ctx: &mut CpuCtx) {
    while let Some(d) = ext::departure(ctx.id) {
        move_vcpu(ctx, d);
    }
}

#[cfg(feature = "big-little")]
#[inline(never)]
fn move_vcpu(ctx: &mut CpuCtx, d: hv_core::ext::Departure) {
    let (v, from, to) = (d.vcpu, ctx.id, d.to);
    let allowed = SYSTEM.vcpu(v).cpus.contains(&to.raw());
    if !placement::holds(from, v) || to == from || !allowed {
        // Not this CPU's to give, or nowhere it may go: an extension's bug, never a move.
        return;
    }
    world::evict(ctx, v);
    // Before the hand-over: the destination may take the vCPU up as soon as it is its,
    // and must then find the extension's state for it ready (a plan's or governor's
    // next look at it).
    ext::moved(v, from, to);
    super::telemetry::migrated(v, from, to, d.cause);
    placement::hand(v, to);
    if SYSTEM.vcpu(v).index_in_vm == 0 {
        // The VM's physical SPIs follow its boot vCPU (their default target).
        irq::route_spis(SYSTEM.vm_of(v), to);
    }
    kick::kick_cpu(to);
}

#[cfg(not(feature = "big-little"))]
#[inline(always)]
fn move_vcpu(_ctx: &mut CpuCtx, _d: hv_core::ext::Departure) {}

/// Runs loaded vCPU `v` until it stops being runnable, its VM ends, or something may have
/// changed what this CPU runs: a handler or an interrupt made another of its vCPUs runnable,
/// a kick from another CPU, the EL2 timer (a slot end, a saved timer's deadline). Its own
/// timer interrupt and maintenance interrupts keep it running.
fn run_loaded(ctx: &mut CpuCtx, v: VcpuId) -> Left {
    let cpu = ctx.id;
    world::arm_fp(ctx, v);
    let mut vcpu = ctx.vcpus.get(v);
    // The exit fast path never looks at the reschedule flag (nothing it answers sets it):
    // while one is pending from before this entry (settle_serror resetting a VM, say), the
    // vCPU is offered no fast path, so that its first trap reaches the check below.
    vcpu.regs.fast = if kick::resched_pending(cpu) {
        0
    } else {
        fast::OFFERED
    };
    loop {
        match vcpu.power {
            Power::On => {}
            Power::Waiting => return Left::Waiting,
            Power::Reflecting => return Left::Reflecting,
            Power::Off => return Left::Stopped,
        }
        irq::before_entry(cpu, v, vcpu);
        super::telemetry::enter(cpu, v, &vcpu.regs);
        let why = enter_guest(&mut vcpu.regs);
        super::telemetry::exit(cpu, v, &why, &vcpu.regs);
        irq::after_exit(v, vcpu);
        let outcome = match why {
            Exit::Sync => exit::handle_sync(v, vcpu),
            Exit::Irq | Exit::Fiq => {
                irq::on_guest_irq(cpu, v, vcpu);
                Outcome::Continue
            }
            Exit::SError => exit::fatal(v, "SError from the guest"),
        };
        if let Outcome::TakeFp = outcome {
            // Its first FP/SIMD instruction since another vCPU used them: the registers
            // move, the instruction is retried.
            if !world::take_fp(ctx, v) {
                inject_fault(ctx.vcpus.get(v), GuestException::Undefined);
            }
            vcpu = ctx.vcpus.get(v);
            continue;
        }
        if carry_out(SYSTEM.vm_of(v), outcome) {
            return Left::Stopped;
        }
        match kick::take_resched(cpu) {
            0 => {}
            why => {
                // The only way out between an IRQ exit and the next entry: a tick the
                // exit put in a list register goes back to the model (`irq::leave`).
                irq::leave(v, vcpu);
                return resched_left(why);
            }
        }
    }
}

/// Why a vCPU leaves for reschedule request `why` (nonzero, from `kick::take_resched`).
fn resched_left(why: u8) -> Left {
    if why == kick::RESCHED_TIMER {
        Left::Timer
    } else {
        Left::Preempted
    }
}

/// `next` runs on this CPU (`None`: it idles): if another runnable ran before, a physical
/// SError its memory accesses left pending is taken now and charged to it — left
/// pending, it would be taken while the next guest runs and end that one.
#[inline(never)]
fn settle_serror(ctx: &mut CpuCtx, next: Option<VcpuId>) {
    if let Some(prev) = ctx.hand_over(next)
        && take_guest_serror()
    {
        charge_serror(prev);
    }
}

#[cold]
#[inline(never)]
fn charge_serror(prev: VcpuId) {
    stop(
        SYSTEM.vm_of(prev),
        exit::fatal(prev, "SError from the guest"),
    );
}

/// Carries out a handler's decision for VM `vm`; true when the VM stopped running (the
/// run loop then leaves its vCPU).
#[inline(always)]
fn carry_out(vm: VmId, outcome: Outcome) -> bool {
    if let Outcome::Continue = outcome {
        return false;
    }
    stop(vm, outcome);
    true
}

/// The VM powers off, resets or faulted.
#[cold]
#[inline(never)]
fn stop(vm: VmId, outcome: Outcome) {
    match outcome {
        Outcome::Continue | Outcome::TakeFp => {}
        Outcome::VmOff => vmctl::vm_off(vm),
        Outcome::VmReset => vmctl::request_reset(vm),
        Outcome::VmFault => vmctl::vm_fault(vm),
    }
}

fn take_start_requests(ctx: &mut CpuCtx) {
    for v in SYSTEM.cpu(ctx.id).schedule_ids() {
        if !placement::holds(ctx.id, v) {
            continue;
        }
        if let Some((entry, context_id)) = state::start(v).take() {
            power_on(ctx, v, entry, context_id);
        }
    }
}

/// The first vCPU of the schedule that can run; wakes waiting vCPUs that have an
/// interrupt (or a fired virtual timer, checked for vCPUs not loaded).
fn pick(ctx: &mut CpuCtx) -> Option<VcpuId> {
    let now = cpu::counter();
    let slot = current_slot(ctx.slots(), now);
    for v in SYSTEM.cpu(ctx.id).schedule_ids() {
        if let Some((allowed, _)) = slot
            && allowed != Some(v.raw())
        {
            continue;
        }
        if !state::vm(SYSTEM.vm_of(v)).alive.load(Ordering::Relaxed) || !placement::holds(ctx.id, v)
        {
            continue;
        }
        let loaded = ctx.loaded();
        let vcpu = ctx.vcpus.get(v);
        match vcpu.power {
            Power::On => return Some(v),
            Power::Waiting => {
                if loaded != Some(v) {
                    irq::check_saved_timer(v, vcpu, now);
                }
                if irq::has_pending(v) || (loaded == Some(v) && timer_fired()) {
                    vcpu.power = Power::On;
                    return Some(v);
                }
            }
            Power::Reflecting => {
                if reflect::poll(v, now) {
                    vcpu.power = Power::On;
                    vcpu.reflect_done = true;
                    return Some(v);
                }
            }
            Power::Off => {}
        }
    }
    None
}

/// The time slot of this CPU covering `now`, if the CPU has a slot table: (the vCPU
/// allowed to run, when the next slot starts).
fn current_slot(slots: Option<&'static [Slot]>, now: u64) -> Option<(Option<u16>, u64)> {
    slot_at(slots?, cpu::counter_frequency(), now)
}

/// Arms the EL2 timer for the earliest moment the running vCPU must give the CPU back: the
/// end of the current slot (a CPU with a slot table), the saved timer deadline of a vCPU
/// that would preempt it (`wake`, see [`preempting_deadline`]), or an extension's need of
/// this CPU (a balloon revocation deadline).
fn arm_preemption(cpu: CpuId, slots: Option<&'static [Slot]>, wake: Option<u64>) {
    let end = slots.and_then(|s| current_slot(Some(s), cpu::counter()).map(|(_, end)| end));
    let at = earlier(earlier(end, wake), ext::deadline(cpu));
    if at.is_some() {
        timer::set_hyp_deadline(at);
    }
}

/// The earlier of two optional deadlines.
#[inline(always)]
fn earlier(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The earliest saved timer deadline of the vCPUs before `v` in this CPU's schedule that
/// wait: their timers do not run while they are not loaded, so without the EL2 timer a
/// busy lower-priority `v` would keep a higher-priority vCPU asleep past its deadline
/// (the run loop looks at the schedule only when `v` leaves it). Scans the schedule once
/// per switch, never per trap.
fn preempting_deadline(ctx: &mut CpuCtx, v: VcpuId) -> Option<u64> {
    let mut earliest: Option<u64> = None;
    for w in SYSTEM.cpu(ctx.id).schedule_ids() {
        if w == v {
            break;
        }
        if !placement::holds(ctx.id, w) {
            continue;
        }
        let vcpu = ctx.vcpus.get(w);
        if let Power::Waiting = vcpu.power {
            earliest = earlier(earliest, irq::saved_deadline(vcpu));
        }
    }
    earliest
}

/// Whether the loaded guest's virtual or EL1 physical timer condition is met and unmasked.
fn timer_fired() -> bool {
    let fired = |ctl: u64| {
        ctl & timer::CTL_ENABLE != 0 && ctl & timer::CTL_IMASK == 0 && ctl & timer::CTL_ISTATUS != 0
    };
    fired(timer::guest_vtimer_ctl()) || fired(timer::guest_ptimer_ctl())
}

/// Nothing to run: unload the current vCPU (so every timer deadline is in saved state),
/// arm the EL2 timer for the earliest one, and wait for an interrupt.
fn idle(ctx: &mut CpuCtx) {
    world::unload(ctx);
    let mut earliest: Option<u64> = None;
    let schedule = SYSTEM.cpu(ctx.id).schedule_ids();
    for v in schedule.clone() {
        if !placement::holds(ctx.id, v) {
            continue;
        }
        let vcpu = ctx.vcpus.get(v);
        let d = match vcpu.power {
            Power::Waiting => irq::saved_deadline(vcpu),
            // A reflection nobody answers is abandoned at its deadline.
            Power::Reflecting => reflect::deadline(v),
            _ => None,
        };
        if let Some(d) = d {
            earliest = Some(earliest.map_or(d, |e: u64| e.min(d)));
        }
    }
    if let Some((_, end)) = current_slot(ctx.slots(), cpu::counter()) {
        earliest = Some(earliest.map_or(end, |e| e.min(end)));
    }
    if let Some(d) = ext::deadline(ctx.id) {
        earliest = Some(earliest.map_or(d, |e| e.min(d)));
    }
    timer::set_hyp_deadline(earliest);
    vmctl::power_off_if_done();
    // A start request for one of this CPU's vCPUs is picked up at once; the others'
    // are their CPUs' business (spinning on them here would starve those CPUs under
    // QEMU's icount, which runs the emulated CPUs in turn).
    if !schedule
        .clone()
        .any(|v| placement::holds(ctx.id, v) && state::start(v).is_pending())
    {
        cpu::wait_for_interrupt();
    }
    irq::handle_physical(ctx.id, None);
}
