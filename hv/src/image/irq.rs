//! Interrupt plumbing of one CPU: the physical GIC, virtual interrupt delivery through
//! the list registers, the guests' virtual timers and kicks between CPUs.
//!
//! Delivery: the VM's vGIC model (hv-core) decides what is pending for a vCPU;
//! `before_entry` writes the model's choice into the list registers (and asks for the
//! maintenance interrupt when they overflow), `after_exit` folds the list registers back
//! into the model. A vCPU on another CPU is told to look again by a kick SGI ([`kick`]).
use core::sync::atomic::Ordering;

use hv_arch::gic::{self, Gic, ICH_HCR_EN};
use hv_arch::timer::{self, CTL_ENABLE, CTL_IMASK};
use hv_core::ids::{CpuId, VcpuId, VmId};
use hv_core::sysdesc::PmuAccess;
use hv_core::vgic::lr::MAX_LRS;
use hv_core::vgic::{ListReg, LrState};

use super::generated::SYSTEM;
use super::kick::{self, RESCHED_OTHER, RESCHED_TIMER, kick_mask, kick_vcpu};
use super::state::{self, Vcpu};
use super::sync::SpinLock;
use super::{ext, mmio, vmshared};

/// The physical GIC's distributor/redistributor driver (set-up only).
static GIC: SpinLock<Option<Gic>> = SpinLock::new(None);

/// Takes the GIC (CPU 0, before the others start).
pub fn init_gic() -> Result<(), &'static str> {
    let d = &SYSTEM.devices;
    // SAFETY: the board's GIC addresses, mapped as device memory in the EL2 tables; this
    // is the only place that creates the driver.
    let g = unsafe { Gic::take(d.gicd_base, d.gicr_base, SYSTEM.cpus.len())? };
    let mut g = g;
    // Console input: the physical UART's receive interrupt, forwarded to a VM.
    g.enable_spi(d.uart_intid);
    super::uart::enable_rx_interrupt();
    // The SPIs of the VMs' devices and `irqs`, routed to their owners' CPUs.
    super::passthrough::enable_all(&mut g);
    *GIC.lock() = Some(g);
    Ok(())
}

/// Routes the physical SPIs VM `vm` owns to CPU `cpu` (its boot vCPU moved there).
#[cfg(feature = "big-little")]
pub fn route_spis(vm: VmId, cpu: CpuId) {
    let mpidr = SYSTEM.cpu(cpu).mpidr;
    if let Some(g) = GIC.lock().as_mut() {
        for r in SYSTEM.irqs.iter().filter(|r| r.vm == vm.raw()) {
            g.route_spi(r.intid, mpidr);
        }
    }
}

/// Per-CPU set-up: wakes this CPU's redistributor and enables the interrupts the
/// hypervisor takes itself (maintenance, EL2 timer, guests' virtual timer, kicks).
pub fn init_cpu(cpu: CpuId) {
    let d = &SYSTEM.devices;
    if let Some(g) = GIC.lock().as_mut() {
        g.init_cpu(
            cpu.index(),
            &[
                d.maintenance_intid,
                d.hyp_timer_intid,
                d.vtimer_intid,
                d.ptimer_intid,
                d.pmu_intid,
            ],
        );
    }
    // Priority drop and deactivation apart: the virtual timer's physical interrupt stays
    // active until the guest deactivates its hardware-linked virtual one.
    gic::split_eoi();
    gic::set_ich_hcr(ICH_HCR_EN);
}

/// Index of vCPU `v` within its VM.
fn in_vm(v: VcpuId) -> usize {
    SYSTEM.vcpu(v).index_in_vm as usize
}

/// Raises virtual `intid` in VM `vm` (for vCPU `target` if it is private) and kicks the
/// vCPU that must see it. Errors (an INTID the VM does not own) are returned as such.
pub fn raise(vm: VmId, target: usize, intid: u32) -> Result<(), ()> {
    if ext::claims_vm(vm) {
        // No GIC there: the extension delivers it (an lwVM posts an event).
        ext::signal(vm, intid);
        return Ok(());
    }
    let (to, now) = vmshared::with_quiet(vm, |s| {
        let to = s.vgic.raise(target, intid)?;
        Ok::<_, hv_core::vgic::VgicError>((to, to.is_some_and(|k| s.vgic.deliverable(k, intid))))
    })
    .map_err(|_| ())?;
    // Only the vCPU it is delivered to has anything new (an SPI routed nowhere: none).
    if let Some(k) = to {
        let v = SYSTEM.vm(vm).vcpu_id(k);
        if now {
            vmshared::mark_pending(v);
        } else {
            vmshared::mark_changed(v);
        }
        kick_vcpu(v);
    }
    Ok(())
}

/// Fills the list registers for vCPU `v` before it runs. Skipped (no lock, no register
/// writes) when nothing changed since the last fill and the list registers were left empty.
#[inline(always)]
pub fn before_entry(cpu: CpuId, v: VcpuId, vcpu: &mut Vcpu) {
    if vmshared::take_changed(v) {
        // A tick the trap put in a list register by itself goes back to the model first:
        // the fill chooses among everything again.
        if vcpu.lr_alone {
            return_alone(v, vcpu);
        }
        fill(cpu, v, vcpu);
    }
}

/// Loaded vCPU `v` stops running on this CPU for now (the run loop looks at the schedule
/// again after an IRQ exit): a tick the trap put in a list register for an entry that is
/// not coming goes back into the model, where the next fill — here or after a switch —
/// finds it. (Only an IRQ exit fills one, and only a reschedule request ends the run
/// loop's turn between it and the next entry.)
pub fn leave(v: VcpuId, vcpu: &mut Vcpu) {
    if vcpu.lr_alone {
        return_alone(v, vcpu);
    }
}

/// The list register a tick went into by itself, back into the model (as at an exit; out
/// of line: the run loop's own [`after_exit`] stays inline).
#[cold]
#[inline(never)]
fn return_alone(v: VcpuId, vcpu: &mut Vcpu) {
    after_exit(v, vcpu);
}

fn fill(cpu: CpuId, v: VcpuId, vcpu: &mut Vcpu) {
    let vm = SYSTEM.vm_of(v);
    let n = gic::list_registers().min(MAX_LRS);
    let lrs = &mut vcpu.lrs[..n];
    let fill = vmshared::with_quiet(vm, |s| s.vgic.fill_lrs(in_vm(v), lrs));
    // The list registers are empty (cleared at the last exit): write the used ones.
    for (i, &lr) in vcpu.lrs[..fill.used].iter().enumerate() {
        gic::write_lr(i, lr);
    }
    vcpu.lrs_used = fill.used as u8;
    vcpu.lrs_maintenance = fill.hcr != 0;
    if fill.hcr != 0 {
        gic::set_ich_hcr(ICH_HCR_EN | fill.hcr);
    }
    super::telemetry::lrs_filled(cpu, v, &vcpu.lrs[..fill.used]);
}

/// This CPU's redistributor frame (the board's GICR base plus its index times the frame
/// stride).
pub fn own_gicr(cpu: CpuId) -> u64 {
    let d = &SYSTEM.devices;
    d.gicr_base + cpu.raw() as u64 * d.gicr_stride
}

/// Loaded vCPU `vcpu` leaves the CPU whose redistributor frame is `gicr`: its virtual and
/// EL1 physical timers stop (their
/// state is saved), and each timer's physical interrupt — active while the hardware-linked
/// virtual one is in flight — is deactivated so the next vCPU's timer can fire; whether it
/// was in flight is kept for [`load_timer`].
pub fn unload_timer(gicr: u64, vcpu: &mut Vcpu) {
    let d = &SYSTEM.devices;
    timer::set_guest_vtimer_ctl(0);
    timer::set_guest_ptimer_ctl(0);
    // SAFETY: this CPU's redistributor frame, mapped as device memory in the EL2 tables.
    unsafe {
        vcpu.timer_in_flight |= gic::private_active(gicr, d.vtimer_intid);
        vcpu.ptimer_in_flight |= gic::private_active(gicr, d.ptimer_intid);
    }
    gic::deactivate(d.vtimer_intid);
    gic::deactivate(d.ptimer_intid);
}

/// Loaded vCPU `vcpu` (its VM has its own PMU) leaves the CPU of `gicr`: its PMU's overflow
/// interrupt, active while the hardware-linked virtual one is in flight, is deactivated so
/// the next vCPU's PMU can interrupt; whether it was in flight is kept for
/// [`load_pmu_irq`]. (Its PMU is saved and quiet by then: `world::park_pmu`.)
pub fn unload_pmu_irq(gicr: u64, vcpu: &mut Vcpu) {
    let intid = SYSTEM.devices.pmu_intid;
    // SAFETY: this CPU's redistributor frame, mapped as device memory in the EL2 tables.
    vcpu.pmu_in_flight |= unsafe { gic::private_active(gicr, intid) };
    gic::deactivate(intid);
}

/// Before vCPU `vcpu`'s PMU is restored on the CPU of `gicr`: its overflow interrupt's physical
/// interrupt is active again if the virtual one was in flight when it left.
pub fn load_pmu_irq(gicr: u64, vcpu: &mut Vcpu) {
    if core::mem::take(&mut vcpu.pmu_in_flight) {
        // SAFETY: this CPU's redistributor frame, mapped as device memory in the EL2
        // tables.
        unsafe { gic::set_private_active(gicr, SYSTEM.devices.pmu_intid, true) };
    }
}

/// Before vCPU `vcpu`'s timer state is restored on the CPU of `gicr`: if a timer's interrupt was in
/// flight when it left, or was raised while it was away, its physical interrupt is made
/// active again, so the restored timer does not fire a second time before the guest
/// deactivates the virtual one.
pub fn load_timer(gicr: u64, vcpu: &mut Vcpu) {
    let d = &SYSTEM.devices;
    for (in_flight, intid) in [
        (&mut vcpu.timer_in_flight, d.vtimer_intid),
        (&mut vcpu.ptimer_in_flight, d.ptimer_intid),
    ] {
        if core::mem::take(in_flight) {
            // SAFETY: this CPU's redistributor frame, mapped as device memory in the EL2
            // tables.
            unsafe { gic::set_private_active(gicr, intid, true) };
        }
    }
}

/// Folds the list registers back into the model after vCPU `v` exited and empties them.
/// Nothing to do when the last entry put nothing in them. The next entry fills them again
/// only if something is left (an interrupt still pending or active, or one the last fill
/// had no room for) or was raised meanwhile.
#[inline(always)]
pub fn after_exit(v: VcpuId, vcpu: &mut Vcpu) {
    let used = core::mem::take(&mut vcpu.lrs_used) as usize;
    if used == 0 {
        return;
    }
    if core::mem::take(&mut vcpu.lr_alone) {
        // The tick `raise_alone` put there: done (Invalid: the guest acknowledged and
        // deactivated it, the physical one with it) needs nothing from the model.
        let lr = gic::read_lr(0);
        gic::write_lr(0, 0);
        vcpu.lrs[0] = lr;
        if ListReg::decode(lr).state != LrState::Invalid {
            // Not done: it goes back to the model and in again at the next fill, which
            // the telemetry must not count as a new injection.
            super::telemetry::lrs_back(v, &vcpu.lrs[..1]);
            vmshared::with_quiet(SYSTEM.vm_of(v), |s| s.vgic.return_alone(in_vm(v), lr));
            vmshared::mark_changed(v);
        }
        return;
    }
    let vm = SYSTEM.vm_of(v);
    let lrs = &mut vcpu.lrs[..used];
    for (i, lr) in lrs.iter_mut().enumerate() {
        *lr = gic::read_lr(i);
        // Emptying the list registers also drops the maintenance condition (an EOI'd
        // entry, an underflow) that made this exit: it would otherwise stay asserted.
        gic::write_lr(i, 0);
    }
    if core::mem::take(&mut vcpu.lrs_maintenance) {
        gic::set_ich_hcr(ICH_HCR_EN);
    }
    super::telemetry::lrs_back(v, lrs);
    let synced = vmshared::with_quiet(vm, |s| s.vgic.sync_lrs(in_vm(v), lrs));
    if synced.refill {
        vmshared::mark_changed(v);
    }
    if synced.kick != 0 {
        vmshared::mark_dirty(vm, synced.kick);
        kick_mask(vm, synced.kick);
    }
}

/// Takes every pending physical interrupt. `loaded` is the vCPU whose state is in the CPU
/// (its virtual timer is the one that fired). Routed device SPIs are raised in their VM.
/// What may change which vCPU runs here (a kick from another CPU, the EL2 timer: a slot
/// end or a saved timer's deadline, an interrupt raised for another vCPU of this CPU) sets
/// this CPU's reschedule flag; the loaded vCPU's own timer and maintenance interrupts do
/// not, so the run loop re-enters it directly.
pub fn handle_physical(cpu: CpuId, loaded: Option<(VcpuId, &mut Vcpu)>) {
    let mut loaded = loaded;
    while let Some(intid) = gic::ack() {
        one(cpu, &mut loaded, intid, false);
    }
}

/// [`handle_physical`] for an IRQ exit of running vCPU `v`, which the run loop enters again
/// next unless it leaves the CPU (then [`leave`] runs): its own timer tick — the commonest
/// interrupt — is handled first without the general loop, and when it is the only thing
/// to deliver it goes straight into a list register.
pub fn on_guest_irq(cpu: CpuId, v: VcpuId, vcpu: &mut Vcpu) {
    let d = &SYSTEM.devices;
    let Some(intid) = gic::ack() else {
        return;
    };
    if intid == d.vtimer_intid {
        raise_loaded(cpu, v, vcpu, intid, true);
        gic::drop_priority(intid);
        if !gic::irq_pending() {
            return;
        }
    } else {
        one(cpu, &mut Some((v, &mut *vcpu)), intid, true);
    }
    let mut loaded = Some((v, vcpu));
    while let Some(intid) = gic::ack() {
        one(cpu, &mut loaded, intid, true);
    }
}

/// Handles acknowledged physical `intid` (see [`handle_physical`]); `direct`: the loaded
/// vCPU is entered next (see [`raise_loaded`]).
#[inline(never)]
fn one(cpu: CpuId, loaded: &mut Option<(VcpuId, &mut Vcpu)>, intid: u32, direct: bool) {
    let d = &SYSTEM.devices;
    if intid == d.vtimer_intid || intid == d.ptimer_intid {
        match loaded.as_mut() {
            Some((v, vcpu)) => {
                // Hardware-linked (ICH_LR.HW=1): the physical interrupt stays active
                // until the guest deactivates the virtual one, so it cannot fire again
                // meanwhile; the guest's CNTV_CTL is left as the guest set it.
                raise_loaded(cpu, *v, vcpu, intid, direct);
                gic::drop_priority(intid);
            }
            None => gic::end(intid),
        }
        return;
    } else if intid == d.pmu_intid {
        match loaded.as_mut() {
            Some((v, vcpu)) if SYSTEM.vm(SYSTEM.vm_of(*v)).pmu == PmuAccess::Virtual => {
                // Its own PMU overflowed: hardware-linked like the timers, active
                // until the guest deactivates the virtual one (it clears the
                // overflow first, the line being level).
                raise_loaded(cpu, *v, vcpu, intid, direct);
                gic::drop_priority(intid);
            }
            _ => {
                // Only a shared PMU (not switched) can assert it for a vCPU without
                // its own: its overflow interrupts are not delivered, and masked so
                // that the level line does not keep the CPU trapping.
                hv_arch::pmu::mask_overflow_irqs();
                gic::end(intid);
            }
        }
        return;
    } else if intid == d.uart_intid {
        while let Some(b) = super::uart::read_byte() {
            if let Some((vm, level)) = super::console::input(b) {
                mmio::update_uart_irq(vm, level);
            }
        }
    } else if let Some(r) = SYSTEM.spi_route(intid) {
        // The toolkit's table, indexed by INTID: the owner and the INTID it sees.
        let (vm, virt) = (r.vm, r.virt_intid);
        let target = vmshared::with_quiet(vm, |s| s.vgic.spi_target(virt)).unwrap_or(0);
        if raise(vm, target, virt).is_ok() {
            // Hardware-linked (vmshared): active until the guest deactivates the
            // virtual one — the device's line is the guest's to quiet, not ours.
            gic::drop_priority(intid);
            return;
        }
    } else if intid == d.hyp_timer_intid {
        timer::set_hyp_deadline(None);
        kick::resched(cpu, RESCHED_TIMER);
    } else if intid == gic::KICK_SGI {
        kick::resched(cpu, RESCHED_OTHER);
    }
    // Maintenance interrupts only make the loaded vCPU's list registers be refilled.
    gic::end(intid);
}

/// Raises private `intid` for vCPU `v`, loaded on this CPU: no kick, its list registers
/// are filled at the next entry. With `direct` (the run loop enters it next), when its
/// list registers are empty and nothing changed since its last fill, the interrupt is
/// the only one a fill would choose: it goes into list register 0 now, under the one
/// lock the raise takes anyway, and the entry has nothing to fill.
fn raise_loaded(cpu: CpuId, v: VcpuId, vcpu: &mut Vcpu, intid: u32, direct: bool) {
    let vm = SYSTEM.vm_of(v);
    let in_vm = in_vm(v);
    if direct && vcpu.lrs_used == 0 && vmshared::known_pending(v) == Some(false) {
        match vmshared::with_quiet(vm, |s| s.vgic.raise_alone(in_vm, intid)) {
            Ok(Some(lr)) => {
                gic::write_lr(0, lr);
                vcpu.lrs[0] = lr;
                vcpu.lrs_used = 1;
                vcpu.lr_alone = true;
                super::telemetry::injected(cpu, v, intid);
            }
            Ok(None) => vmshared::mark_changed(v),
            Err(_) => {}
        }
        return;
    }
    if vmshared::with_quiet(vm, |s| s.vgic.raise(in_vm, intid)).is_ok() {
        vmshared::mark_changed(v);
    }
}

/// Whether a vCPU that is not loaded has a timer (virtual or EL1 physical) whose condition
/// is met (enabled, unmasked, CVAL reached); if so its interrupt is raised (the line is
/// high).
pub fn check_saved_timer(v: VcpuId, vcpu: &mut Vcpu, now: u64) -> bool {
    let d = &SYSTEM.devices;
    let e = &vcpu.el1;
    let v_due = armed(e.cntv_ctl).is_some_and(|()| now >= e.cntv_cval);
    let p_due = armed(e.cntp_ctl).is_some_and(|()| now >= e.cntp_cval);
    let mut raised = false;
    for (due, in_flight, intid) in [
        (v_due, &mut vcpu.timer_in_flight, d.vtimer_intid),
        (p_due, &mut vcpu.ptimer_in_flight, d.ptimer_intid),
    ] {
        if due {
            *in_flight = true;
            raised |= raise(SYSTEM.vm_of(v), in_vm(v), intid).is_ok();
        }
    }
    raised
}

/// `Some` when a timer control value is enabled and unmasked.
fn armed(ctl: u64) -> Option<()> {
    (ctl & CTL_ENABLE != 0 && ctl & CTL_IMASK == 0).then_some(())
}

/// The earliest deadline of a vCPU's saved (armed, unmasked) timers.
pub fn saved_deadline(vcpu: &Vcpu) -> Option<u64> {
    let e = &vcpu.el1;
    let v = armed(e.cntv_ctl).map(|()| e.cntv_cval);
    let p = armed(e.cntp_ctl).map(|()| e.cntp_cval);
    match (v, p) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether vCPU `v` has a deliverable virtual interrupt.
pub fn has_pending(v: VcpuId) -> bool {
    if ext::claims_vcpu(v) {
        return ext::has_events(v);
    }
    // Nothing changed since its list registers were last filled (and they were left
    // empty): nothing can be pending; or a raise saw it deliverable.
    if let Some(known) = vmshared::known_pending(v) {
        return known;
    }
    vmshared::with_quiet(SYSTEM.vm_of(v), |s| s.vgic.has_pending(in_vm(v)))
}

/// Marks vCPU `v` as on for other CPUs' PSCI queries.
pub fn publish_on(v: VcpuId, on: bool) {
    state::vcpu_on(v).store(on, Ordering::Release);
}
