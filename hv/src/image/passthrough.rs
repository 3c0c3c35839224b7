//! The physical side of devices given to VMs: their SPIs enabled at the GIC and routed
//! to the CPU of the owner's boot vCPU, and released when the owner ends or resets.
//!
//! Delivery is hardware-linked (`irq::handle_physical` raises the virtual SPI and only
//! drops the physical one's priority; `vmshared` marks it HW with the physical INTID),
//! so the physical interrupt stays active until the guest deactivates the virtual one:
//! a level-triggered device cannot storm, and the hypervisor never acknowledges on the
//! device's behalf. Its MMIO pages are the guest's (stage 2, IPA = PA); the hypervisor
//! never touches them.
use hv_arch::gic::{self, Gic};
use hv_core::ids::VmId;

use super::generated::SYSTEM;

/// Enables every routed SPI (CPU 0 at boot, before any VM runs).
pub fn enable_all(g: &mut Gic) {
    for r in SYSTEM.irqs {
        let vm = SYSTEM.vm(VmId::new(r.vm));
        let cpu = SYSTEM.vcpu(vm.vcpu_id(0)).cpu;
        g.route_spi(r.intid, SYSTEM.cpus[usize::from(cpu)].mpidr);
    }
}

/// VM `vm` ends (`enable = false`) or restarts (`true`): its SPIs that are still active
/// — delivered, never deactivated by the guest — are made inactive, and disabled while
/// the VM is off. The device itself is not reset: the next driver resets it (a virtio
/// driver writes Status = 0), and until then it may still write the VM's RAM.
pub fn release(vm: VmId, enable: bool) {
    for r in SYSTEM.vm(vm).spis {
        // SAFETY: the board's distributor, mapped as device memory in the EL2 tables;
        // the route is an SPI (the toolkit checked it).
        unsafe { gic::release_spi(SYSTEM.devices.gicd_base, r.intid, enable) };
    }
}
