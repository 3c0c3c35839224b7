//! A simulation of the guest side of the virtual CPU interface, used by the list-register
//! tests: acknowledge, EOI and the maintenance conditions, as the hardware behaves.

use super::super::lr::*;
use super::G;

/// The guest side of the virtual CPU interface, as the hardware would behave, for a
/// guest that handles one interrupt at a time (EOImode 0: EOI also deactivates).
pub(super) struct Cpu<const N: usize> {
    pub lrs: [u64; N],
    pub hcr: u64,
    eoi_maint: bool,
    /// EOIs that found no list register (a lost deactivation).
    pub lost_eoi: u32,
}

impl<const N: usize> Cpu<N> {
    pub fn new() -> Self {
        Cpu {
            lrs: [0; N],
            hcr: 0,
            eoi_maint: false,
            lost_eoi: 0,
        }
    }

    /// Entry: the list registers were emptied at the exit (as the arch does), then
    /// filled.
    pub fn enter(&mut self, g: &mut G, v: usize) -> LrFill {
        self.lrs = [0; N];
        let f = g.fill_lrs(v, &mut self.lrs);
        self.hcr = f.hcr;
        self.eoi_maint = false;
        f
    }

    /// Entry without a fill: the list registers stay as the exit left them (empty) and
    /// no maintenance interrupt is asked for.
    pub fn enter_untouched(&mut self) {
        self.lrs = [0; N];
        self.hcr = 0;
        self.eoi_maint = false;
    }

    pub fn exit(&mut self, g: &mut G, v: usize) {
        g.sync_lrs(v, &self.lrs);
    }

    /// ICC_IAR1_EL1: highest-priority pending LR (if nothing is active).
    pub fn ack(&mut self) -> Option<u32> {
        let decoded = self.lrs.map(ListReg::decode);
        if decoded.iter().any(|l| l.state.active()) {
            return None;
        }
        let (i, lr) = decoded
            .iter()
            .enumerate()
            .filter(|(_, l)| l.state == LrState::Pending)
            .min_by_key(|(_, l)| (l.priority, l.vintid))?;
        self.lrs[i] = ListReg {
            state: LrState::Active,
            ..*lr
        }
        .encode();
        Some(lr.vintid)
    }

    /// ICC_EOIR1_EL1.
    pub fn eoi(&mut self, intid: u32) {
        for raw in self.lrs.iter_mut() {
            let lr = ListReg::decode(*raw);
            if lr.vintid == intid && lr.state.active() {
                let state = if lr.state.pending() {
                    LrState::Pending
                } else {
                    LrState::Invalid
                };
                if state == LrState::Invalid && lr.eoi {
                    self.eoi_maint = true;
                }
                *raw = ListReg { state, ..lr }.encode();
                return;
            }
        }
        self.lost_eoi += 1;
    }

    /// Whether the maintenance interrupt is asserted (ICH_MISR_EL2 NP, U, EOI).
    pub fn maintenance(&self) -> bool {
        let d = self.lrs.map(ListReg::decode);
        let pending = d.iter().filter(|l| l.state.pending()).count();
        let valid = d.iter().filter(|l| l.state != LrState::Invalid).count();
        (self.hcr & HCR_NPIE != 0 && pending == 0)
            || (self.hcr & HCR_UIE != 0 && valid <= 1)
            || self.eoi_maint
    }

    /// Runs the guest until it idles with no maintenance pending; records deliveries.
    pub fn run(&mut self, g: &mut G, v: usize, log: &mut [u32; 32], n: &mut usize) {
        for _ in 0..1000 {
            let acked = self.ack();
            if let Some(id) = acked {
                log[*n] = id;
                *n += 1;
                self.eoi(id);
            }
            if self.maintenance() {
                self.exit(g, v);
                self.enter(g, v);
            } else if acked.is_none() {
                return;
            }
        }
        panic!("guest never idled");
    }
}
