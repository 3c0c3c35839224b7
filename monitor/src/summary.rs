//! The summary of a session: what a test or experiment checks first (JSON), and what
//! `hvmon summary` prints (text: the stream's health, then `perf kvm stat`-style tables).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use hv_protocol::{Stats, TrapKind};
use serde::Serialize;

use crate::info::Info;
use crate::report::{self, ExitTable, SwitchTable};
use crate::session::Session;
use crate::time::fmt_ns;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub hello: Option<Info>,
    /// Decoder counters: frames, bytes, decode errors, sequence losses, reported drops, …
    pub stream: Stats,
    /// `stream.seq_lost + stream.dropped_reported`.
    pub lost: u64,
    /// Received but unusable: `stream.undecodable()` plus records naming an unknown vCPU/VM.
    pub undecodable: u64,
    /// Records dropped because a vCPU or VM id was not in the hello.
    pub invalid_ids: u64,
    /// Nothing lost, undecodable or out of sequence.
    pub clean: bool,
    /// Time covered by the records (first to last timestamp), in nanoseconds.
    pub span_ns: u64,
    pub cpus: BTreeMap<u16, CpuSummary>,
    pub traps_by_kind: BTreeMap<&'static str, u64>,
    pub latency_ns: BTreeMap<&'static str, Percentiles>,
    pub vm_exits: Vec<VmExitSummary>,
    pub console_bytes: BTreeMap<String, u64>,
    pub markers: u64,
    pub log_frames: u64,
    /// big.LITTLE moves of vCPUs between CPUs (`Migrated` records).
    pub migrations: u64,
    /// The same by cause (`hint`, `governor`, `plan`).
    pub migrations_by_cause: BTreeMap<&'static str, u64>,
    /// Shadow paging, per lwVM name: operation name → count (`Shadow` records).
    pub shadow: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// Each vCPU that moved: where it is now and how often it moved.
    pub moved_vcpus: Vec<MovedVcpu>,
    /// Exits by reason: all VMs, each VM, each vCPU of VMs with several.
    pub exits: Vec<ExitTable>,
    /// Switches by reason and trigger, with their cost: all CPUs, into each VM / vCPU.
    pub switches: Vec<SwitchTable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CpuSummary {
    pub records: u64,
    pub switches: u64,
    pub traps: u64,
    pub injected: u64,
    pub hypercalls: u64,
}

/// A vCPU that moved between CPUs at least once.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MovedVcpu {
    pub vcpu: u16,
    /// `vm/vcpuN`, as the hello names it.
    pub label: String,
    /// The physical CPU its last move put it on.
    pub cpu: u16,
    pub moves: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VmExitSummary {
    pub vm: String,
    pub reason: &'static str,
    pub at_ns: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        Percentiles {
            count: h.len(),
            min: if h.is_empty() { 0 } else { h.min() },
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

impl Summary {
    pub fn of(s: &Session) -> Self {
        let m = &s.metrics;
        let info = s.info().cloned();
        let clock = info
            .as_ref()
            .map(Info::clock)
            .unwrap_or(crate::time::Clock::new(0));
        let first = m.first_ts.unwrap_or(0);
        let vm_name = |vm: u16| info.as_ref().map_or(format!("vm{vm}"), |i| i.vm_name(vm));
        let stream = s.stats().clone();
        let undecodable = stream.undecodable() + s.invalid_ids();
        Summary {
            lost: stream.lost(),
            undecodable,
            invalid_ids: s.invalid_ids(),
            clean: stream.clean() && s.invalid_ids() == 0,
            exits: report::exit_tables(&m.stat, info.as_ref()),
            switches: report::switch_tables(&m.stat, info.as_ref()),
            stream,
            span_ns: clock.ns(m.last_ts.unwrap_or(0).saturating_sub(first)),
            cpus: m
                .cpus
                .iter()
                .map(|(&c, cm)| {
                    let sum = CpuSummary {
                        records: cm.records,
                        switches: cm.switches,
                        traps: cm.traps.iter().sum(),
                        injected: cm.injected,
                        hypercalls: cm.hypercalls,
                    };
                    (c, sum)
                })
                .collect(),
            traps_by_kind: TrapKind::ALL
                .iter()
                .zip(m.traps_total())
                .map(|(k, n)| (k.name(), n))
                .collect(),
            latency_ns: [
                ("trap", Percentiles::of(&m.trap_ns)),
                ("irq", Percentiles::of(&m.irq_latency_ns)),
                ("wakeup", Percentiles::of(&m.wakeup_ns)),
            ]
            .into_iter()
            .collect(),
            vm_exits: m
                .vm_exits
                .iter()
                .map(|x| VmExitSummary {
                    vm: vm_name(x.vm),
                    reason: x.reason,
                    at_ns: clock.ns(x.ts.saturating_sub(first)),
                })
                .collect(),
            console_bytes: m
                .console_bytes
                .iter()
                .map(|(&vm, &n)| (vm_name(vm), n))
                .collect(),
            markers: m.markers,
            log_frames: m.log_frames,
            migrations: m.migrations_total,
            migrations_by_cause: m.migrations_by_cause.clone(),
            shadow: m
                .shadow_ops
                .iter()
                .fold(BTreeMap::new(), |mut acc, (&(vm, op), &n)| {
                    acc.entry(vm_name(vm))
                        .or_insert_with(BTreeMap::new)
                        .insert(op, n);
                    acc
                }),
            moved_vcpus: m
                .vcpu_moves
                .iter()
                .map(|(&vcpu, &moves)| MovedVcpu {
                    vcpu,
                    label: info
                        .as_ref()
                        .map_or(format!("vcpu{vcpu}"), |i| i.vcpu_label(vcpu)),
                    cpu: m.vcpu_cpu.get(&vcpu).copied().unwrap_or_default(),
                    moves,
                })
                .collect(),
            hello: info,
        }
    }

    /// The one line printed at the end of every session: counts, and what went wrong.
    pub fn line(&self) -> String {
        let s = &self.stream;
        let mut line = format!("frames {} ({} bytes)", s.frames, s.bytes);
        let mut problems = Vec::new();
        if self.lost > 0 {
            problems.push(format!(
                "lost {} (sequence gaps {}, dropped by the hypervisor {})",
                self.lost, s.seq_lost, s.dropped_reported
            ));
        }
        for (n, what) in [
            (s.decode_errors, "damaged frames"),
            (s.before_hello, "records before the hello"),
            (s.bad_cpu, "records of CPUs not in the hello"),
            (
                self.invalid_ids,
                "records naming vCPUs/VMs not in the hello",
            ),
            (s.seq_jumps, "sequence jumps"),
            (s.truncated_bytes, "bytes of an unfinished last frame"),
        ] {
            if n > 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        for (n, what) in [
            (s.duplicates, "duplicates"),
            (s.reordered, "reordered"),
            (s.resyncs, "resyncs"),
            (s.unknown_kinds, "records of unknown kinds"),
        ] {
            if n > 0 {
                line += &format!(", {n} {what}");
            }
        }
        if problems.is_empty() {
            line + ", complete: nothing lost"
        } else {
            format!("{line}; INCOMPLETE: {}", problems.join(", "))
        }
    }

    /// `Migrations: N (by cause: hint 2, plan 1)`, when some vCPU moved (else nothing,
    /// so the summary of a stream without moves is unchanged).
    pub fn migrations_line(&self) -> Option<String> {
        if self.migrations == 0 {
            return None;
        }
        let causes: Vec<String> = self
            .migrations_by_cause
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        Some(format!(
            "Migrations: {} (by cause: {})",
            self.migrations,
            causes.join(", ")
        ))
    }

    /// `Shadow paging of <vm>: fill 12, table_write 3, …`, one line per lwVM that has its
    /// own tables (none otherwise, so other summaries are unchanged).
    pub fn shadow_lines(&self) -> Vec<String> {
        self.shadow
            .iter()
            .map(|(vm, ops)| {
                let ops: Vec<String> = ops.iter().map(|(o, n)| format!("{o} {n}")).collect();
                format!("Shadow paging of {vm}: {}", ops.join(", "))
            })
            .collect()
    }

    /// True when nothing was lost, damaged, undecodable or out of sequence.
    pub fn clean(&self) -> bool {
        self.clean
    }

    /// `hvmon summary` as text: the stream, the VMs, then the exit and switch tables.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        match &self.hello {
            Some(i) => {
                let _ = writeln!(
                    out,
                    "Stream: build {:#018x}, config {:#018x}, {} CPUs, counter {} Hz, features: {}",
                    i.build_id,
                    i.config_id,
                    i.cpus,
                    i.counter_hz,
                    if i.features.is_empty() {
                        "-".into()
                    } else {
                        i.features.join(",")
                    }
                );
            }
            None => out.push_str("Stream: no hello (nothing decodable)\n"),
        }
        let _ = writeln!(out, "        {}", self.line());
        let _ = writeln!(out, "        {} of records", fmt_ns(self.span_ns as f64));
        if let Some(i) = &self.hello {
            out.push('\n');
            for (vm, name) in i.vms.iter().enumerate() {
                let vcpus = i.vcpu_vm.iter().filter(|&&v| usize::from(v) == vm).count();
                let exit = self
                    .vm_exits
                    .iter()
                    .rfind(|x| &x.vm == name)
                    .map_or("running at the end".to_string(), |x| {
                        format!("ended ({}) at {}", x.reason, fmt_ns(x.at_ns as f64))
                    });
                let console = self.console_bytes.get(name).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "VM {name}: {vcpus} vCPU{}, {console} console bytes, {exit}",
                    if vcpus == 1 { "" } else { "s" }
                );
            }
        }
        if let Some(line) = self.migrations_line() {
            if self.hello.is_none() {
                out.push('\n');
            }
            let _ = writeln!(out, "{line}");
        }
        for line in self.shadow_lines() {
            let _ = writeln!(out, "{line}");
        }
        let busy_cpus = self.cpus.values().filter(|c| c.records > 0).count().max(1) as u64;
        for t in &self.exits {
            out.push('\n');
            let span = match t.scope {
                "vcpu" => self.span_ns,
                _ => self.span_ns.saturating_mul(busy_cpus),
            };
            report::write_exit_table(&mut out, t, span);
        }
        for t in &self.switches {
            out.push('\n');
            report::write_switch_table(&mut out, t);
        }
        out.push('\n');
        let _ = writeln!(out, "Other latencies:");
        for (name, what) in [
            ("irq", "interrupt injection (cause → list register)"),
            (
                "wakeup",
                "wake-up (injection into a waiting vCPU → it runs)",
            ),
        ] {
            let p = &self.latency_ns[name];
            if p.count == 0 {
                let _ = writeln!(out, "  {what}: no samples in this stream");
            } else {
                let _ = writeln!(
                    out,
                    "  {what}: {} samples, min {} p50 {} p99 {} max {}",
                    p.count,
                    fmt_ns(p.min as f64),
                    fmt_ns(p.p50 as f64),
                    fmt_ns(p.p99 as f64),
                    fmt_ns(p.max as f64)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_protocol::{CpuSeq, Event, Frame, Hello, MigrateCause, SwitchReason, frame_to_vec};

    const HELLO: Hello<'static> = Hello::new(
        0xB1D,
        0xC0F,
        62_500_000,
        4,
        "big-little",
        "bl,other",
        &[0, 0, 1],
    );

    /// A session of `events` (CPU, timestamp, event) after the hello.
    fn session(events: &[(u16, u64, Event<'static>)]) -> Session {
        let mut seqs: Vec<CpuSeq> = (0..4).map(CpuSeq::new).collect();
        let mut bytes = frame_to_vec(&Frame::Hello(HELLO));
        for (cpu, ts, e) in events {
            let h = seqs[usize::from(*cpu)].next_header(*ts);
            bytes.extend(frame_to_vec(&Frame::Record(h, *e)));
        }
        let mut s = Session::new();
        s.feed(&bytes, |_, _| {}).unwrap();
        s.finish(|_, _| {});
        s
    }

    fn moved(vcpu: u16, from: u16, to: u16, cause: MigrateCause) -> Event<'static> {
        Event::Migrated {
            vcpu,
            from,
            to,
            cause,
        }
    }

    #[test]
    fn migrations_are_counted_by_cause_and_vcpu() {
        let start = Event::Switch {
            from: None,
            to: Some(0),
            reason: SwitchReason::Start,
        };
        let s = Summary::of(&session(&[
            (0, 100, start),
            (0, 200, moved(0, 0, 2, MigrateCause::Hint)),
            (2, 300, moved(0, 2, 0, MigrateCause::Governor)),
            (1, 350, moved(1, 1, 3, MigrateCause::Hint)),
            (0, 400, moved(0, 0, 2, MigrateCause::Hint)),
        ]));
        assert_eq!(s.migrations, 4);
        assert_eq!(
            s.migrations_line().as_deref(),
            Some("Migrations: 4 (by cause: governor 1, hint 3)")
        );
        let text = s.text();
        assert!(
            text.contains("VM other: 1 vCPU, 0 console bytes, running at the end\nMigrations: 4 (by cause: governor 1, hint 3)\n"),
            "{text}"
        );
        assert_eq!(
            s.moved_vcpus,
            [
                MovedVcpu {
                    vcpu: 0,
                    label: "bl/vcpu0".into(),
                    cpu: 2,
                    moves: 3
                },
                MovedVcpu {
                    vcpu: 1,
                    label: "bl/vcpu1".into(),
                    cpu: 3,
                    moves: 1
                },
            ]
        );
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["migrations_by_cause"]["hint"], 3);
    }

    #[test]
    fn shadow_operations_are_counted_per_lwvm() {
        use hv_protocol::ShadowOp;
        let sh = |op, va| Event::Shadow { vm: 1, op, va };
        let s = Summary::of(&session(&[
            (0, 100, sh(ShadowOp::Switch, 0)),
            (0, 200, sh(ShadowOp::Fill, 0x40_0000_1000)),
            (0, 300, sh(ShadowOp::Fill, 0x40_0000_2000)),
            (0, 400, sh(ShadowOp::TableWrite, 0x40_0000_3000)),
            (0, 500, sh(ShadowOp::GuestFault, 0x50_0000_0000)),
        ]));
        assert_eq!(
            s.shadow_lines(),
            ["Shadow paging of other: fill 2, guest_fault 1, switch 1, table_write 1"]
        );
        assert!(
            s.text().contains("Shadow paging of other: fill 2"),
            "{}",
            s.text()
        );
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["shadow"]["other"]["fill"], 2);
    }

    #[test]
    fn no_migrations_no_line() {
        let s = Summary::of(&session(&[(
            0,
            100,
            Event::Switch {
                from: None,
                to: Some(0),
                reason: SwitchReason::Start,
            },
        )]));
        assert_eq!(s.migrations_line(), None);
        assert!(s.moved_vcpus.is_empty());
        assert!(!s.text().contains("Migrations"), "{}", s.text());
    }
}
