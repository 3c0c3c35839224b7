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
//! by INTID. Selection is a top-k insertion over the bitmaps, so no buffer proportional
//! to the number of interrupts is needed.

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

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// Calls `f` for every candidate of `vcpu`, in INTID order.
    pub fn for_each_candidate(&self, vcpu: usize, mut f: impl FnMut(Candidate)) {
        if vcpu >= self.vcpus {
            return;
        }
        let grp1 = self.enable_grp1;
        block_candidates(&self.private[vcpu], 0, !0, grp1, &mut f);
        for k in 0..B {
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

    /// Fills `out` with the most urgent candidates of `vcpu` (active ones first, see the
    /// module docs). Returns (entries written, total candidates).
    pub fn top_candidates(&self, vcpu: usize, out: &mut [Candidate]) -> (usize, usize) {
        let (mut len, mut total) = (0, 0);
        self.for_each_candidate(vcpu, |c| {
            total += 1;
            insert_top(out, &mut len, c, |c| c.key());
        });
        (len, total)
    }

    /// "What should be pending for vCPU N, highest priority first": the pending
    /// candidates of `vcpu` by (priority, INTID), written to `out`. Returns the count.
    pub fn pending_for(&self, vcpu: usize, out: &mut [Candidate]) -> usize {
        let mut len = 0;
        self.for_each_candidate(vcpu, |c| {
            if c.pending {
                insert_top(out, &mut len, c, |c| (c.priority, c.intid));
            }
        });
        len
    }

    /// Whether `vcpu` has a pending interrupt to take (wakes it from WFI).
    pub fn has_pending(&self, vcpu: usize) -> bool {
        let mut any = false;
        self.for_each_candidate(vcpu, |c| any |= c.pending);
        any
    }
}

/// Inserts `c` into the sorted prefix `out[..*len]`, keeping at most `out.len()` entries.
fn insert_top<K: Ord>(
    out: &mut [Candidate],
    len: &mut usize,
    c: Candidate,
    key: impl Fn(&Candidate) -> K,
) {
    let k = key(&c);
    let pos = out[..*len].iter().position(|o| k < key(o)).unwrap_or(*len);
    if pos >= out.len() {
        return;
    }
    if *len < out.len() {
        *len += 1;
    }
    out.copy_within(pos..*len - 1, pos + 1);
    out[pos] = c;
}
