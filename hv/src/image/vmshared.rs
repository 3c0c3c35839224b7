//! State a VM's vCPUs share across CPUs: its virtual GIC and its PSCI power model. One
//! lock per VM; held only for the length of one model call.
use core::sync::atomic::{AtomicU8, Ordering};

use hv_core::ids::{VcpuId, VmId};
use hv_core::psci::power::PsciVm;
use hv_core::vgic::Vgic;

use super::generated::{SYSTEM, VCPU_COUNT};
use super::state::MAX_VMS;
use super::sync::SpinLock;

/// Blocks of 32 SPIs each VM's vGIC covers (INTIDs 32..32 * (1 + SPI_BLOCKS)).
pub const SPI_BLOCKS: usize = 8;

/// A VM's virtual GIC.
pub type VmGic = Vgic<VCPU_COUNT, SPI_BLOCKS>;

/// The shared models of one VM.
pub struct Shared {
    /// Distributor, redistributors, pending state, list-register bookkeeping.
    pub vgic: VmGic,
    /// vCPU power states (PSCI).
    pub psci: PsciVm<VCPU_COUNT>,
}

/// Per-VM shared models, created at boot by CPU 0 before any other CPU starts.
static SHARED: [SpinLock<Option<Shared>>; MAX_VMS] = [const { SpinLock::new(None) }; MAX_VMS];

/// Per vCPU: what may have changed in the VM's interrupt state since the vCPU's list
/// registers were last filled ([`NOTHING`], [`CHANGED`] or [`PENDING`]). Lets the entry
/// path skip the model (and its lock) when nothing happened — most traps of most vCPUs —
/// and a wake-up decision skip the candidate scan when a raise already knows.
static CHANGES: [AtomicU8; VCPU_COUNT] = [const { AtomicU8::new(CHANGED) }; VCPU_COUNT];
/// Nothing changed: a fill would write what the list registers already hold (nothing).
const NOTHING: u8 = 0;
/// Something changed: the next entry fills the list registers; whether anything is
/// pending takes a look at the model.
const CHANGED: u8 = 1;
/// Changed, and an interrupt the vCPU would take now was raised for it.
const PENDING: u8 = 2;

/// vCPU `v`'s interrupt state may have changed (it is filled again before it runs).
#[inline(always)]
pub fn mark_changed(v: VcpuId) {
    let c = &CHANGES[v.index()];
    // Not a read-modify-write: racing with a raise on another CPU can at worst lose its
    // `PENDING` hint (a wake-up decision then asks the model), never the change itself.
    if c.load(Ordering::Relaxed) != PENDING {
        c.store(CHANGED, Ordering::Release);
    }
}

/// An interrupt vCPU `v` would take now was raised for it.
#[inline(always)]
pub fn mark_pending(v: VcpuId) {
    CHANGES[v.index()].store(PENDING, Ordering::Release);
}

/// Whether vCPU `v`'s list registers must be filled before it runs; resets the flag.
#[inline(always)]
pub fn take_changed(v: VcpuId) -> bool {
    let c = &CHANGES[v.index()];
    c.load(Ordering::Acquire) != NOTHING && c.swap(NOTHING, Ordering::AcqRel) != NOTHING
}

/// What is known of vCPU `v` without the model: `Some(false)` nothing can be pending
/// (nothing changed since its last fill), `Some(true)` something is, `None` the model
/// must be asked.
#[inline(always)]
pub fn known_pending(v: VcpuId) -> Option<bool> {
    match CHANGES[v.index()].load(Ordering::Acquire) {
        NOTHING => Some(false),
        PENDING => Some(true),
        _ => None,
    }
}

/// Runs `f` on VM `vm`'s shared models and marks the VM's interrupt state as changed for
/// all its vCPUs (use for anything that may change what is pending).
pub fn with<R>(vm: VmId, f: impl FnOnce(&mut Shared) -> R) -> R {
    let r = with_quiet(vm, f);
    mark_dirty(vm, u64::MAX);
    r
}

/// Runs `f` on VM `vm`'s shared models without marking anything changed: for queries,
/// PSCI, and the list-register bookkeeping of the vCPU itself.
pub fn with_quiet<R>(vm: VmId, f: impl FnOnce(&mut Shared) -> R) -> R {
    let mut g = SHARED[vm.index()].lock();
    f(g.as_mut().expect("VM models are created at boot"))
}

/// Marks the vCPUs of VM `vm` in `mask` (bit i = vCPU i of the VM) as having interrupt
/// state to look at.
pub fn mark_dirty(vm: VmId, mask: u64) {
    for (i, v) in SYSTEM.vm(vm).vcpu_ids().enumerate() {
        if i >= 64 || mask & (1 << i) != 0 {
            mark_changed(v);
        }
    }
}

/// Builds VM `vm`'s models in their boot state from the configuration.
fn build(vm: VmId) -> Result<Shared, &'static str> {
    let d = SYSTEM.vm(vm);
    let mut mpidrs = [0u64; VCPU_COUNT];
    for (k, &v) in d.vcpus.iter().enumerate() {
        mpidrs[k] = SYSTEM.vcpus[v as usize].vmpidr & hv_core::psci::power::MPIDR_AFF_MASK;
    }
    let mpidrs = &mpidrs[..d.vcpus.len()];
    // The SPIs it owns (routed, channels and emulated ranges into it, its console's), as
    // the toolkit listed them; none for an extension's VM, which has no GIC.
    let mut vgic = VmGic::new(mpidrs, d.owned_spis).map_err(|_| d.name)?;
    // Each vCPU's timer PPIs (virtual and EL1 physical) are linked to the physical ones:
    // the guest's deactivation deactivates them (one trap per tick, not two).
    for t in [SYSTEM.devices.vtimer_intid, SYSTEM.devices.ptimer_intid] {
        for k in 0..d.vcpus.len() {
            vgic.set_hw(k, t, t as u16).map_err(|_| d.name)?;
        }
    }
    // Its own PMU's overflow interrupt likewise.
    if d.pmu == hv_core::sysdesc::PmuAccess::Virtual {
        for k in 0..d.vcpus.len() {
            vgic.set_hw(k, SYSTEM.devices.pmu_intid, SYSTEM.devices.pmu_intid as u16)
                .map_err(|_| d.name)?;
        }
    }
    // Its physical SPIs (devices, `irqs`) too: the guest's deactivation ends the
    // physical interrupt, which stays active until then (docs/DEVICES.md).
    for r in d.spis {
        vgic.set_hw(0, r.virt_intid, r.intid as u16)
            .map_err(|_| d.name)?;
    }
    let psci = PsciVm::new(mpidrs, d.ram_ipa, d.ram_size).ok_or(d.name)?;
    Ok(Shared { vgic, psci })
}

/// Creates every VM's models; the error names the VM whose models do not fit.
pub fn init_all() -> Result<(), &'static str> {
    for vm in SYSTEM.vm_ids() {
        *SHARED[vm.index()].lock() = Some(build(vm)?);
    }
    Ok(())
}

/// Puts VM `vm`'s models back in their boot state (SYSTEM_RESET).
pub fn reset(vm: VmId) {
    if let Ok(s) = build(vm) {
        *SHARED[vm.index()].lock() = Some(s);
    }
    mark_dirty(vm, u64::MAX);
}
