//! The extensions of this image, composed in one place, and the services the core offers
//! them ([`hv_core::ext`] explains the seam).
//!
//! [`Extensions`] names every extension the image can have; one whose cargo feature is off
//! is `()`, whose hooks are the trait's empty defaults, so the calls below inline to nothing.
//! The core's files call only the functions of this module, never an extension by name;
//! extensions reach the core only through `api` (the [`Hv`] handle, whose `Core`
//! implementation is in `services`).
use hv_core::ext::{Departure, DeviceAccess, Extension, Ran};
use hv_core::ids::{CpuId, VcpuId, VmId};

use super::generated::SYSTEM;

use super::api::{Hv, Vcpu};

/// Lightweight VMs on VHE (feature `lwvm`).
#[cfg(feature = "lwvm")]
type Lwvm = super::lwvm::Lwvm;
#[cfg(not(feature = "lwvm"))]
type Lwvm = ();

/// Ballooning between pregenerated stage-2 sets (feature `balloon`).
#[cfg(feature = "balloon")]
type Balloon = super::balloon::Balloon;
#[cfg(not(feature = "balloon"))]
type Balloon = ();

/// big.LITTLE core switching (feature `big-little`).
#[cfg(feature = "big-little")]
type BigLittle = super::biglittle::BigLittle;
#[cfg(not(feature = "big-little"))]
type BigLittle = ();

/// Every extension of the image, in the order they are asked.
pub type Extensions = (Lwvm, (Balloon, BigLittle));

/// The image's extensions.
static EXT: Extensions = (lwvm_instance(), (balloon_instance(), big_little_instance()));

#[cfg(feature = "big-little")]
const fn big_little_instance() -> BigLittle {
    super::biglittle::BigLittle
}
#[cfg(not(feature = "big-little"))]
const fn big_little_instance() -> BigLittle {}

#[cfg(feature = "balloon")]
const fn balloon_instance() -> Balloon {
    super::balloon::Balloon
}
#[cfg(not(feature = "balloon"))]
const fn balloon_instance() -> Balloon {}

#[cfg(feature = "lwvm")]
const fn lwvm_instance() -> Lwvm {
    super::lwvm::Lwvm
}
#[cfg(not(feature = "lwvm"))]
const fn lwvm_instance() -> Lwvm {}

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

/// Boots claimed VM `vm`; `state` is its first context (pinned to this CPU).
pub fn boot_vm(vm: VmId, state: &mut Vcpu) {
    EXT.boot_vm(&Hv, vm, state);
}

/// Runs claimed slot `v` (picked by CPU `cpu`'s schedule; `state` is its context) once;
/// the caller carries out what the extension decided.
pub fn run(cpu: CpuId, v: VcpuId, state: &mut Vcpu) -> Ran {
    EXT.run(&Hv, cpu, SYSTEM.vm_of(v), v, state)
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

/// The stage-2 root VM `vm` runs with now (an extension may have switched it among the
/// sets generated for it).
#[inline(always)]
pub fn stage2_root(vm: VmId) -> Option<u64> {
    Extension::<Hv>::stage2_root(&EXT, vm)
}

/// CPU `cpu` is at the top of its run loop, about to pick.
#[inline(always)]
pub fn resync(cpu: CpuId) {
    EXT.resync(&Hv, cpu);
}

/// The earliest counter value at which idle CPU `cpu` must wake for an extension.
#[inline(always)]
pub fn deadline(cpu: CpuId) -> Option<u64> {
    Extension::<Hv>::deadline(&EXT, cpu)
}

/// A vCPU CPU `cpu` holds that an extension moves to another CPU now.
#[inline(always)]
pub fn departure(cpu: CpuId) -> Option<Departure> {
    Extension::<Hv>::departure(&EXT, cpu)
}

/// vCPU `v`, parked on CPU `from`, is about to be handed to `to`.
#[inline(always)]
pub fn moved(v: VcpuId, from: CpuId, to: CpuId) {
    EXT.moved(&Hv, v, from, to);
}

/// Whether an extension wants [`ran`] (the run loop reads the counter only then).
pub const ACCOUNTS: bool = <Extensions as Extension<Hv>>::ACCOUNTS;

/// Full vCPU `v` ran on CPU `cpu` from `since` to `now`, then waited (`waiting`) or left.
#[inline(always)]
pub fn ran(cpu: CpuId, v: VcpuId, since: u64, now: u64, waiting: bool) {
    Extension::<Hv>::ran(&EXT, cpu, v, since, now, waiting);
}

/// Functions of the project's range the extensions answer (the SMCCC call count adds them).
pub const CALLS: i64 = <Extensions as Extension<Hv>>::CALLS;

/// A project hypercall the core does not implement, from VM `vm` on CPU `cpu`.
pub fn hypercall(cpu: CpuId, vm: VmId, x: &[u64; 6]) -> Option<[u64; 4]> {
    EXT.hypercall(&Hv, cpu, vm, x)
}

/// An access of VM `vm` on CPU `cpu` to extension device window `dev`: the loaded value,
/// or `None` if no extension has that window.
pub fn mmio(cpu: CpuId, vm: VmId, dev: u16, a: DeviceAccess) -> Option<u64> {
    EXT.mmio(&Hv, cpu, vm, dev, a)
}

/// Full VM `vm` powered off or is about to restart (CPU `cpu` carries it out).
pub fn vm_ended(cpu: CpuId, vm: VmId) {
    EXT.vm_ended(&Hv, cpu, vm);
}
