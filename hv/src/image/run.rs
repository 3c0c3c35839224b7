//! The per-CPU run loop: pick the vCPU to run from the static schedule, switch to it,
//! run it until it traps, handle the trap, repeat.
//!
//! The schedule is the configuration's priority order for this CPU: the first vCPU in
//! `SYSTEM.cpus[cpu].schedule` that is on and not waiting runs.
use core::sync::atomic::Ordering;

use hv_arch::context::{Exit, enter_guest};
use hv_arch::el1::El1State;
use hv_arch::{cpu, firmware, regs};
use hv_core::sysdesc::VcpuIndex;

use super::exit::{self, Outcome};
use super::generated::SYSTEM;
use super::state::{LIVE_VMS, Power, START, VCPU_ON, VMS, vcpu_mut};
use super::vmload;
use crate::hvlog;

/// PSTATE a vCPU starts with: EL1h, all of DAIF masked (the Arm ARM's reset state).
const SPSR_EL1H_MASKED: u64 = 0x3c5;

/// What this CPU has loaded into the EL1/stage-2 registers.
struct Loaded {
    vcpu: Option<usize>,
}

/// Runs the vCPUs placed on `cpu_index` until the machine powers off.
pub fn run_cpu(cpu_index: usize) -> ! {
    let schedule = SYSTEM.cpus[cpu_index].schedule;
    // Boot vCPUs (index 0 of their VM) start at the VM's entry point.
    for &v in schedule {
        let d = &SYSTEM.vcpus[v as usize];
        if d.index_in_vm == 0 {
            let vm = &SYSTEM.vms[d.vm as usize];
            vmload::load(vm);
            let x0 = vm.dtb.map(|b| b.load_ipa).unwrap_or(0);
            // SAFETY: vCPU `v` is in this CPU's schedule, so it is pinned here.
            power_on(unsafe { vcpu_mut(v as usize) }, v as usize, vm.entry_ipa, x0);
        }
    }
    let mut loaded = Loaded { vcpu: None };
    loop {
        take_start_requests(schedule);
        let Some(v) = pick(schedule) else {
            if LIVE_VMS.load(Ordering::Acquire) == 0 {
                hvlog!("all VMs have ended; powering off");
                firmware::system_off();
            }
            cpu::wait_for_event();
            continue;
        };
        switch_to(&mut loaded, v);
        // SAFETY: `v` comes from this CPU's schedule.
        let vcpu = unsafe { vcpu_mut(v) };
        let why = enter_guest(&mut vcpu.regs);
        let outcome = match why {
            Exit::Sync => exit::handle_sync(v, vcpu),
            Exit::Irq | Exit::Fiq => Outcome::Continue,
            Exit::SError => exit::fatal(v, "SError from the guest"),
            Exit::Aarch32 => exit::fatal(v, "AArch32 execution is not supported"),
        };
        if let Outcome::VmOff = outcome {
            vm_off(SYSTEM.vcpus[v].vm as usize);
        }
    }
}

/// Makes a vCPU runnable at `entry` with `x0` (PSCI CPU_ON semantics: other registers
/// and the EL1 state come out of reset).
pub fn power_on(vcpu: &mut super::state::Vcpu, index: usize, entry: u64, x0: u64) {
    vcpu.regs = Default::default();
    vcpu.regs.x[0] = x0;
    vcpu.regs.elr = entry;
    vcpu.regs.spsr = SPSR_EL1H_MASKED;
    vcpu.el1 = El1State::reset();
    vcpu.power = Power::On;
    VCPU_ON[index].store(true, Ordering::Release);
}

fn take_start_requests(schedule: &[VcpuIndex]) {
    for &v in schedule {
        if let Some((entry, ctx)) = START[v as usize].take() {
            // SAFETY: `v` comes from this CPU's schedule.
            power_on(unsafe { vcpu_mut(v as usize) }, v as usize, entry, ctx);
        }
    }
}

fn pick(schedule: &[VcpuIndex]) -> Option<usize> {
    schedule.iter().map(|&v| v as usize).find(|&v| {
        let vm = SYSTEM.vcpus[v].vm as usize;
        // SAFETY: `v` comes from this CPU's schedule.
        let p = unsafe { vcpu_mut(v) }.power;
        VMS[vm].alive.load(Ordering::Relaxed) && p == Power::On
    })
}

/// Saves the outgoing vCPU's EL1 state and loads the incoming one's, with its VMID,
/// stage-2 root and MPIDR. Nothing is done when the same vCPU runs again.
fn switch_to(loaded: &mut Loaded, v: usize) {
    if loaded.vcpu == Some(v) {
        return;
    }
    if let Some(old) = loaded.vcpu {
        // SAFETY: `old` was loaded by this CPU, so it is pinned here.
        unsafe { vcpu_mut(old) }.el1.save();
    }
    let d = &SYSTEM.vcpus[v];
    let vm = &SYSTEM.vms[d.vm as usize];
    // SAFETY: `v` comes from this CPU's schedule.
    unsafe { vcpu_mut(v) }.el1.restore();
    regs::set_vttbr(vm.vmid, vm.s2_root);
    regs::set_vmpidr(d.vmpidr);
    loaded.vcpu = Some(v);
}

/// Ends a VM: its vCPUs are no longer picked on any CPU (`pick` checks the VM is
/// alive); when it was the last VM, the run loop powers the machine off.
pub fn vm_off(vm: usize) {
    if VMS[vm].alive.swap(false, Ordering::AcqRel) {
        super::console::flush(vm);
        hvlog!("vm {}: powered off", SYSTEM.vms[vm].name);
        for &v in SYSTEM.vms[vm].vcpus {
            VCPU_ON[v as usize].store(false, Ordering::Release);
        }
        LIVE_VMS.fetch_sub(1, Ordering::AcqRel);
        cpu::send_event();
    }
}
