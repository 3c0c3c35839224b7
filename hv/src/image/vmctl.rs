//! A VM's life: boot, power-off, reset (PSCI SYSTEM_RESET or a fault with the `restart`
//! policy), and powering the machine off when no VM is left.
//!
//! A reset is carried out by the CPU that hosts the VM's boot vCPU, once every other vCPU
//! of the VM has stopped (each CPU stops its own at its next look at the schedule; the
//! reset request kicks them).
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hv_arch::firmware;
use hv_core::ids::{CpuId, VmId};
use hv_core::sysdesc::RestartPolicy;

use super::generated::SYSTEM;
use super::state::{self, LIVE_VMS, MAX_VMS, Power};
use super::world::{CpuCtx, power_on};
use super::{console, ext, kick, vmload, vmshared};
use crate::hvlog;

/// VMs with a reset requested and not yet carried out.
static RESETTING: [AtomicBool; MAX_VMS] = [const { AtomicBool::new(false) }; MAX_VMS];
/// How many of them: the run loop looks at the VMs only when a reset is under way.
static RESETS: AtomicUsize = AtomicUsize::new(0);

/// Loads VM `vm` and starts its boot vCPU (on this CPU, which hosts it).
pub fn boot_vm(ctx: &mut CpuCtx, vm: VmId) {
    if ext::claims_vm(vm) {
        return ext::boot_vm(vm, ctx.vcpus.get(SYSTEM.vm(vm).vcpu_id(0)));
    }
    let d = SYSTEM.vm(vm);
    vmload::load(d);
    let x0 = d.dtb.map(|b| b.load_ipa).unwrap_or(0);
    power_on(ctx, d.vcpu_id(0), d.entry_ipa, x0);
}

/// Ends VM `vm`: its vCPUs are no longer picked on any CPU.
pub fn vm_off(vm: VmId) {
    if state::vm(vm).alive.swap(false, Ordering::AcqRel) {
        super::telemetry::vm_exit(vm);
        console::flush(vm);
        hvlog!("vm {}: powered off", SYSTEM.vm(vm).name);
        for v in SYSTEM.vm(vm).vcpu_ids() {
            state::vcpu_on(v).store(false, Ordering::Release);
            kick::kick_vcpu(v);
        }
        // vCPUs waiting for this VM to emulate their access give up at once.
        for &k in SYSTEM.vm(vm).emulates {
            let e = &SYSTEM.emulated[usize::from(k)];
            for v in SYSTEM.vm(VmId::new(e.vm)).vcpu_ids() {
                kick::kick_vcpu(v);
            }
        }
        super::passthrough::release(vm, false);
        super::ext::vm_ended(this_cpu(), vm);
        LIVE_VMS.fetch_sub(1, Ordering::AcqRel);
        power_off_if_done();
    }
}

/// A fatal guest fault: stop or restart the VM as the configuration says.
pub fn vm_fault(vm: VmId) {
    match SYSTEM.vm(vm).restart {
        RestartPolicy::Restart => request_reset(vm),
        RestartPolicy::Stop => vm_off(vm),
    }
}

/// Asks for VM `vm` to be reset from its pristine image.
pub fn request_reset(vm: VmId) {
    if !state::vm(vm).alive.load(Ordering::Acquire) {
        return;
    }
    console::flush(vm);
    hvlog!("vm {}: reset", SYSTEM.vm(vm).name);
    if !RESETTING[vm.index()].swap(true, Ordering::AcqRel) {
        RESETS.fetch_add(1, Ordering::AcqRel);
    }
    for v in SYSTEM.vm(vm).vcpu_ids() {
        kick::kick_vcpu(v);
    }
}

/// Whether VM `vm` is being reset (its vCPUs must not run).
pub fn resetting(vm: VmId) -> bool {
    RESETTING[vm.index()].load(Ordering::Acquire)
}

/// Stops this CPU's vCPUs of VMs being reset, and carries out the reset of VMs whose
/// boot vCPU lives here once all their vCPUs have stopped.
#[inline(always)]
pub fn service_resets(ctx: &mut CpuCtx) {
    if RESETS.load(Ordering::Acquire) != 0 {
        service_pending_resets(ctx);
    }
}

#[cold]
fn service_pending_resets(ctx: &mut CpuCtx) {
    for v in SYSTEM.cpu(ctx.id).schedule_ids() {
        let d = SYSTEM.vcpu(v);
        let vm = d.vm_id();
        if !resetting(vm) || !super::placement::holds(ctx.id, v) {
            continue;
        }
        ctx.vcpus.get(v).power = Power::Off;
        state::vcpu_on(v).store(false, Ordering::Release);
        let all_off = SYSTEM
            .vm(vm)
            .vcpu_ids()
            .all(|o| !state::vcpu_on(o).load(Ordering::Acquire));
        if d.index_in_vm == 0 && all_off {
            super::passthrough::release(vm, true);
            super::ext::vm_ended(ctx.id, vm);
            vmshared::reset(vm);
            boot_vm(ctx, vm);
            RESETTING[vm.index()].store(false, Ordering::Release);
            RESETS.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Powers the machine off when no VM is alive.
pub fn power_off_if_done() {
    if LIVE_VMS.load(Ordering::Acquire) == 0 {
        // Several CPUs may see the last VM go at once: one of them says so and powers off.
        // The others go back to idling (and draining their telemetry) until it happens.
        if POWERING_OFF.swap(true, Ordering::AcqRel) {
            return;
        }
        hvlog!("all VMs have ended; powering off");
        super::telemetry::seal();
        firmware::system_off();
    }
}

/// Set by the CPU that powers the machine off.
static POWERING_OFF: AtomicBool = AtomicBool::new(false);

/// The CPU this code runs on.
fn this_cpu() -> CpuId {
    let me = hv_arch::cpu::mpidr();
    let i = SYSTEM.cpus.iter().position(|c| c.mpidr == me).unwrap_or(0);
    CpuId::new(i as u16)
}
