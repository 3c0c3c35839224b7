//! Interrupt plumbing of one CPU: the physical GIC, virtual interrupt delivery through
//! the list registers, the guests' virtual timers and kicks between CPUs.
//!
//! Delivery: the VM's vGIC model (hv-core) decides what is pending for a vCPU;
//! `before_entry` writes the model's choice into the list registers (and asks for the
//! maintenance interrupt when they overflow), `after_exit` folds the list registers back
//! into the model. A vCPU on another CPU is told to look again by a kick SGI.
use core::sync::atomic::Ordering;

use hv_arch::cpu;
use hv_arch::gic::{self, Gic, ICH_HCR_EN};
use hv_arch::timer::{self, CTL_ENABLE, CTL_IMASK};
use hv_core::vgic::ListReg;
use hv_core::vgic::lr::MAX_LRS;

use super::generated::SYSTEM;
use super::state::{VCPU_ON, Vcpu};
use super::sync::SpinLock;
use super::vmshared;

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
    hv_arch::uart::enable_rx_interrupt(d.uart_base);
    *GIC.lock() = Some(g);
    Ok(())
}

/// Per-CPU set-up: wakes this CPU's redistributor and enables the interrupts the
/// hypervisor takes itself (maintenance, EL2 timer, guests' virtual timer, kicks).
pub fn init_cpu(cpu_index: usize) {
    let d = &SYSTEM.devices;
    if let Some(g) = GIC.lock().as_mut() {
        g.init_cpu(
            cpu_index,
            &[d.maintenance_intid, d.hyp_timer_intid, d.vtimer_intid],
        );
    }
    gic::set_ich_hcr(ICH_HCR_EN);
}

/// Index of vCPU `v` within its VM.
fn in_vm(v: usize) -> usize {
    SYSTEM.vcpus[v].index_in_vm as usize
}

/// Makes the CPU that runs vCPU `v` look at its schedule again (no-op for this CPU).
pub fn kick_vcpu(v: usize) {
    let mpidr = SYSTEM.cpus[SYSTEM.vcpus[v].cpu as usize].mpidr;
    if mpidr != cpu::mpidr() {
        gic::kick(mpidr);
    }
}

/// Kicks the vCPUs of VM `vm` named by `mask` (bit i = vCPU i of the VM).
pub fn kick_mask(vm: usize, mask: u64) {
    for (i, &v) in SYSTEM.vms[vm].vcpus.iter().enumerate() {
        if mask & (1 << i) != 0 {
            kick_vcpu(v as usize);
        }
    }
}

/// Raises virtual `intid` in VM `vm` (for vCPU `target` if it is private) and kicks the
/// vCPU that must see it. Errors (an INTID the VM does not own) are returned as such.
pub fn raise(vm: usize, target: usize, intid: u32) -> Result<(), ()> {
    if super::lwvm::is_lw_vm(vm) {
        // No GIC there: a channel into an lwVM posts its event (`intid` = channel index).
        super::lwvm::signal(vm, intid);
        return Ok(());
    }
    let kick = vmshared::with(vm, |s| s.vgic.raise(target, intid)).map_err(|_| ())?;
    if let Some(k) = kick {
        kick_vcpu(SYSTEM.vms[vm].vcpus[k] as usize);
    }
    Ok(())
}

/// Fills the list registers for vCPU `v` before it runs; unmasks its virtual timer once
/// the guest has taken the last timer interrupt. Skipped (no lock, no register writes)
/// when nothing changed since the last fill and the list registers were left empty.
pub fn before_entry(v: usize, vcpu: &mut Vcpu) {
    if !vmshared::DIRTY[v].swap(false, Ordering::AcqRel) && !vcpu.timer_masked {
        return;
    }
    let vm = SYSTEM.vcpus[v].vm as usize;
    let n = gic::list_registers().min(MAX_LRS);
    let mut lrs = [0u64; MAX_LRS];
    let vt = SYSTEM.devices.vtimer_intid;
    let (fill, model_idle) = vmshared::with_quiet(vm, |s| {
        let fill = s.vgic.fill_lrs(in_vm(v), &mut lrs[..n]);
        let b = s.vgic.private_block(in_vm(v));
        let bit = 1u32 << vt;
        (fill, (b.pending() | b.active) & bit == 0)
    });
    // The timer's interrupt is taken once it is neither in the model nor in a list
    // register (a fill moves it from the model into the list registers).
    let timer_idle = model_idle
        && lrs[..fill.used]
            .iter()
            .all(|&lr| ListReg::decode(lr).vintid != vt);
    // The list registers are empty (cleared at the last exit): write the used ones.
    for (i, &lr) in lrs[..fill.used].iter().enumerate() {
        gic::write_lr(i, lr);
    }
    vcpu.lrs_used = fill.used as u8;
    if fill.hcr != 0 {
        gic::set_ich_hcr(ICH_HCR_EN | fill.hcr);
    }
    if vcpu.timer_masked && timer_idle {
        vcpu.timer_masked = false;
        timer::set_guest_vtimer_ctl(timer::guest_vtimer_ctl() & !CTL_IMASK);
    }
}

/// Folds the list registers back into the model after vCPU `v` exited and empties them.
/// Nothing to do when the last entry put nothing in them.
pub fn after_exit(v: usize, vcpu: &mut Vcpu) {
    let used = core::mem::take(&mut vcpu.lrs_used) as usize;
    if used == 0 {
        return;
    }
    let vm = SYSTEM.vcpus[v].vm as usize;
    let mut lrs = [0u64; MAX_LRS];
    for (i, lr) in lrs[..used].iter_mut().enumerate() {
        *lr = gic::read_lr(i);
        // Emptying the list registers also drops the maintenance condition (an EOI'd
        // entry, an underflow) that made this exit: it would otherwise stay asserted.
        gic::write_lr(i, 0);
    }
    gic::set_ich_hcr(ICH_HCR_EN);
    let kick = vmshared::with_quiet(vm, |s| s.vgic.sync_lrs(in_vm(v), &lrs[..used]));
    // Whatever is still pending or active goes back in at the next entry.
    vmshared::DIRTY[v].store(true, Ordering::Release);
    vmshared::mark_dirty(vm, kick);
    kick_mask(vm, kick);
}

/// Takes every pending physical interrupt. `loaded` is the vCPU whose state is in the
/// CPU (its virtual timer is the one that fired). Routed device SPIs are raised in their
/// VM.
pub fn handle_physical(loaded: Option<(usize, &mut Vcpu)>) {
    let d = &SYSTEM.devices;
    let mut loaded = loaded;
    while let Some(intid) = gic::ack() {
        if intid == d.vtimer_intid {
            if let Some((v, vcpu)) = loaded.as_mut() {
                // The virtual timer's output is level: mask it until the guest has taken
                // the virtual interrupt, so it does not fire again meanwhile.
                timer::set_guest_vtimer_ctl(timer::guest_vtimer_ctl() | CTL_IMASK);
                vcpu.timer_masked = true;
                let _ = raise(SYSTEM.vcpus[*v].vm as usize, in_vm(*v), d.vtimer_intid);
            }
        } else if intid == d.uart_intid {
            while let Some(b) = hv_arch::uart::read_byte(d.uart_base) {
                super::console::input(b);
            }
        } else if let Some(r) = SYSTEM.irqs.iter().find(|r| r.intid == intid) {
            let vm = r.vm as usize;
            let target = vmshared::with_quiet(vm, |s| s.vgic.spi_target(r.virt_intid)).unwrap_or(0);
            let _ = raise(vm, target, r.virt_intid);
        }
        // Maintenance, EL2 timer and kick SGIs only make the run loop look again.
        if intid == d.hyp_timer_intid {
            timer::set_hyp_deadline(None);
        }
        gic::end(intid);
    }
}

/// Whether a vCPU that is not loaded has a virtual timer that has fired; if so the
/// interrupt is raised and the timer masked in its saved state.
pub fn check_saved_timer(v: usize, vcpu: &mut Vcpu, now: u64) -> bool {
    let ctl = vcpu.el1.cntv_ctl;
    if ctl & CTL_ENABLE == 0 || ctl & CTL_IMASK != 0 || now < vcpu.el1.cntv_cval {
        return false;
    }
    vcpu.el1.cntv_ctl |= CTL_IMASK;
    vcpu.timer_masked = true;
    raise(
        SYSTEM.vcpus[v].vm as usize,
        in_vm(v),
        SYSTEM.devices.vtimer_intid,
    )
    .is_ok()
}

/// The deadline of a vCPU's saved (armed, unmasked) virtual timer.
pub fn saved_deadline(vcpu: &Vcpu) -> Option<u64> {
    let ctl = vcpu.el1.cntv_ctl;
    (ctl & CTL_ENABLE != 0 && ctl & CTL_IMASK == 0).then_some(vcpu.el1.cntv_cval)
}

/// Whether vCPU `v` has a deliverable virtual interrupt.
pub fn has_pending(v: usize) -> bool {
    if super::lwvm::is_lw(v) {
        return super::lwvm::has_events(v);
    }
    // Nothing changed since its list registers were last filled (and they were left
    // empty): nothing can be pending.
    if !vmshared::DIRTY[v].load(Ordering::Acquire) {
        return false;
    }
    let vm = SYSTEM.vcpus[v].vm as usize;
    vmshared::with_quiet(vm, |s| s.vgic.has_pending(in_vm(v)))
}

/// Marks vCPU `v` as on for other CPUs' PSCI queries.
pub fn publish_on(v: usize, on: bool) {
    VCPU_ON[v].store(on, Ordering::Release);
}
