//! Perfetto / Chrome trace-event JSON (open in ui.perfetto.dev or chrome://tracing).
//!
//! Layout: process 0 "hypervisor" with one thread (track) per physical CPU, on which the running
//! vCPU is a complete slice ("X") from one `Switch` to the next; traps, injections, hypercalls,
//! markers and drops are instant events ("i") on that track; `Counters` become counter tracks
//! ("C") per CPU; each VM's console lines are instants on a track of their own (tid 1000 + vm).
//! Timestamps are microseconds since the first record, from the hello's counter frequency.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use hv_protocol::{Event, TrapKind};
use serde_json::{Value, json};

use super::Exporter;
use crate::info::Info;
use crate::session::{Session, Update};
use crate::time::Clock;

/// Thread id of VM `vm`'s console track.
const CONSOLE_TID: u64 = 1000;

pub struct Perfetto<'a> {
    out: &'a mut dyn Write,
    events: Vec<Value>,
    t0: Option<u64>,
    clock: Clock,
    /// Per CPU: running vCPU label and the slice start (ticks).
    open: BTreeMap<u16, (String, u64)>,
    named_cpus: BTreeMap<u16, ()>,
    named_vms: BTreeMap<u16, ()>,
    last_ts: u64,
}

impl<'a> Perfetto<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        Perfetto {
            out,
            events: vec![
                json!({"ph": "M", "pid": 0, "name": "process_name", "args": {"name": "hypervisor"}}),
            ],
            t0: None,
            clock: Clock::new(0),
            open: BTreeMap::new(),
            named_cpus: BTreeMap::new(),
            named_vms: BTreeMap::new(),
            last_ts: 0,
        }
    }

    fn us(&self, ticks: u64) -> f64 {
        self.clock
            .us_f64(ticks.saturating_sub(self.t0.unwrap_or(0)))
    }

    fn instant(&mut self, tid: u64, ts: u64, name: String, args: Value) {
        let ts = self.us(ts);
        self.events.push(json!({"ph": "i", "s": "t", "pid": 0, "tid": tid, "ts": ts, "name": name, "args": args}));
    }

    fn close_slice(&mut self, cpu: u16, end: u64) {
        if let Some((name, start)) = self.open.remove(&cpu) {
            let (ts, dur) = (self.us(start), self.us(end) - self.us(start));
            self.events
                .push(json!({"ph": "X", "pid": 0, "tid": cpu, "ts": ts, "dur": dur, "name": name}));
        }
    }

    fn name_thread(&mut self, tid: u64, name: String, sort: u64) {
        self.events.push(
            json!({"ph": "M", "pid": 0, "tid": tid, "name": "thread_name", "args": {"name": name}}),
        );
        self.events.push(json!({"ph": "M", "pid": 0, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": sort}}));
    }

    fn record(&mut self, info: Option<&Info>, cpu: u16, ts: u64, e: &Event<'_>) {
        let label = |v: u16| info.map_or(format!("vcpu{v}"), |i| i.vcpu_label(v));
        let tid = u64::from(cpu);
        match *e {
            Event::Switch { to, reason, .. } => {
                self.close_slice(cpu, ts);
                if let Some(v) = to {
                    self.open.insert(cpu, (label(v), ts));
                }
                self.instant(tid, ts, format!("switch ({})", reason.name()), json!({}));
            }
            Event::Trap {
                vcpu,
                kind,
                duration_ticks,
            } => {
                let args = json!({"vcpu": label(vcpu), "duration_ns": self.clock.ns(duration_ticks.into())});
                self.instant(tid, ts, format!("trap {}", kind.name()), args);
            }
            Event::IrqInjected {
                vcpu,
                intid,
                latency_ticks,
            } => {
                let args = json!({"vcpu": label(vcpu), "intid": intid, "latency_ns": self.clock.ns(latency_ticks.into())});
                self.instant(tid, ts, format!("inject {intid}"), args);
            }
            Event::Hypercall { vcpu, func, result } => {
                let args =
                    json!({"vcpu": label(vcpu), "func": format!("{func:#x}"), "result": result});
                self.instant(tid, ts, format!("hvc {func:#x}"), args);
            }
            Event::Counters {
                traps_by_kind,
                switches,
                injected,
            } => {
                let traps: serde_json::Map<String, Value> = TrapKind::ALL
                    .iter()
                    .zip(traps_by_kind)
                    .map(|(k, n)| (k.name().to_owned(), json!(n)))
                    .collect();
                let t = self.us(ts);
                self.events.push(json!({"ph": "C", "pid": 0, "ts": t, "name": format!("cpu{cpu} traps"), "args": traps}));
                self.events.push(json!({"ph": "C", "pid": 0, "ts": t, "name": format!("cpu{cpu} switches"), "args": {"switches": switches, "injected": injected}}));
            }
            Event::Dropped { count } => {
                self.instant(tid, ts, format!("dropped {count}"), json!({}))
            }
            Event::Marker { vcpu, id, value } => self.instant(
                tid,
                ts,
                format!("marker {id}"),
                json!({"vcpu": label(vcpu), "value": value}),
            ),
            Event::VmExit { vm, reason } => {
                let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(vm));
                self.instant(
                    tid,
                    ts,
                    format!("{name} exit ({})", reason.name()),
                    json!({}),
                );
            }
            Event::Console { .. } | Event::Log { .. } => {}
        }
    }
}

impl Exporter for Perfetto<'_> {
    fn update(&mut self, info: Option<&Info>, u: &Update<'_>) -> Result<()> {
        match u {
            Update::Hello(i) => self.clock = i.clock(),
            Update::Record(h, e) => {
                self.t0.get_or_insert(h.ts);
                self.last_ts = self.last_ts.max(h.ts);
                if self.named_cpus.insert(h.cpu, ()).is_none() {
                    self.name_thread(u64::from(h.cpu), format!("cpu {}", h.cpu), u64::from(h.cpu));
                }
                self.record(info, h.cpu, h.ts, e);
            }
            Update::ConsoleLine { vm, line } => {
                let tid = CONSOLE_TID + u64::from(*vm);
                if self.named_vms.insert(*vm, ()).is_none() {
                    let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(*vm));
                    self.name_thread(tid, format!("{name} console"), tid);
                }
                let ts = self.last_ts;
                self.instant(tid, ts, line.to_string(), json!({}));
            }
            Update::Unknown { .. } => {}
        }
        Ok(())
    }

    fn finish(&mut self, _: &Session) -> Result<()> {
        let cpus: Vec<u16> = self.open.keys().copied().collect();
        for cpu in cpus {
            self.close_slice(cpu, self.last_ts);
        }
        let doc = json!({"displayTimeUnit": "ns", "traceEvents": std::mem::take(&mut self.events)});
        serde_json::to_writer(&mut *self.out, &doc)?;
        writeln!(self.out)?;
        self.out.flush()?;
        Ok(())
    }
}
