//! List registers: the `ICH_LR<n>_EL2` encoding and the manager that moves interrupts
//! between the model and the hardware's few list registers, including overflow.
//!
//! Why: a vCPU sees virtual interrupts only through its list registers (N of them,
//! ICH_VTR_EL2.ListRegs + 1, often 4). The model is authoritative between guest runs:
//! on every exit the arch reads the LRs back ([`Vgic::sync_lrs`]), and the next entry
//! writes a fresh selection ([`Vgic::fill_lrs`]) — unless nothing changed: when every
//! interrupt delivered came back done ([`Synced::refill`] false) and nothing was raised
//! since, the entry touches neither the model nor a list register. When more interrupts are deliverable
//! than LRs exist, the rest stay pending in the model and the fill asks for a
//! maintenance interrupt (ICH_HCR_EL2.NPIE: "no LR pending", or UIE: "at most one LR
//! valid" when every LR holds an active interrupt), which exits to EL2 so the next fill
//! delivers the rest. Without that request a VM stalls after an overflow (a peer did).
//!
//! Spec: IHI 0069, `ICH_LR<n>_EL2` (vINTID \[31:0\], pINTID \[44:32\] when HW=1, EOI
//! \[41\] when HW=0, Priority \[55:48\], Group \[60\], HW \[61\], State \[63:62\]), ICH_HCR_EL2
//! (UIE \[1\], NPIE \[3\]), "Virtual interrupt handling" and the HW-bit rules (a list
//! register with HW=1 is never written pending-and-active, see the State field).
//!
//! Pending-state hand-over: putting an interrupt into an LR as pending moves its latch
//! into the LR; reading an LR back that is still pending puts the latch back — unless a
//! level interrupt's line is high, which keeps it pending by itself. A raise that arrives
//! while the interrupt sits in an LR (pending or active) is therefore a new latch and is
//! never lost. Level interrupts carry EOI=1 so their EOI exits to let the line be
//! resampled. (Dropping the EOI exit for software-raised level interrupts was measured:
//! it moves the model's clean-up into the next exit and made the VM↔VM round trip of the
//! `vm-switch` experiment 28% slower, so every level interrupt keeps it.)

use super::{Vgic, VgicError};

/// Most list registers an implementation can have (ICH_VTR_EL2.ListRegs is 4 bits).
pub const MAX_LRS: usize = 16;

/// ICH_HCR_EL2.UIE: underflow maintenance interrupt enable.
pub const HCR_UIE: u64 = 1 << 1;
/// ICH_HCR_EL2.NPIE: no-pending maintenance interrupt enable.
pub const HCR_NPIE: u64 = 1 << 3;

/// State field of a list register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrState {
    /// Empty.
    Invalid = 0,
    /// Pending.
    Pending = 1,
    /// Active (acknowledged, not yet deactivated).
    Active = 2,
    /// Active and pending again.
    PendingActive = 3,
}

impl LrState {
    const fn from_bits(b: u64) -> LrState {
        match b & 3 {
            0 => LrState::Invalid,
            1 => LrState::Pending,
            2 => LrState::Active,
            _ => LrState::PendingActive,
        }
    }
    /// Whether the pending bit is set.
    pub const fn pending(self) -> bool {
        self as u8 & 1 != 0
    }
    /// Whether the active bit is set.
    pub const fn active(self) -> bool {
        self as u8 & 2 != 0
    }
}

/// One `ICH_LR<n>_EL2` value, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListReg {
    /// Virtual INTID.
    pub vintid: u32,
    /// Physical INTID (HW=1 only).
    pub pintid: u16,
    /// Hardware-forwarded: the guest's deactivation deactivates `pintid`.
    pub hw: bool,
    /// Maintenance interrupt on EOI (HW=0 only).
    pub eoi: bool,
    /// Priority.
    pub priority: u8,
    /// Group 1.
    pub group1: bool,
    /// State.
    pub state: LrState,
}

impl ListReg {
    /// Encodes into the register value.
    pub const fn encode(&self) -> u64 {
        let mut v = self.vintid as u64
            | (self.priority as u64) << 48
            | (self.group1 as u64) << 60
            | (self.state as u64) << 62;
        if self.hw {
            v |= (self.pintid as u64 & 0x1FFF) << 32 | 1 << 61;
        } else if self.eoi {
            v |= 1 << 41;
        }
        v
    }

    /// Decodes a register value.
    pub const fn decode(v: u64) -> ListReg {
        let hw = v & (1 << 61) != 0;
        ListReg {
            vintid: v as u32,
            pintid: if hw { ((v >> 32) & 0x1FFF) as u16 } else { 0 },
            hw,
            eoi: !hw && v & (1 << 41) != 0,
            priority: (v >> 48) as u8,
            group1: v & (1 << 60) != 0,
            state: LrState::from_bits(v >> 62),
        }
    }
}

/// Which list registers the model filled for a vCPU, and whether interrupts were left
/// out for want of list registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LrShadow {
    used: u16,
    overflow: bool,
}

impl LrShadow {
    /// Nothing filled.
    pub const fn new() -> Self {
        LrShadow {
            used: 0,
            overflow: false,
        }
    }
}

/// What reading the list registers back at an exit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Synced {
    /// Other vCPUs to kick (bit i = vCPU i): an SPI that came back still pending but is
    /// now routed elsewhere is theirs to deliver.
    pub kick: u64,
    /// The vCPU's list registers must be filled again before it runs: an interrupt came
    /// back pending or active, or the last fill left some out. When false, every
    /// interrupt the last fill delivered is done and nothing else waited, so until
    /// something new is raised the next fill would write nothing: the entry path can
    /// skip the model and leave the list registers alone.
    pub refill: bool,
}

/// The result of a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LrFill {
    /// List registers holding an interrupt (the first `used`; the rest were written 0).
    pub used: usize,
    /// Deliverable interrupts that did not fit.
    pub overflow: usize,
    /// ICH_HCR_EL2 maintenance bits to set (UIE or NPIE, or none); the arch keeps En
    /// and its other bits and replaces these two.
    pub hcr: u64,
}

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// Folds the list registers read back at a guest exit into the model. `lrs[i]` is
    /// `ICH_LR<i>_EL2`; only the ones the last fill used are looked at.
    pub fn sync_lrs(&mut self, vcpu: usize, lrs: &[u64]) -> Synced {
        let Some(shadow) = self.lr_used.get_mut(vcpu) else {
            return Synced::default();
        };
        let used = core::mem::take(&mut shadow.used);
        let mut refill = core::mem::take(&mut shadow.overflow);
        let mut kick = 0u64;
        for (i, &raw) in lrs.iter().enumerate().take(MAX_LRS) {
            if used & (1 << i) == 0 {
                continue;
            }
            let (again, to) = self.fold_lr(vcpu, raw);
            refill |= again;
            if let Some(o) = to {
                kick |= 1 << o;
            }
        }
        Synced { kick, refill }
    }

    /// Folds one list register read back at an exit into the model: its pending state goes
    /// back into the latch (unless a level line keeps it pending by itself), its active
    /// state into the model. Returns whether the interrupt must go back in at the next
    /// entry (still pending or active), and the vCPU to kick when an SPI came back pending
    /// but is now routed to another one.
    fn fold_lr(&mut self, vcpu: usize, raw: u64) -> (bool, Option<usize>) {
        let lr = ListReg::decode(raw);
        let Some((b, n)) = self.slot_mut(vcpu, lr.vintid) else {
            return (false, None);
        };
        let bit = 1u32 << n;
        let line_keeps_it = b.edge & bit == 0 && b.line & bit != 0 && b.hw[n] == 0;
        if lr.state.pending() && !line_keeps_it {
            b.latch |= bit;
        }
        if lr.state.active() {
            b.active |= bit;
        } else {
            b.active &= !bit;
        }
        // Still pending (came back pending, raised again meanwhile, or a level line still
        // high) or active: it goes back in at the next entry.
        let again = (b.pending() | b.active) & bit != 0;
        let mut to = None;
        if !lr.state.active() {
            self.set_in_flight(lr.vintid, None);
            if lr.vintid >= super::SPI_BASE && lr.state.pending() {
                to = self.spi_owner(lr.vintid).filter(|&o| o != vcpu);
            }
        }
        (again, to)
    }

    /// The list register value for candidate `c` of `vcpu` (`None`: no such interrupt), as
    /// it enters a list register:
    /// its pending state moves from the latch into the register (a HW interrupt is never
    /// written pending-and-active: its new pending state stays latched until the active
    /// one is deactivated) and it is in flight on `vcpu`. Returns the value and whether it
    /// went in pending.
    #[inline(always)]
    fn load_lr(&mut self, vcpu: usize, c: &super::Candidate) -> Option<(u64, bool)> {
        let (b, bit_n) = self.slot_mut(vcpu, c.intid)?;
        let bit = 1u32 << bit_n;
        let hw = c.hw != 0;
        let pending = c.pending && !(hw && c.active);
        if pending {
            b.latch &= !bit;
        }
        self.set_in_flight(c.intid, Some(vcpu));
        let state = match (pending, c.active) {
            (true, true) => LrState::PendingActive,
            (true, false) => LrState::Pending,
            _ => LrState::Active,
        };
        let lr = ListReg {
            vintid: c.intid,
            pintid: c.hw,
            hw,
            eoi: !hw && !c.edge,
            priority: c.priority,
            group1: true,
            state,
        };
        Some((lr.encode(), pending))
    }

    /// Raises private `intid` of `vcpu` and, when it is deliverable now, returns the list
    /// register a fill would write for it (its pending state moves into it as in
    /// [`Vgic::fill_lrs`]); `None`: it is only latched, for the next fill.
    ///
    /// For the commonest interrupt of all, a loaded vCPU's own hardware-linked timer tick,
    /// without the candidate scan of a fill. The caller guarantees what makes that exact:
    /// the vCPU's list registers are empty and nothing changed since its last fill, so
    /// this interrupt is the only one a fill would choose. The list register is the
    /// caller's to keep track of: the model's bookkeeping does not record it, so at the
    /// next exit one that came back done (Invalid) needs nothing from the model, and one
    /// that did not goes back through [`Vgic::return_alone`].
    pub fn raise_alone(&mut self, vcpu: usize, intid: u32) -> Result<Option<u64>, VgicError> {
        if intid >= super::SPI_BASE {
            return Err(VgicError::BadIntid(intid));
        }
        self.raise(vcpu, intid)?;
        if !self.deliverable(vcpu, intid) {
            return Ok(None);
        }
        let b = &self.private[vcpu];
        let n = intid as usize;
        let c = super::Candidate {
            intid,
            priority: b.priority[n],
            pending: true,
            active: false,
            hw: b.hw[n],
            edge: b.edge & (1 << n) != 0,
        };
        Ok(self.load_lr(vcpu, &c).map(|(lr, _)| lr))
    }

    /// A list register [`Vgic::raise_alone`] returned came back at an exit not done
    /// (still pending or active): its state goes back into the model, as
    /// [`Vgic::sync_lrs`] would fold it; the vCPU must be filled again before it runs.
    pub fn return_alone(&mut self, vcpu: usize, raw: u64) {
        self.fold_lr(vcpu, raw);
    }

    /// Chooses what goes into the vCPU's list registers before it runs. `out.len()` is
    /// the number of list registers; the first [`LrFill::used`] entries are written, the
    /// others are left as they are (the list registers were emptied at the last exit).
    pub fn fill_lrs(&mut self, vcpu: usize, out: &mut [u64]) -> LrFill {
        let cap = out.len().min(MAX_LRS);
        let mut top = super::pending::Top::new();
        // Most fills have no more candidates than list registers: then every one goes in,
        // in INTID order (the CPU interface takes them by priority whatever their order),
        // and nothing needs choosing. Only an overflow pays for the selection.
        let mut total = 0;
        self.for_each_candidate(vcpu, |c| {
            total += 1;
            if top.len() < cap {
                // Cannot fail: the list has room.
                let _ = top.push(c);
            }
        });
        if total > cap {
            top.clear();
            self.top(vcpu, cap, false, |c| c.key(), &mut top);
        }
        let len = top.len();
        let mut any_pending = false;
        for (i, c) in top.iter().enumerate() {
            let Some((lr, pending)) = self.load_lr(vcpu, c) else {
                continue;
            };
            any_pending |= pending;
            out[i] = lr;
        }
        let overflow = total - len;
        if let Some(s) = self.lr_used.get_mut(vcpu) {
            s.used = ((1u32 << len) - 1) as u16;
            s.overflow = overflow != 0;
        }
        let hcr = match (overflow, any_pending) {
            (0, _) => 0,
            (_, true) => HCR_NPIE,
            (_, false) => HCR_UIE,
        };
        LrFill {
            used: len,
            overflow,
            hcr,
        }
    }
}
