//! The JSON summary of a session: what a test or experiment checks first.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use hv_protocol::{Stats, TrapKind};
use serde::Serialize;

use crate::info::Info;
use crate::session::Session;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub hello: Option<Info>,
    /// Decoder counters: frames, bytes, decode errors, sequence losses, reported drops, …
    pub stream: Stats,
    /// `stream.seq_lost + stream.dropped_reported`.
    pub lost: u64,
    /// Time covered by the records (first to last timestamp), in nanoseconds.
    pub span_ns: u64,
    pub cpus: BTreeMap<u16, CpuSummary>,
    pub traps_by_kind: BTreeMap<&'static str, u64>,
    pub latency_ns: BTreeMap<&'static str, Percentiles>,
    pub vm_exits: Vec<VmExitSummary>,
    pub console_bytes: BTreeMap<String, u64>,
    pub markers: u64,
    pub log_frames: u64,
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
        Summary {
            lost: stream.lost(),
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

    /// The one line printed at the end of every session.
    pub fn line(&self) -> String {
        let s = &self.stream;
        format!(
            "frames {} ({} bytes), lost {} (seq gaps {}, reported dropped {}), decode errors {}, \
             duplicates {}, reordered {}, unknown kinds {}",
            s.frames,
            s.bytes,
            self.lost,
            s.seq_lost,
            s.dropped_reported,
            s.decode_errors,
            s.duplicates,
            s.reordered,
            s.unknown_kinds
        )
    }

    /// True when nothing was lost or damaged.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.stream.decode_errors == 0 && self.stream.before_hello == 0
    }
}
