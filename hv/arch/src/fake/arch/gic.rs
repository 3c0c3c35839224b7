//! The physical GICv3 of the simulated machine: pending INTIDs are acknowledged in
//! order and become active; ending one drops its priority and deactivates it; the list
//! registers and the virtual CPU interface are plain registers.
use super::super::machine::with;

/// The hypervisor's SGI for "re-evaluate your schedule" kicks between CPUs.
pub const KICK_SGI: u32 = 8;

/// Owner of the distributor and redistributor (set-up only: nothing to program here).
pub struct Gic(());

impl Gic {
    /// Takes the GIC.
    ///
    /// # Safety
    /// None on the simulated machine; the signature is the aarch64 one.
    pub unsafe fn take(_gicd: u64, _gicr: u64, _cpus: usize) -> Result<Gic, &'static str> {
        Ok(Gic(()))
    }

    /// Per-CPU set-up.
    pub fn init_cpu(&mut self, _cpu: usize, _ppis: &[u32]) {}

    /// Enables SPI `intid` for the hypervisor.
    pub fn enable_spi(&mut self, _intid: u32) {}

    /// Enables SPI `intid` of a device a VM owns, routed to `mpidr`.
    pub fn route_spi(&mut self, _intid: u32, _mpidr: u64) {}
}

/// Clears the active state of SPI `intid`.
///
/// # Safety
/// None on the simulated machine; the signature is the aarch64 one.
pub unsafe fn release_spi(_gicd: u64, intid: u32, _enable: bool) {
    with(|m| m.active.remove(&intid));
}

/// Acknowledges the first pending physical interrupt: it becomes active.
pub fn ack() -> Option<u32> {
    with(|m| {
        let i = m.pending.pop_front()?;
        m.active.insert(i);
        Some(i)
    })
}

/// Whether a physical interrupt is pending.
pub fn irq_pending() -> bool {
    with(|m| !m.pending.is_empty())
}

/// Ends (drops priority and deactivates) physical `intid`.
pub fn end(intid: u32) {
    drop_priority(intid);
    deactivate(intid);
}

/// Drops the running priority of `intid` (it stays active).
pub fn drop_priority(intid: u32) {
    with(|m| m.eoi.push(intid))
}

/// Deactivates physical `intid`.
pub fn deactivate(intid: u32) {
    with(|m| m.active.remove(&intid));
}

/// EOImode = 1: the model always keeps priority drop and deactivation apart.
pub fn split_eoi() {}

/// Sets or clears the active state of private interrupt `intid`.
///
/// # Safety
/// None on the simulated machine; the signature is the aarch64 one.
pub unsafe fn set_private_active(_gicr: u64, intid: u32, active: bool) {
    with(|m| {
        if active {
            m.active.insert(intid);
        } else {
            m.active.remove(&intid);
        }
    })
}

/// Whether private interrupt `intid` is active.
///
/// # Safety
/// None on the simulated machine; the signature is the aarch64 one.
pub unsafe fn private_active(_gicr: u64, intid: u32) -> bool {
    with(|m| m.active.contains(&intid))
}

/// Sends the kick SGI to the CPU with affinity `mpidr` (recorded).
pub fn kick(mpidr: u64) {
    with(|m| m.kicks.push(mpidr))
}

/// Number of list registers.
pub fn list_registers() -> usize {
    with(|m| m.nr_lrs)
}

/// Reads ICH_LR<n>_EL2.
pub fn read_lr(n: usize) -> u64 {
    with(|m| m.lrs.get(n).copied().unwrap_or(0))
}

/// Writes ICH_LR<n>_EL2.
pub fn write_lr(n: usize, v: u64) {
    with(|m| {
        if let Some(lr) = m.lrs.get_mut(n) {
            *lr = v;
        }
    })
}

/// ICH_HCR_EL2.En: the virtual CPU interface is on.
pub const ICH_HCR_EN: u64 = 1;

/// Writes ICH_HCR_EL2.
pub fn set_ich_hcr(v: u64) {
    with(|m| m.ich_hcr = v)
}

/// ICH_MISR_EL2: no maintenance condition is modelled.
pub fn misr() -> u64 {
    0
}

pub use crate::state::VcpuIfState;

impl VcpuIfState {
    /// Saves the current vCPU's interface state.
    pub fn save(&mut self) {
        [self.vmcr, self.ap1r0, self.ap0r0] = with(|m| m.vcpu_if);
    }

    /// Loads a vCPU's interface state.
    pub fn restore(&self) {
        with(|m| m.vcpu_if = [self.vmcr, self.ap1r0, self.ap0r0])
    }
}
