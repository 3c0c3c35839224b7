//! The extensions of this image, composed in one place, and the services the core offers
//! them ([`hv_core::ext`] explains the seam).
//!
//! [`Extensions`] names every extension the image can have; one whose cargo feature is off
//! is `()`, whose hooks are the trait's empty defaults, so the calls below inline to nothing.
//! The core's files call only the functions of this module, never an extension by name;
//! extensions reach the core only through [`Hv`], the [`Core`] implementation.
use core::sync::atomic::Ordering;

use hv_arch::context::Exit;
use hv_core::ext::{Core, Extension, NotOwned};
use hv_core::sysdesc::{VcpuIndex, VmIndex};

use super::generated::SYSTEM;
use super::state::{VMS, vcpu_mut};

/// The types an extension of this image works with (the [`Core`] implementation's).
pub use super::run::CpuCtx;
#[cfg_attr(not(feature = "lwvm"), allow(unused_imports))]
pub use super::state::{MAX_VMS, Power, Vcpu};
use super::{console, irq, vmctl, vmload, vmshared};

/// Lightweight VMs on VHE (feature `lwvm`).
#[cfg(feature = "lwvm")]
type Lwvm = super::lwvm::Lwvm;
#[cfg(not(feature = "lwvm"))]
type Lwvm = ();

/// Every extension of the image, in the order they are asked.
pub type Extensions = (Lwvm, ());

/// The image's extensions.
static EXT: Extensions = (lwvm_instance(), ());

#[cfg(feature = "lwvm")]
const fn lwvm_instance() -> Lwvm {
    super::lwvm::Lwvm
}
#[cfg(not(feature = "lwvm"))]
const fn lwvm_instance() -> Lwvm {}

/// The core's services for extensions.
pub struct Hv;

impl Core for Hv {
    type Vcpu = Vcpu;
    type Cpu = CpuCtx;
    type Exit = Exit;

    fn load_payload(&self, vm: VmIndex) {
        vmload::load(&SYSTEM.vms[vm as usize]);
    }
    fn vm_alive(&self, vm: VmIndex) -> bool {
        VMS[vm as usize].alive.load(Ordering::Acquire)
    }
    fn vm_off(&self, vm: VmIndex) {
        vmctl::vm_off(vm as usize);
    }
    fn kick(&self, v: VcpuIndex) {
        irq::kick_vcpu(v as usize);
    }
    fn raise(&self, vm: VmIndex, intid: u32) -> Result<(), NotOwned> {
        let vm = vm as usize;
        let target = if claims_vm(vm) {
            0
        } else {
            vmshared::with_quiet(vm, |s| s.vgic.spi_target(intid)).unwrap_or(0)
        };
        irq::raise(vm, target, intid).map_err(|()| NotOwned)
    }
    fn console_write(&self, vm: VmIndex, bytes: &[u8]) {
        console::write(vm as usize, bytes);
    }
    fn console_flush(&self, vm: VmIndex) {
        console::flush(vm as usize);
    }
    fn physical_irqs(&self, cpu: &mut CpuCtx) {
        // The full vCPU whose state is loaded owns the virtual timer that may fire.
        let loaded = cpu.loaded().map(|l| {
            // SAFETY: the loaded vCPU is pinned to this CPU, and the extension that asks
            // holds no reference to it (it runs one of its own runnables).
            (l, unsafe { vcpu_mut(l) })
        });
        irq::handle_physical(cpu.index, loaded);
    }
    fn marker(&self, v: VcpuIndex, id: u16, value: u64) {
        super::telemetry::marker(v as usize, id, value);
    }
    fn trap_enter(&self, cpu: &CpuCtx, v: VcpuIndex, state: &Vcpu) {
        super::telemetry::enter(cpu.index, v as usize, &state.regs);
    }
    fn trap_exit(&self, cpu: &CpuCtx, v: VcpuIndex, why: &Exit, state: &Vcpu) {
        super::telemetry::exit(cpu.index, v as usize, why, &state.regs);
    }
}

// ---------------------------------------------------------------- the core's calls

/// Every CPU, before its MMU comes on.
#[inline(always)]
pub fn boot_check() {
    Extension::<Hv>::boot_check(&EXT);
}

/// Whether an extension runs VM `vm` (the core then does none of the full-VM work).
#[inline(always)]
pub fn claims_vm(vm: usize) -> bool {
    Extension::<Hv>::claims_vm(&EXT, vm as VmIndex)
}

/// Whether an extension runs vCPU slot `v`.
#[inline(always)]
pub fn claims_vcpu(v: usize) -> bool {
    claims_vm(SYSTEM.vcpus[v].vm as usize)
}

/// Boots claimed VM `vm` on this CPU (which hosts its first context).
pub fn boot_vm(vm: usize) {
    let v = SYSTEM.vms[vm].vcpus[0];
    // SAFETY: the caller runs on the CPU this VM's first context is pinned to and holds no
    // reference to its state.
    let state = unsafe { vcpu_mut(v as usize) };
    EXT.boot_vm(&Hv, vm as VmIndex, state);
}

/// Runs claimed slot `v` (picked by this CPU's schedule) once.
pub fn run(ctx: &mut CpuCtx, v: usize) {
    let vm = SYSTEM.vcpus[v].vm;
    // SAFETY: `v` comes from this CPU's schedule; nothing else holds its state.
    let state = unsafe { vcpu_mut(v) };
    EXT.run(&Hv, ctx, vm, v as VcpuIndex, state);
}

/// Whether claimed slot `v` has something to wake up for.
#[inline(always)]
pub fn has_events(v: usize) -> bool {
    Extension::<Hv>::has_events(&EXT, SYSTEM.vcpus[v].vm, v as VcpuIndex)
}

/// Delivers channel `channel` raised into claimed VM `vm`.
#[inline(always)]
pub fn signal(vm: usize, channel: u32) {
    EXT.signal(&Hv, vm as VmIndex, channel);
}

/// A full vCPU is about to run on CPU `cpu`.
#[inline(always)]
pub fn before_switch(cpu: usize) {
    Extension::<Hv>::before_switch(&EXT, cpu as u16);
}
