//! Running aggregates over the records of a session: counts per CPU and latency histograms.
//!
//! Latencies are kept in nanoseconds (converted with the hello's counter frequency) in
//! HDR histograms (3 significant digits), so percentiles are cheap at any time for the live view.
//! - trap duration: `Trap::duration_ticks` (entry to ERET);
//! - IRQ latency: `IrqInjected::latency_ticks` (cause to list-register write);
//! - wake-up (switch) latency: from the first injection into a vCPU that is not running to the
//!   `Switch` that runs it — derived here, so the hypervisor need not measure it;
//! - exits by reason, per VM and vCPU, and switches by reason and trigger: [`crate::stat`].
//!
//! Every table is keyed by ids the session checked against the hello, so it is bounded.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use hv_protocol::{Event, Header, TRAP_KINDS};

use crate::info::Info;
use crate::stat::{Stat, TrapSample};
use crate::time::Clock;

/// `VmExit` events kept (a VM is reset and exits again; a stream may repeat them).
pub const MAX_VM_EXITS: usize = 1024;

/// Counts of one physical CPU.
#[derive(Debug, Default, Clone)]
pub struct CpuMetrics {
    pub records: u64,
    pub switches: u64,
    pub traps: [u64; TRAP_KINDS],
    pub injected: u64,
    pub hypercalls: u64,
    /// vCPU running now (`None`: idle or unknown).
    pub running: Option<u16>,
    /// Totals the hypervisor itself reported in its last `Counters` event.
    pub reported: Option<([u32; TRAP_KINDS], u32, u32)>,
}

/// A VM's end as reported by `VmExit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmExit {
    pub vm: u16,
    pub reason: &'static str,
    pub ts: u64,
}

/// One `Elastic` record: VM `vm`'s share of pool `pool` went from `from` to `to` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElasticChange {
    pub vm: u16,
    pub pool: u16,
    pub from: u32,
    pub to: u32,
    pub ts: u64,
}

/// One `Migrated` record: vCPU `vcpu` went from CPU `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub vcpu: u16,
    pub from: u16,
    pub to: u16,
    pub cause: &'static str,
    pub ts: u64,
}

/// Migrations kept for inspection (the count goes on).
pub const MAX_MIGRATIONS: usize = 100_000;

/// Elastic-memory changes kept for inspection (the count goes on).
pub const MAX_ELASTIC: usize = 100_000;

#[derive(Debug)]
pub struct Metrics {
    pub cpus: BTreeMap<u16, CpuMetrics>,
    pub trap_ns: Histogram<u64>,
    pub irq_latency_ns: Histogram<u64>,
    pub wakeup_ns: Histogram<u64>,
    pub vm_exits: Vec<VmExit>,
    pub markers: u64,
    /// Elastic-memory count changes (a holder's stage-2 set switched).
    pub elastic_moves: u64,
    /// The first [`MAX_ELASTIC`] of them, in arrival order.
    pub elastic: Vec<ElasticChange>,
    /// big.LITTLE moves of vCPUs between CPUs.
    pub migrations_total: u64,
    /// The first [`MAX_MIGRATIONS`] of them, in arrival order.
    pub migrations: Vec<Migration>,
    /// Per vCPU: the CPU its last `Migrated` record put it on.
    pub vcpu_cpu: BTreeMap<u16, u16>,
    /// Per vCPU: how many `Migrated` records moved it.
    pub vcpu_moves: BTreeMap<u16, u64>,
    /// Migrations by cause name (`MigrateCause::name`).
    pub migrations_by_cause: BTreeMap<&'static str, u64>,
    /// Shadow paging: per (VM, operation name) the number of `Shadow` records.
    pub shadow_ops: BTreeMap<(u16, &'static str), u64>,
    pub log_frames: u64,
    pub console_bytes: BTreeMap<u16, u64>,
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
    /// Exits and switches in `perf kvm stat` form.
    pub stat: Stat,
    waiting_since: BTreeMap<u16, u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        // Fixed bounds (1 ns .. 1 h): `saturating_record` never resizes, so the bounds must be
        // wide from the start; anything longer than an hour is clamped, not lost.
        let h = || Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds");
        Metrics {
            cpus: BTreeMap::new(),
            trap_ns: h(),
            irq_latency_ns: h(),
            wakeup_ns: h(),
            vm_exits: Vec::new(),
            markers: 0,
            elastic_moves: 0,
            elastic: Vec::new(),
            migrations_total: 0,
            migrations: Vec::new(),
            vcpu_cpu: BTreeMap::new(),
            vcpu_moves: BTreeMap::new(),
            migrations_by_cause: BTreeMap::new(),
            shadow_ops: BTreeMap::new(),
            log_frames: 0,
            console_bytes: BTreeMap::new(),
            first_ts: None,
            last_ts: None,
            stat: Stat::default(),
            waiting_since: BTreeMap::new(),
        }
    }
}

impl Metrics {
    /// Sizes the tables for a hello.
    pub fn hello(&mut self, info: &Info) {
        self.stat
            .size(usize::from(info.cpus), info.vms.len(), info.vcpu_vm.len());
    }

    /// Adds one record whose ids the session checked against `info`.
    pub fn record(&mut self, info: &Info, h: &Header, e: &Event<'_>) {
        let clock: Clock = info.clock();
        let vm_of = |v: u16| info.vm_of(v).map(usize::from);
        self.first_ts = Some(self.first_ts.map_or(h.ts, |t| t.min(h.ts)));
        self.last_ts = Some(self.last_ts.map_or(h.ts, |t| t.max(h.ts)));
        let cpu = self.cpus.entry(h.cpu).or_default();
        cpu.records += 1;
        match *e {
            Event::Switch { from, to, reason } => {
                cpu.switches += 1;
                cpu.running = to;
                self.stat.switch(
                    usize::from(h.cpu),
                    h.ts,
                    from,
                    to,
                    to.and_then(vm_of),
                    reason,
                );
                if let Some(since) = to.and_then(|v| self.waiting_since.remove(&v)) {
                    self.wakeup_ns
                        .saturating_record(clock.ns(h.ts.saturating_sub(since)));
                }
            }
            Event::Trap {
                vcpu,
                kind,
                duration_ticks,
            } => {
                cpu.traps[kind as usize] += 1;
                let ns = clock.ns(duration_ticks.into());
                self.trap_ns.saturating_record(ns);
                self.stat.trap(TrapSample {
                    cpu: usize::from(h.cpu),
                    vm: vm_of(vcpu),
                    vcpu: usize::from(vcpu),
                    kind,
                    ts: h.ts,
                    ticks: duration_ticks.into(),
                    ns,
                });
            }
            Event::IrqInjected {
                vcpu,
                latency_ticks,
                ..
            } => {
                cpu.injected += 1;
                self.irq_latency_ns
                    .saturating_record(clock.ns(latency_ticks.into()));
                let running = self.cpus.values().any(|c| c.running == Some(vcpu));
                if !running {
                    self.waiting_since.entry(vcpu).or_insert(h.ts);
                }
            }
            Event::Hypercall { .. } => cpu.hypercalls += 1,
            Event::Console { vm, bytes } => {
                *self.console_bytes.entry(vm).or_default() += bytes.len() as u64
            }
            Event::Log { .. } => self.log_frames += 1,
            Event::Counters {
                traps_by_kind,
                switches,
                injected,
            } => cpu.reported = Some((traps_by_kind, switches, injected)),
            Event::Dropped { .. } => {}
            Event::Marker { .. } => self.markers += 1,
            Event::Elastic { vm, pool, from, to } => {
                self.elastic_moves += 1;
                if self.elastic.len() < MAX_ELASTIC {
                    self.elastic.push(ElasticChange {
                        vm,
                        pool,
                        from,
                        to,
                        ts: h.ts,
                    });
                }
            }
            Event::Migrated {
                vcpu,
                from,
                to,
                cause,
            } => {
                self.migrations_total += 1;
                self.vcpu_cpu.insert(vcpu, to);
                *self.vcpu_moves.entry(vcpu).or_default() += 1;
                *self.migrations_by_cause.entry(cause.name()).or_default() += 1;
                if self.migrations.len() < MAX_MIGRATIONS {
                    self.migrations.push(Migration {
                        vcpu,
                        from,
                        to,
                        cause: cause.name(),
                        ts: h.ts,
                    });
                }
            }
            Event::Shadow { vm, op, .. } => {
                *self.shadow_ops.entry((vm, op.name())).or_default() += 1;
            }
            Event::VmExit { vm, reason } => {
                if self.vm_exits.len() < MAX_VM_EXITS {
                    self.vm_exits.push(VmExit {
                        vm,
                        reason: reason.name(),
                        ts: h.ts,
                    })
                }
            }
        }
    }

    /// Traps of all CPUs by kind.
    pub fn traps_total(&self) -> [u64; TRAP_KINDS] {
        let mut t = [0; TRAP_KINDS];
        for c in self.cpus.values() {
            for (a, b) in t.iter_mut().zip(c.traps) {
                *a += b;
            }
        }
        t
    }
}
