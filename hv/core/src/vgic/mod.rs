//! A GICv3 virtual interrupt controller for one VM: distributor, redistributors, SGI
//! generation and the list-register manager.
//!
//! Why: each VM drives "its" GIC with an unmodified GICv3 driver, but the physical GIC is
//! the hypervisor's. The guest's GICD/GICR accesses trap (stage-2 data aborts) into this
//! model; the model decides what each vCPU should see pending, and [`lr`] turns that into
//! `ICH_LR<n>_EL2` values. Spec: Arm IHI 0069 (GICv3/v4), the GICD/GICR register maps and descriptions,
//! "INTIDs", "Interrupt lifecycle", "Virtual interrupt handling" (list
//! registers), ICC_SGI1R_EL1.
//!
//! Invariants a reader must not break:
//! - **Isolation**: a VM sees and changes only interrupts it owns. SGIs and PPIs are always
//!   its own (virtual, per vCPU); an SPI only if it is in the ownership set given at
//!   construction (its routes and channel INTIDs). Other bits read as zero, writes to
//!   them are ignored and counted in [`Vgic::denied`].
//! - Affinity routing is always on (GICD_CTLR.ARE RAO/WI), a single security state
//!   (DS RAO/WI), Group 1 only. No LPIs, no ITS.
//! - An SPI sits in at most one vCPU's list registers: while in flight it stays with
//!   the vCPU holding it even if the guest changes its route ([`Vgic::spi_owner`]).
//! - Capacity is fixed: at most `V` vCPUs (≤ 64) and `B` (≤ 32) blocks of 32 SPIs (INTIDs
//!   32..32 * (B + 1)). No allocation.
//!
//! Files: [`block`] (state of 32 interrupts + the banked register window), [`dist`]
//! (GICD), [`redist`] (GICR), [`sgi`] (ICC_SGI1R_EL1), [`pending`] (what is deliverable
//! to a vCPU), [`lr`] (list registers and overflow handling).

pub mod block;
pub mod dist;
pub mod lr;
pub mod pending;
pub mod redist;
pub mod sgi;

pub use block::Block;
pub use lr::{ListReg, LrState};
pub use pending::Candidate;

/// First SPI INTID.
pub const SPI_BASE: u32 = 32;
/// First PPI INTID.
pub const PPI_BASE: u32 = 16;
/// INTIDs 1020..1023 are special (spurious etc.).
pub const SPECIAL_BASE: u32 = 1020;

/// "No vCPU" in the in-flight table.
const NO_VCPU: u8 = u8::MAX;

/// Errors of the construction and injection APIs (not guest-visible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VgicError {
    /// More vCPUs than the capacity `V` (or than 64), or none.
    TooManyVcpus,
    /// An INTID beyond the capacity or not an SPI where one is required.
    BadIntid(u32),
    /// The VM does not own this interrupt.
    NotOwned(u32),
    /// A vCPU index out of range.
    BadVcpu(usize),
}

/// The virtual GIC of one VM.
#[derive(Debug, Clone)]
pub struct Vgic<const V: usize, const B: usize> {
    vcpus: usize,
    mpidr: [u64; V],
    /// GICD_CTLR.EnableGrp1.
    enable_grp1: bool,
    /// SGIs/PPIs of each vCPU (INTIDs 0..31).
    private: [Block; V],
    /// SPI blocks: `spi[k]` holds INTIDs `32 * (k + 1)..`.
    spi: [Block; B],
    /// GICD_IROUTER value of each SPI.
    route: [[u64; 32]; B],
    /// Owned SPIs, one bit each.
    owned: [u32; B],
    /// Blocks with an owned SPI (bit k = `spi[k]`): fixed at construction, so finding a
    /// vCPU's candidates looks only at the few blocks the VM can use, not all `B`.
    owned_blocks: u32,
    /// GICR_WAKER.ProcessorSleep of each vCPU.
    sleep: [bool; V],
    /// List registers this model filled, per vCPU.
    lr_used: [lr::LrShadow; V],
    /// vCPU whose list registers hold (or last held, while active) each SPI;
    /// `NO_VCPU` when none. An SPI in flight stays with that vCPU even if its route
    /// changes, so it is never in two vCPUs' list registers at once.
    in_flight: [[u8; 32]; B],
    /// GICD_TYPER: a function of the vCPU count and the owned SPIs, which never change
    /// after construction — computed once instead of on every guest read.
    typer: u32,
    denied: u32,
    bad_access: u32,
}

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// `owned_blocks` has one bit per SPI block.
    const BLOCKS_FIT: () = assert!(B <= 32, "at most 32 SPI blocks");

    /// A vGIC for vCPUs with the given MPIDR values (index = vCPU index in the VM) that
    /// owns the SPIs in `owned_spis`. Fails on an INTID that is not an SPI within the
    /// capacity.
    pub fn new(mpidrs: &[u64], owned_spis: &[u32]) -> Result<Self, VgicError> {
        let () = Self::BLOCKS_FIT;
        if mpidrs.is_empty() || mpidrs.len() > V || mpidrs.len() > 64 {
            return Err(VgicError::TooManyVcpus);
        }
        let mut g = Vgic {
            vcpus: mpidrs.len(),
            mpidr: [0; V],
            enable_grp1: false,
            private: [Block::new_private(); V],
            spi: [Block::new(); B],
            route: [[0; 32]; B],
            owned: [0; B],
            owned_blocks: 0,
            sleep: [true; V],
            lr_used: [lr::LrShadow::new(); V],
            in_flight: [[NO_VCPU; 32]; B],
            typer: 0,
            denied: 0,
            bad_access: 0,
        };
        g.mpidr[..mpidrs.len()].copy_from_slice(mpidrs);
        for &intid in owned_spis {
            let (k, bit) = Self::spi_slot(intid).ok_or(VgicError::BadIntid(intid))?;
            g.owned[k] |= bit;
            g.owned_blocks |= 1 << k;
        }
        g.typer = g.compute_typer();
        Ok(g)
    }

    /// Block index and bit of an SPI within the capacity.
    pub const fn spi_slot(intid: u32) -> Option<(usize, u32)> {
        if intid < SPI_BASE || intid >= SPI_BASE + 32 * B as u32 || intid >= SPECIAL_BASE {
            return None;
        }
        Some((((intid - SPI_BASE) / 32) as usize, 1 << (intid % 32)))
    }

    /// Number of vCPUs.
    pub fn vcpus(&self) -> usize {
        self.vcpus
    }

    /// MPIDR of a vCPU.
    pub fn mpidr(&self, vcpu: usize) -> u64 {
        self.mpidr[vcpu]
    }

    /// Whether the VM owns `intid` (SGIs and PPIs always).
    pub fn owns(&self, intid: u32) -> bool {
        match Self::spi_slot(intid) {
            _ if intid < SPI_BASE => true,
            Some((k, bit)) => self.owned[k] & bit != 0,
            None => false,
        }
    }

    /// Largest owned SPI INTID, if any.
    pub fn max_owned_spi(&self) -> Option<u32> {
        (0..B)
            .rev()
            .find(|&k| self.owned[k] != 0)
            .map(|k| SPI_BASE + 32 * k as u32 + 31 - self.owned[k].leading_zeros())
    }

    /// Guest writes refused because they touched interrupts the VM does not own.
    pub fn denied(&self) -> u32 {
        self.denied
    }

    /// Guest accesses refused for their width, alignment or offset.
    pub fn bad_accesses(&self) -> u32 {
        self.bad_access
    }

    fn count_denied(&mut self, denied: bool) {
        if denied {
            self.denied = self.denied.saturating_add(1);
        }
    }

    fn count_bad(&mut self) {
        self.bad_access = self.bad_access.saturating_add(1);
    }

    /// The block and bit holding `intid` as seen by `vcpu`.
    fn slot_mut(&mut self, vcpu: usize, intid: u32) -> Option<(&mut Block, usize)> {
        if intid < SPI_BASE {
            return self.private.get_mut(vcpu).map(|b| (b, intid as usize));
        }
        let (k, _) = Self::spi_slot(intid)?;
        Some((&mut self.spi[k], (intid % 32) as usize))
    }

    /// Marks a purely virtual or hardware interrupt as hardware-forwarded: list registers
    /// for it carry `HW=1` and `pINTID` so the guest's deactivation reaches the physical
    /// GIC. Used for the VM's physical SPIs and e.g. the virtual timer PPI.
    pub fn set_hw(&mut self, vcpu: usize, intid: u32, pintid: u16) -> Result<(), VgicError> {
        if !self.owns(intid) {
            return Err(VgicError::NotOwned(intid));
        }
        let (b, n) = self.slot_mut(vcpu, intid).ok_or(VgicError::BadVcpu(vcpu))?;
        b.hw[n] = pintid;
        Ok(())
    }

    /// The vCPU an SPI is routed to (IROUTER affinity; IRM=1 picks vCPU 0). `None` when
    /// the affinity names no vCPU of the VM.
    pub fn spi_target(&self, intid: u32) -> Option<usize> {
        let (k, _) = Self::spi_slot(intid)?;
        let r = self.route[k][(intid % 32) as usize];
        if r & dist::IROUTER_IRM != 0 {
            return Some(0);
        }
        self.find_vcpu(r & dist::IROUTER_AFF_MASK)
    }

    /// The vCPU with the given affinity (IROUTER layout: Aff3 \[39:32\], Aff2..Aff0).
    pub fn find_vcpu(&self, aff: u64) -> Option<usize> {
        const MPIDR_AFF: u64 = 0xFF_00FF_FFFF;
        self.mpidr[..self.vcpus]
            .iter()
            .position(|m| m & MPIDR_AFF == aff & MPIDR_AFF)
    }

    /// An edge on an interrupt (channel vIRQ, forwarded physical IRQ, SGI from the
    /// hypervisor). `vcpu` names the target for SGIs/PPIs and is ignored for SPIs.
    /// Returns the vCPU that should be kicked to refill its list registers, if any.
    pub fn raise(&mut self, vcpu: usize, intid: u32) -> Result<Option<usize>, VgicError> {
        if !self.owns(intid) {
            return Err(VgicError::NotOwned(intid));
        }
        let (b, n) = self.slot_mut(vcpu, intid).ok_or(VgicError::BadVcpu(vcpu))?;
        b.latch |= 1 << n;
        Ok(self.delivery_target(vcpu, intid))
    }

    /// Sets the line level of a level-sensitive source (emulated UART, timer). Returns
    /// the vCPU to kick as [`Vgic::raise`] does.
    pub fn set_level(
        &mut self,
        vcpu: usize,
        intid: u32,
        level: bool,
    ) -> Result<Option<usize>, VgicError> {
        if !self.owns(intid) {
            return Err(VgicError::NotOwned(intid));
        }
        let (b, n) = self.slot_mut(vcpu, intid).ok_or(VgicError::BadVcpu(vcpu))?;
        if level {
            b.line |= 1 << n;
        } else {
            b.line &= !(1 << n);
        }
        Ok(self.delivery_target(vcpu, intid))
    }

    fn delivery_target(&self, vcpu: usize, intid: u32) -> Option<usize> {
        if intid < SPI_BASE {
            Some(vcpu)
        } else {
            self.spi_owner(intid)
        }
    }

    /// The vCPU an SPI is delivered to now: the one holding it in flight, else its
    /// route.
    pub fn spi_owner(&self, intid: u32) -> Option<usize> {
        let (k, _) = Self::spi_slot(intid)?;
        match self.in_flight[k][(intid % 32) as usize] {
            NO_VCPU => self.spi_target(intid),
            v => Some(v as usize),
        }
    }

    /// Records which vCPU holds an SPI in flight (`None` clears); no-op for others.
    fn set_in_flight(&mut self, intid: u32, vcpu: Option<usize>) {
        if let Some((k, _)) = Self::spi_slot(intid) {
            self.in_flight[k][(intid % 32) as usize] = vcpu.map_or(NO_VCPU, |v| v as u8);
        }
    }

    /// The private block of a vCPU (for inspection).
    pub fn private_block(&self, vcpu: usize) -> &Block {
        &self.private[vcpu]
    }

    /// The SPI block holding `intid` (for inspection).
    pub fn spi_block(&self, intid: u32) -> Option<&Block> {
        Self::spi_slot(intid).map(|(k, _)| &self.spi[k])
    }
}

#[cfg(test)]
mod tests;
