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
