//! What is deliverable to a vCPU, most urgent first.
//!
//! Why: the list registers are few (often 4); the model must say which interrupts go in
//! them. An interrupt is a candidate for vCPU `v` when it belongs to `v` (its SGI/PPI, or
//! an owned SPI whose IROUTER names `v`, unless it is in flight on another vCPU) and it is either active (the guest has
//! acknowledged it and must be able to EOI it: it must sit in a list register) or
//! pending, enabled, and Group 1 is enabled in GICD_CTLR. Spec: IHI 0069 "Interrupt lifecycle",
//! "Interrupt prioritization" (lower value = higher priority; equal
//! priority: implementation choice, here the lower INTID), GICD_CTLR.EnableGrp1.
//!
//! Ordering: active interrupts first (they cannot be left out), then by priority, then
//! by INTID. Selection is a top-k insertion over the bitmaps into a list as long as the
//! list registers, so no buffer proportional to the number of interrupts is needed.

use super::lr::MAX_LRS;
use super::{Block, SPI_BASE, Vgic};

/// An interrupt that should be visible to a vCPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Virtual INTID.
    pub intid: u32,
    /// Priority (lower is more urgent).
    pub priority: u8,
    /// Pending (and enabled).
    pub pending: bool,
    /// Active.
    pub active: bool,
    /// Physical INTID if hardware-forwarded, else 0.
    pub hw: u16,
    /// Edge-triggered.
    pub edge: bool,
}

impl Candidate {
    /// Sort key: smaller is more urgent.
    pub const fn key(&self) -> (bool, u8, u32) {
        (!self.active, self.priority, self.intid)
    }

    /// A placeholder for buffers.
    pub const EMPTY: Candidate = Candidate {
        intid: 0,
        priority: 0,
        pending: false,
        active: false,
        hw: 0,
        edge: false,
    };
}

fn block_candidates(b: &Block, base: u32, select: u32, grp1: bool, f: &mut impl FnMut(Candidate)) {
    let pend = if grp1 { b.pending() & b.enabled } else { 0 };
    let mut bits = (pend | b.active) & select;
    while bits != 0 {
        let n = bits.trailing_zeros();
        bits &= bits - 1;
        let bit = 1 << n;
        f(Candidate {
            intid: base + n,
            priority: b.priority[n as usize],
            pending: pend & bit != 0,
            active: b.active & bit != 0,
            hw: b.hw[n as usize],
            edge: b.edge & bit != 0,
        });
    }
}

/// The most urgent candidates found so far, sorted by a key: a top-k selection that
/// needs no buffer proportional to the number of interrupts, and none initialised.
pub(super) type Top = heapless::Vec<Candidate, MAX_LRS>;

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// Calls `f` for every candidate of `vcpu`, in INTID order. Only the SPI blocks the
    /// VM owns interrupts in are looked at.
    pub fn for_each_candidate(&self, vcpu: usize, mut f: impl FnMut(Candidate)) {
        if vcpu >= self.vcpus {
            return;
        }
        let grp1 = self.enable_grp1;
        block_candidates(&self.private[vcpu], 0, !0, grp1, &mut f);
        let mut blocks = self.owned_blocks;
        while blocks != 0 {
            let k = blocks.trailing_zeros() as usize;
            blocks &= blocks - 1;
            let b = &self.spi[k];
            let mut live = ((b.pending() & b.enabled) | b.active) & self.owned[k];
            let mut mine = 0u32;
            while live != 0 {
                let n = live.trailing_zeros();
                live &= live - 1;
                if self.spi_owner(SPI_BASE + 32 * k as u32 + n) == Some(vcpu) {
                    mine |= 1 << n;
                }
            }
            if mine != 0 {
                block_candidates(b, SPI_BASE + 32 * k as u32, mine, grp1, &mut f);
            }
        }
    }

    /// Puts into `top` (empty) the at most `cap` (≤ [`MAX_LRS`]) most urgent candidates
    /// of `vcpu` by `key` (only pending ones if `pending_only`); returns how many
    /// candidates there were. (An out-parameter: returning the list would copy it.)
    pub(super) fn top<K: Ord>(
        &self,
        vcpu: usize,
        cap: usize,
        pending_only: bool,
        key: impl Fn(&Candidate) -> K,
        top: &mut Top,
    ) -> usize {
        let cap = cap.min(MAX_LRS);
        let mut total = 0;
        self.for_each_candidate(vcpu, |c| {
            if pending_only && !c.pending {
                return;
            }
            total += 1;
            let k = key(&c);
            let pos = top.iter().position(|o| k < key(o)).unwrap_or(top.len());
            if pos >= cap {
                return;
            }
            if top.len() == cap {
                top.pop();
            }
            // Cannot fail: the list has room after the pop above.
            let _ = top.insert(pos, c);
        });
        total
    }

    /// Fills `out` with the most urgent candidates of `vcpu` (active ones first, see the
    /// module docs; at most [`MAX_LRS`]). Returns (entries written, total candidates).
    pub fn top_candidates(&self, vcpu: usize, out: &mut [Candidate]) -> (usize, usize) {
        let mut top = Top::new();
        let total = self.top(vcpu, out.len(), false, |c| c.key(), &mut top);
        out[..top.len()].copy_from_slice(&top);
        (top.len(), total)
    }

    /// "What should be pending for vCPU N, highest priority first": the pending
    /// candidates of `vcpu` by (priority, INTID), written to `out` (at most
    /// [`MAX_LRS`]). Returns the count.
    pub fn pending_for(&self, vcpu: usize, out: &mut [Candidate]) -> usize {
        let mut top = Top::new();
        self.top(vcpu, out.len(), true, |c| (c.priority, c.intid), &mut top);
        out[..top.len()].copy_from_slice(&top);
        top.len()
    }

    /// Whether `intid`, as `vcpu` sees it, is pending, enabled, not active, and Group 1 is
    /// on: `vcpu` would take it now. O(1): lets a raise tell at once that its target has
    /// something to take (for an SPI, `vcpu` must be the one it is delivered to).
    pub fn deliverable(&self, vcpu: usize, intid: u32) -> bool {
        let b = if intid < SPI_BASE {
            self.private.get(vcpu)
        } else {
            Self::spi_slot(intid).map(|(k, _)| &self.spi[k])
        };
        let Some(b) = b else {
            return false;
        };
        let bit = 1u32 << (intid % 32);
        self.enable_grp1 && self.owns(intid) && b.pending() & b.enabled & !b.active & bit != 0
    }

    /// Whether `vcpu` has a pending interrupt to take (wakes it from WFI).
    pub fn has_pending(&self, vcpu: usize) -> bool {
        let mut any = false;
        self.for_each_candidate(vcpu, |c| any |= c.pending);
        any
    }
}
