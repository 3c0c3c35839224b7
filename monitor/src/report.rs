//! The `perf kvm stat`-style tables of a session: what [`crate::Summary`] carries (and
//! serialises as JSON) and how it reads as text.
//!
//! One [`ExitTable`] per scope — all VMs, each VM, each vCPU — with one row per exit reason
//! that occurred: samples, % of the scope's exits, % of its time in the hypervisor, and the
//! service-time distribution (min, mean, p50, p99, max; ns). One [`SwitchTable`] per scope —
//! all CPUs, switches into each VM, into each vCPU — by reported reason and by trigger, with
//! the cost of vCPU→vCPU switches per trigger.

use std::fmt::Write;

use hv_protocol::{SwitchReason, TrapKind};
use serde::Serialize;

use crate::info::Info;
use crate::stat::{Dist, Exits, Stat, Switches, TRIGGERS, trigger_name};
use crate::time::fmt_ns;

/// A latency distribution as reported (ns). Percentiles are `None` without a histogram.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DistReport {
    pub count: u64,
    pub total_ns: u64,
    pub min_ns: u64,
    pub mean_ns: f64,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub max_ns: u64,
}

impl DistReport {
    pub fn of(d: &Dist) -> Self {
        DistReport {
            count: d.count,
            total_ns: d.sum_ns.min(u128::from(u64::MAX)) as u64,
            min_ns: d.min_ns,
            mean_ns: d.mean_ns().unwrap_or(0.0),
            p50_ns: d.quantile(0.5),
            p99_ns: d.quantile(0.99),
            max_ns: d.max_ns,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExitRow {
    pub reason: &'static str,
    pub percent: f64,
    pub time_percent: f64,
    #[serde(flatten)]
    pub time: DistReport,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExitTable {
    /// `all`, `vm`, or `vcpu`.
    pub scope: &'static str,
    /// `all VMs`, the VM's name, or `vm/vcpuN`.
    pub name: String,
    pub exits: u64,
    pub time_ns: u64,
    /// By count, largest first.
    pub rows: Vec<ExitRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CountRow {
    pub name: &'static str,
    pub count: u64,
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CostRow {
    pub trigger: &'static str,
    #[serde(flatten)]
    pub cost: DistReport,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SwitchTable {
    /// `all` (every switch of every CPU), `vm` or `vcpu` (switches into it).
    pub scope: &'static str,
    pub name: String,
    pub switches: u64,
    /// As the hypervisor labelled them.
    pub by_reason: Vec<CountRow>,
    /// The exit each switch ended (or `idle`: the CPU was idle).
    pub by_trigger: Vec<CountRow>,
    /// vCPU→vCPU switches: service time of the exit that made them.
    pub cost: Vec<CostRow>,
}

fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

fn exit_table(scope: &'static str, name: String, e: &Exits) -> ExitTable {
    let (count, time) = (e.count(), e.time_ns());
    let mut rows: Vec<ExitRow> = TrapKind::ALL
        .iter()
        .zip(&e.by_kind)
        .filter(|(_, d)| d.count > 0)
        .map(|(k, d)| ExitRow {
            reason: k.name(),
            percent: pct(d.count, count),
            time_percent: if time == 0 {
                0.0
            } else {
                100.0 * d.sum_ns as f64 / time as f64
            },
            time: DistReport::of(d),
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.time.count));
    ExitTable {
        scope,
        name,
        exits: count,
        time_ns: time.min(u128::from(u64::MAX)) as u64,
        rows,
    }
}

fn counts(names: impl Iterator<Item = &'static str>, n: &[u64]) -> Vec<CountRow> {
    let total: u64 = n.iter().sum();
    names
        .zip(n)
        .filter(|(_, c)| **c > 0)
        .map(|(name, &count)| CountRow {
            name,
            count,
            percent: pct(count, total),
        })
        .collect()
}

fn switch_table(scope: &'static str, name: String, s: &Switches) -> SwitchTable {
    SwitchTable {
        scope,
        name,
        switches: s.count(),
        by_reason: counts(SwitchReason::ALL.iter().map(|r| r.name()), &s.by_reason),
        by_trigger: counts((0..TRIGGERS).map(trigger_name), &s.by_trigger),
        cost: (0..TRIGGERS)
            .filter(|&i| s.cost[i].count > 0)
            .map(|i| CostRow {
                trigger: trigger_name(i),
                cost: DistReport::of(&s.cost[i]),
            })
            .collect(),
    }
}

/// Every exit table: all VMs, then each VM (when there are several) followed by its vCPUs
/// (for VMs of several vCPUs, those with exits).
pub fn exit_tables(stat: &Stat, info: Option<&Info>) -> Vec<ExitTable> {
    let mut v = vec![exit_table("all", "all VMs".into(), &stat.total)];
    let Some(info) = info else { return v };
    for (vm, e) in stat.vms.iter().enumerate() {
        if e.count() == 0 {
            continue;
        }
        // with one VM its table is the "all VMs" table
        if info.vms.len() > 1 {
            v.push(exit_table("vm", info.vm_name(vm as u16), e));
        }
        let vcpus: Vec<usize> = (0..stat.vcpus.len())
            .filter(|&c| info.vm_of(c as u16) == Some(vm as u16))
            .collect();
        if vcpus.len() > 1 {
            for c in vcpus {
                if stat.vcpus[c].count() > 0 {
                    v.push(exit_table(
                        "vcpu",
                        info.vcpu_label(c as u16),
                        &stat.vcpus[c],
                    ));
                }
            }
        }
    }
    v
}

/// Every switch table: all CPUs, then switches into each VM and (for VMs of several vCPUs)
/// into each vCPU.
pub fn switch_tables(stat: &Stat, info: Option<&Info>) -> Vec<SwitchTable> {
    let mut v = vec![switch_table("all", "all CPUs".into(), &stat.switches)];
    let Some(info) = info else { return v };
    for (vm, s) in stat.switches_in_vm.iter().enumerate() {
        if s.count() == 0 {
            continue;
        }
        if info.vms.len() > 1 {
            v.push(switch_table("vm", info.vm_name(vm as u16), s));
        }
        let vcpus: Vec<usize> = (0..stat.switches_in.len())
            .filter(|&c| info.vm_of(c as u16) == Some(vm as u16))
            .collect();
        if vcpus.len() > 1 {
            for c in vcpus {
                if stat.switches_in[c].count() > 0 {
                    v.push(switch_table(
                        "vcpu",
                        info.vcpu_label(c as u16),
                        &stat.switches_in[c],
                    ));
                }
            }
        }
    }
    v
}

fn opt_ns(v: Option<u64>) -> String {
    v.map_or("-".into(), |n| fmt_ns(n as f64))
}

/// The exit table as text (`perf kvm stat report` layout).
pub fn write_exit_table(out: &mut String, t: &ExitTable, span_ns: u64) {
    let share = if span_ns > 0 {
        format!(
            " ({:.2}% of {})",
            pct(t.time_ns, span_ns),
            fmt_ns(span_ns as f64)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "Exits of {}: {} exits, {} in the hypervisor{share}",
        t.name,
        t.exits,
        fmt_ns(t.time_ns as f64),
    );
    let _ = writeln!(
        out,
        "  {:<12} {:>9} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "exit reason", "samples", "samples%", "time%", "min", "mean", "p50", "p99", "max"
    );
    for r in &t.rows {
        let d = &r.time;
        let _ = writeln!(
            out,
            "  {:<12} {:>9} {:>7.2}% {:>6.2}% {:>9} {:>9} {:>9} {:>9} {:>9}",
            r.reason,
            d.count,
            r.percent,
            r.time_percent,
            fmt_ns(d.min_ns as f64),
            fmt_ns(d.mean_ns),
            opt_ns(d.p50_ns),
            opt_ns(d.p99_ns),
            fmt_ns(d.max_ns as f64),
        );
    }
}

/// The switch table as text.
pub fn write_switch_table(out: &mut String, t: &SwitchTable) {
    let what = match t.scope {
        "all" => format!("Switches on {}", t.name),
        _ => format!("Switches into {}", t.name),
    };
    let _ = writeln!(out, "{what}: {}", t.switches);
    let list = |rows: &[CountRow]| {
        rows.iter()
            .map(|r| format!("{} {} ({:.1}%)", r.name, r.count, r.percent))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "  by reason:  {}", list(&t.by_reason));
    let _ = writeln!(out, "  by trigger: {}", list(&t.by_trigger));
    if !t.cost.is_empty() {
        let _ = writeln!(
            out,
            "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "switch cost", "samples", "min", "mean", "p50", "p99", "max"
        );
        for c in &t.cost {
            let d = &c.cost;
            let _ = writeln!(
                out,
                "  {:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                format!("after {}", c.trigger),
                d.count,
                fmt_ns(d.min_ns as f64),
                fmt_ns(d.mean_ns),
                opt_ns(d.p50_ns),
                opt_ns(d.p99_ns),
                fmt_ns(d.max_ns as f64),
            );
        }
    }
}
