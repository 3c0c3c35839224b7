//! `perf kvm stat` for the hypervisor: exits by reason with their service time, per VM and per
//! vCPU, and switches by reason, by the exit that caused them and by their cost.
//!
//! Definitions (all derived from the events, nothing extra is asked of the hypervisor):
//! - an *exit* is a `Trap` record; its *service time* is `duration_ticks` (trap entry to the
//!   ERET that follows, which includes a switch to another vCPU when one happens);
//! - a switch's *trigger* is the exit whose end it coincides with (the hypervisor emits the
//!   `Switch` with the same counter value that ends the `Trap`), `idle` when the CPU was
//!   idle (woken by an interrupt in the idle loop, or its first start), `unmatched` when no
//!   exit ended at that instant;
//! - a vCPU→vCPU switch's *cost* is the service time of its trigger: from the old vCPU's trap
//!   to the ERET into the new one.
//!
//! Memory is bounded for any input: the tables are sized by the hello (ids beyond it never
//! reach here, see [`crate::session`]), and latency histograms are allocated lazily from a
//! budget of [`MAX_HISTOGRAMS`] (each ≤ [`HISTOGRAM_BYTES`]); a row beyond the budget keeps
//! exact count, sum, min and max but no percentiles.

use hdrhistogram::Histogram;
use hv_protocol::{SwitchReason, TRAP_KINDS, TrapKind};

/// Latency histograms a session may allocate.
pub const MAX_HISTOGRAMS: usize = 256;
/// Upper bound of one histogram's counts array (3 significant digits, 1 ns .. 2^36 ns).
pub const HISTOGRAM_BYTES: usize = 28_672 * 4;
/// Largest value a histogram resolves (longer samples are clamped there; max stays exact).
const HIST_MAX_NS: u64 = 1 << 36;

/// Number of switch triggers: every trap kind, plus `idle` and `unmatched`.
pub const TRIGGERS: usize = TRAP_KINDS + 2;
/// Trigger index of a switch away from idle.
pub const IDLE: usize = TRAP_KINDS;
/// Trigger index of a switch no exit ended in.
pub const UNMATCHED: usize = TRAP_KINDS + 1;

/// Name of trigger `i` (a trap kind's name, `idle` or `unmatched`).
pub fn trigger_name(i: usize) -> &'static str {
    match TrapKind::ALL.get(i) {
        Some(k) => k.name(),
        None if i == IDLE => "idle",
        None => "unmatched",
    }
}

/// A latency distribution: exact count/sum/min/max, percentiles from an HDR histogram.
#[derive(Debug, Default, Clone)]
pub struct Dist {
    pub count: u64,
    pub sum_ns: u128,
    pub min_ns: u64,
    pub max_ns: u64,
    hist: Option<Box<Histogram<u32>>>,
}

impl Dist {
    /// Adds one sample; a histogram is taken from `budget` on the first one.
    pub fn record(&mut self, ns: u64, budget: &mut usize) {
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.max_ns = self.max_ns.max(ns);
        self.count += 1;
        self.sum_ns += u128::from(ns);
        if self.hist.is_none() && *budget > 0 {
            *budget -= 1;
            self.hist = Histogram::new_with_bounds(1, HIST_MAX_NS, 3)
                .ok()
                .map(Box::new);
        }
        if let Some(h) = self.hist.as_mut() {
            h.saturating_record(ns.clamp(1, HIST_MAX_NS));
        }
    }

    pub fn mean_ns(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_ns as f64 / self.count as f64)
    }

    /// The `q` quantile, clamped into [min, max] (so a single sample reads exactly); `None`
    /// without samples or without a histogram.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let h = self.hist.as_ref().filter(|_| self.count > 0)?;
        Some(
            h.highest_equivalent(h.value_at_quantile(q))
                .clamp(self.min_ns, self.max_ns),
        )
    }

    /// Whether percentiles are available.
    pub fn has_histogram(&self) -> bool {
        self.hist.is_some()
    }

    /// The recorded values as (value in ns, count), when a histogram was kept.
    pub fn values(&self) -> Vec<(u64, u64)> {
        self.hist.as_ref().map_or_else(Vec::new, |h| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), u64::from(v.count_at_value())))
                .collect()
        })
    }
}

/// Exits of one scope (everything, a VM or a vCPU), by trap kind.
#[derive(Debug, Default, Clone)]
pub struct Exits {
    pub by_kind: [Dist; TRAP_KINDS],
}

impl Exits {
    pub fn count(&self) -> u64 {
        self.by_kind.iter().map(|d| d.count).sum()
    }

    pub fn time_ns(&self) -> u128 {
        self.by_kind.iter().map(|d| d.sum_ns).sum()
    }
}

/// Switches of one scope, by reported reason and by trigger, and the cost by trigger.
#[derive(Debug, Default, Clone)]
pub struct Switches {
    pub by_reason: [u64; SwitchReason::COUNT],
    pub by_trigger: [u64; TRIGGERS],
    /// vCPU→vCPU switches: service time of the exit that caused them, by trigger.
    pub cost: [Dist; TRIGGERS],
}

impl Switches {
    pub fn count(&self) -> u64 {
        self.by_reason.iter().sum()
    }
}

/// A `Trap` of `vcpu` (of VM `vm`) on `cpu`, entered at `ts` (counter), lasting `ticks`
/// (`ns` nanoseconds).
#[derive(Debug, Clone, Copy)]
pub struct TrapSample {
    pub cpu: usize,
    pub vm: Option<usize>,
    pub vcpu: usize,
    pub kind: TrapKind,
    pub ts: u64,
    pub ticks: u64,
    pub ns: u64,
}

/// The trap that ended last on a CPU: its end (counter), kind and service time (ns).
#[derive(Debug, Clone, Copy)]
struct LastTrap {
    end: u64,
    kind: TrapKind,
    ns: u64,
}

/// Everything `hvmon stat` shows.
#[derive(Debug, Clone)]
pub struct Stat {
    pub total: Exits,
    /// By VM id (as many as the hello names).
    pub vms: Vec<Exits>,
    /// By vCPU id (as many as the hello maps).
    pub vcpus: Vec<Exits>,
    pub switches: Switches,
    /// Switches *into* each vCPU (by vCPU id); the idle "vCPU" is not counted here.
    pub switches_in: Vec<Switches>,
    /// Switches *into* each VM.
    pub switches_in_vm: Vec<Switches>,
    /// By physical CPU: the trap that ended last, and the vCPU running.
    last: Vec<Option<LastTrap>>,
    budget: usize,
}

impl Default for Stat {
    fn default() -> Self {
        Stat {
            total: Exits::default(),
            vms: Vec::new(),
            vcpus: Vec::new(),
            switches: Switches::default(),
            switches_in: Vec::new(),
            switches_in_vm: Vec::new(),
            last: Vec::new(),
            budget: MAX_HISTOGRAMS,
        }
    }
}

impl Stat {
    /// Sizes the tables for a hello (they only grow: a later, larger hello extends them).
    pub fn size(&mut self, cpus: usize, vms: usize, vcpus: usize) {
        grow(&mut self.vms, vms);
        grow(&mut self.vcpus, vcpus);
        grow(&mut self.switches_in, vcpus);
        grow(&mut self.switches_in_vm, vms);
        if self.last.len() < cpus {
            self.last.resize(cpus, None);
        }
    }

    /// Histograms still available.
    pub fn budget_left(&self) -> usize {
        self.budget
    }

    /// One `Trap` record.
    pub fn trap(&mut self, t: TrapSample) {
        let TrapSample {
            cpu,
            vm,
            vcpu,
            kind,
            ts,
            ticks,
            ns,
        } = t;
        let k = kind as usize;
        let b = &mut self.budget;
        self.total.by_kind[k].record(ns, b);
        if let Some(e) = vm.and_then(|vm| self.vms.get_mut(vm)) {
            e.by_kind[k].record(ns, b);
        }
        if let Some(e) = self.vcpus.get_mut(vcpu) {
            e.by_kind[k].record(ns, b);
        }
        if let Some(l) = self.last.get_mut(cpu) {
            *l = Some(LastTrap {
                end: ts.wrapping_add(ticks),
                kind,
                ns,
            });
        }
    }

    /// A `Switch` on `cpu` at `ts` from `from` to `to` (vCPU ids; `to_vm` the VM of `to`).
    pub fn switch(
        &mut self,
        cpu: usize,
        ts: u64,
        from: Option<u16>,
        to: Option<u16>,
        to_vm: Option<usize>,
        reason: SwitchReason,
    ) {
        let trigger = match self.last.get_mut(cpu).and_then(Option::take) {
            Some(t) if t.end == ts && from.is_some() => Some(t),
            _ => None,
        };
        let ti = match (trigger, from) {
            (Some(t), _) => t.kind as usize,
            (None, None) => IDLE,
            (None, Some(_)) => UNMATCHED,
        };
        let cost = trigger.filter(|_| from.is_some() && to.is_some() && from != to);
        let b = &mut self.budget;
        let add = |s: &mut Switches, b: &mut usize| {
            s.by_reason[reason as usize] += 1;
            s.by_trigger[ti] += 1;
            if let Some(t) = cost {
                s.cost[ti].record(t.ns, b);
            }
        };
        add(&mut self.switches, b);
        if let Some(s) = to.and_then(|v| self.switches_in.get_mut(usize::from(v))) {
            add(s, b);
        }
        if let Some(s) = to_vm.and_then(|vm| self.switches_in_vm.get_mut(vm)) {
            add(s, b);
        }
    }
}

fn grow<T: Default + Clone>(v: &mut Vec<T>, n: usize) {
    if v.len() < n {
        v.resize(n, T::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_is_exact_for_one_value_and_bounded() {
        let mut budget = 1;
        let mut d = Dist::default();
        for _ in 0..100 {
            d.record(504, &mut budget);
        }
        assert_eq!(
            (d.min_ns, d.max_ns, d.quantile(0.5), d.quantile(0.99)),
            (504, 504, Some(504), Some(504))
        );
        assert_eq!(budget, 0);
        let mut e = Dist::default();
        e.record(7, &mut budget);
        assert_eq!(
            (e.count, e.min_ns, e.quantile(0.5)),
            (1, 7, None),
            "no budget: no percentiles"
        );
        assert_eq!(e.mean_ns(), Some(7.0));
    }

    #[test]
    fn a_switch_at_the_end_of_a_trap_is_triggered_by_it() {
        let mut s = Stat::default();
        s.size(1, 2, 2);
        let t = |vm, vcpu, kind, ts, ticks, ns| TrapSample {
            cpu: 0,
            vm: Some(vm),
            vcpu,
            kind,
            ts,
            ticks,
            ns,
        };
        s.trap(t(0, 0, TrapKind::Wfi, 100, 30, 480));
        s.switch(0, 130, Some(0), Some(1), Some(1), SwitchReason::Slot);
        // an unrelated trap, then a switch later: no trigger
        s.trap(t(1, 1, TrapKind::Hvc, 200, 10, 160));
        s.switch(0, 300, Some(1), None, None, SwitchReason::Wfi);
        s.switch(0, 400, None, Some(0), Some(0), SwitchReason::Irq);
        let w = TrapKind::Wfi as usize;
        assert_eq!(s.switches.by_trigger[w], 1);
        assert_eq!(s.switches.by_trigger[IDLE], 1);
        assert_eq!(s.switches.by_trigger[UNMATCHED], 1);
        assert_eq!(s.switches.cost[w].count, 1);
        assert_eq!(s.switches.cost[w].max_ns, 480);
        assert_eq!(s.switches_in[1].by_reason[SwitchReason::Slot as usize], 1);
        assert_eq!(s.switches_in_vm[0].by_reason[SwitchReason::Irq as usize], 1);
        assert_eq!(s.switches.count(), 3);
        assert_eq!(s.vms[1].count(), 1);
        assert_eq!(s.total.time_ns(), 640);
    }
}
