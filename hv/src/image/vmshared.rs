//! State a VM's vCPUs share across CPUs: its virtual GIC and its PSCI power model. One
//! lock per VM; held only for the length of one model call.
use hv_core::psci::power::PsciVm;
use hv_core::vgic::Vgic;

use super::generated::{SYSTEM, VCPU_COUNT};
use super::state::MAX_VMS;
use super::sync::SpinLock;

/// Blocks of 32 SPIs each VM's vGIC covers (INTIDs 32..32 * (1 + SPI_BLOCKS)).
pub const SPI_BLOCKS: usize = 8;
/// Most SPIs one VM can own.
const MAX_OWNED: usize = 64;

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
pub static SHARED: [SpinLock<Option<Shared>>; MAX_VMS] = [const { SpinLock::new(None) }; MAX_VMS];

/// Runs `f` on VM `vm`'s shared models.
pub fn with<R>(vm: usize, f: impl FnOnce(&mut Shared) -> R) -> R {
    let mut g = SHARED[vm].lock();
    f(g.as_mut().expect("VM models are created at boot"))
}

/// The SPIs VM `vm` owns: its routed physical IRQs, the channels and reflected regions
/// that signal it, and its console UART's interrupt.
fn owned_spis(vm: usize, out: &mut [u32; MAX_OWNED]) -> usize {
    if super::lwvm::is_lw_vm(vm) {
        // An lwVM has no GIC: its (unused) model owns nothing.
        return 0;
    }
    let mut n = 0;
    let mut add = |i: u32| {
        if n < MAX_OWNED && !out[..n].contains(&i) {
            out[n] = i;
            n += 1;
        }
    };
    for r in SYSTEM.irqs.iter().filter(|r| r.vm as usize == vm) {
        add(r.virt_intid);
    }
    for c in SYSTEM.channels.iter().filter(|c| c.to as usize == vm) {
        add(c.virt_intid);
    }
    for e in SYSTEM.emulated.iter().filter(|e| e.by as usize == vm) {
        add(e.virt_intid);
    }
    if SYSTEM.vms[vm].console {
        add(SYSTEM.devices.uart_intid);
    }
    n
}

/// Builds VM `vm`'s models in their boot state from the configuration.
fn build(vm: usize) -> Result<Shared, &'static str> {
    let d = &SYSTEM.vms[vm];
    let mut mpidrs = [0u64; VCPU_COUNT];
    for (k, &v) in d.vcpus.iter().enumerate() {
        mpidrs[k] = SYSTEM.vcpus[v as usize].vmpidr & hv_core::psci::power::MPIDR_AFF_MASK;
    }
    let mpidrs = &mpidrs[..d.vcpus.len()];
    let mut owned = [0u32; MAX_OWNED];
    let n = owned_spis(vm, &mut owned);
    let vgic = VmGic::new(mpidrs, &owned[..n]).map_err(|_| d.name)?;
    let psci = PsciVm::new(mpidrs, d.ram_ipa, d.ram_size).ok_or(d.name)?;
    Ok(Shared { vgic, psci })
}

/// Creates every VM's models; the error names the VM whose models do not fit.
pub fn init_all() -> Result<(), &'static str> {
    for vm in 0..SYSTEM.vms.len() {
        *SHARED[vm].lock() = Some(build(vm)?);
    }
    Ok(())
}

/// Puts VM `vm`'s models back in their boot state (SYSTEM_RESET).
pub fn reset(vm: usize) {
    if let Ok(s) = build(vm) {
        *SHARED[vm].lock() = Some(s);
    }
}
