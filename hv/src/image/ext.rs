//! The extensions of this image, composed in one place, and the services the core offers
//! them ([`hv_core::ext`] explains the seam).
//!
//! [`Extensions`] names every extension the image can have; one whose cargo feature is off
//! is `()`, whose hooks are the trait's empty defaults, so the calls below inline to nothing.
//! The core's files call only the functions of this module, never an extension by name;
//! extensions reach the core only through [`Hv`], the [`Core`] implementation.
use core::sync::atomic::Ordering;

use hv_arch::context::Exit;
use hv_core::ext::{Core, Extension, NotOwned, Ran};
use hv_core::ids::{CpuId, VcpuId, VmId};

use super::generated::SYSTEM;
use super::run::{self, CpuCtx};

/// The types an extension of this image works with (the [`Core`] implementation's).
#[cfg_attr(not(feature = "lwvm"), allow(unused_imports))]
pub use super::state::{MAX_VMS, Power, Vcpu};
use super::{console, irq, state, vmctl, vmload, vmshared};

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
    type Exit = Exit;

    fn load_payload(&self, vm: VmId) {
        vmload::load(SYSTEM.vm(vm));
    }
    fn vm_alive(&self, vm: VmId) -> bool {
        state::vm(vm).alive.load(Ordering::Acquire)
    }
    fn vm_off(&self, vm: VmId) {
        vmctl::vm_off(vm);
    }
    fn kick(&self, v: VcpuId) {
        irq::kick_vcpu(v);
    }
    fn raise(&self, vm: VmId, intid: u32) -> Result<(), NotOwned> {
        let target = if claims_vm(vm) {
            0
        } else {
            vmshared::with_quiet(vm, |s| s.vgic.spi_target(intid)).unwrap_or(0)
        };
        irq::raise(vm, target, intid).map_err(|()| NotOwned)
    }
    fn console_write(&self, vm: VmId, bytes: &[u8]) {
        console::write(vm, bytes);
    }
    fn console_flush(&self, vm: VmId) {
        console::flush(vm);
    }
    fn marker(&self, v: VcpuId, id: u16, value: u64) {
        super::telemetry::marker(v, id, value);
    }
    fn trap_enter(&self, cpu: CpuId, v: VcpuId, state: &Vcpu) {
        super::telemetry::enter(cpu, v, &state.regs);
    }
    fn trap_exit(&self, cpu: CpuId, v: VcpuId, why: &Exit, state: &Vcpu) {
        super::telemetry::exit(cpu, v, why, &state.regs);
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
pub fn claims_vm(vm: VmId) -> bool {
    Extension::<Hv>::claims_vm(&EXT, vm)
}

/// Whether an extension runs vCPU slot `v`.
#[inline(always)]
pub fn claims_vcpu(v: VcpuId) -> bool {
    claims_vm(SYSTEM.vm_of(v))
}

/// Boots claimed VM `vm` on this CPU (which hosts its first context).
pub fn boot_vm(ctx: &mut CpuCtx, vm: VmId) {
    let state = ctx.vcpus.get(SYSTEM.vm(vm).vcpu_id(0));
    EXT.boot_vm(&Hv, vm, state);
}

/// Runs claimed slot `v` (picked by this CPU's schedule) once, and carries out what the
/// extension decided.
pub fn run(ctx: &mut CpuCtx, v: VcpuId) {
    let cpu = ctx.id;
    let ran = EXT.run(&Hv, cpu, SYSTEM.vm_of(v), v, ctx.vcpus.get(v));
    match ran {
        Ran::Handled => {}
        Ran::PhysicalIrq => run::physical_irqs(ctx),
    }
}

/// Whether claimed slot `v` has something to wake up for.
#[inline(always)]
pub fn has_events(v: VcpuId) -> bool {
    Extension::<Hv>::has_events(&EXT, SYSTEM.vm_of(v), v)
}

/// Delivers channel `channel` raised into claimed VM `vm`.
#[inline(always)]
pub fn signal(vm: VmId, channel: u32) {
    EXT.signal(&Hv, vm, channel);
}

/// A full vCPU is about to run on CPU `cpu`.
#[inline(always)]
pub fn before_switch(cpu: CpuId) {
    Extension::<Hv>::before_switch(&EXT, cpu);
}
