//! `hv_main`: what every physical CPU does from its first Rust instruction.
//!
//! Primary (CPU 0): MMU on from the pregenerated tables, banner, secondary CPUs started
//! through the firmware's PSCI, then its own run loop. Secondaries: MMU on, run loop.
//! Each CPU then only runs the vCPUs the configuration placed on it.
use core::sync::atomic::Ordering;

use hv_arch::{boot, features, firmware, mmu, regs};

use super::generated::SYSTEM;
use hv_core::ids::CpuId;

use super::state::{self, LIVE_VMS};
use super::{irq, run, vmload, vmshared};
use crate::hvlog;

/// Entered from the boot assembly with the MMU off and a private stack.
#[unsafe(no_mangle)]
extern "C" fn hv_main(cpu_index: usize) -> ! {
    start(cpu_index)
}

/// `hv_main`'s work, a Rust function so that the host tests can boot the image and unwind
/// out of it (a panic cannot leave an `extern "C"` function).
#[inline(always)]
pub(super) fn start(cpu_index: usize) -> ! {
    let cpu = CpuId::new(cpu_index as u16);
    let hv = &SYSTEM.hv;
    super::ext::boot_check();
    // SAFETY: the configuration toolkit generated these tables to identity-map the
    // hypervisor image (this code and its stacks), the table area, the image store,
    // every VM's RAM and the devices, with the MAIR/TCR values stored beside them.
    unsafe { mmu::enable_el2(hv.mair_el2, hv.tcr_el2, hv.ttbr0_el2) };

    if cpu_index == 0 {
        primary_init();
    }
    irq::init_cpu(cpu);
    regs::set_vtcr(hv.vtcr_el2);
    regs::init_timer_traps();
    // VPIDR_EL2 resets to an UNKNOWN value: guests read this CPU's own MIDR.
    regs::set_vpidr(regs::midr());
    features::init_cpu();
    check_pmu(cpu);
    regs::set_hcr(regs::hcr_guest());
    run::run_cpu(cpu)
}

/// A VM with its own PMU on a CPU without one would have the hypervisor move registers
/// the CPU does not have: refused before any guest runs.
fn check_pmu(cpu: CpuId) {
    if features::pmu() {
        return;
    }
    for v in SYSTEM.cpu(cpu).schedule_ids() {
        let vm = SYSTEM.vm(SYSTEM.vm_of(v));
        if vm.pmu == hv_core::sysdesc::PmuAccess::Virtual {
            hvlog!(
                "fatal: vm {} has pmu = \"virtual\" but CPU {} has no PMUv3",
                vm.name,
                cpu.raw()
            );
            firmware::system_off();
        }
    }
}

fn primary_init() {
    hvlog!(
        "system `{}` on board `{}` (config {:016x}): {} CPUs, {} VMs, {} vCPUs",
        SYSTEM.name,
        SYSTEM.board,
        SYSTEM.config_id,
        SYSTEM.cpus.len(),
        SYSTEM.vms.len(),
        SYSTEM.vcpus.len()
    );
    if let Err(e) = state::check_capacity() {
        hvlog!("fatal: {e}");
        firmware::system_off();
    }
    if let Err(e) = irq::init_gic() {
        hvlog!("fatal: GIC: {e}");
        firmware::system_off();
    }
    if let Err(vm) = vmshared::init_all() {
        hvlog!("fatal: the interrupt or PSCI model of vm {vm} does not fit the image");
        firmware::system_off();
    }
    let live = SYSTEM.vms.len();
    for vm in SYSTEM.vm_ids() {
        state::vm(vm).alive.store(true, Ordering::Relaxed);
        vmload::announce(vm, SYSTEM.vm(vm));
    }
    LIVE_VMS.store(live, Ordering::Release);
    if live == 0 {
        hvlog!("no VM configured; powering off");
        firmware::system_off();
    }
    for (i, c) in SYSTEM.cpus.iter().enumerate().skip(1) {
        if c.schedule.is_empty() {
            continue;
        }
        let r = firmware::cpu_on(c.mpidr, boot::secondary_entry_pa(), i as u64);
        if r != 0 {
            hvlog!(
                "cpu{i} (mpidr {:#x}) did not start: PSCI error {r}",
                c.mpidr
            );
        }
    }
}
