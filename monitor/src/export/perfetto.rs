//! Perfetto / Chrome trace-event JSON (open in ui.perfetto.dev or chrome://tracing).
//!
//! Layout (process 0 "hypervisor"):
//! - per physical CPU a track `cpu N` on which the running vCPU is a complete slice ("X") from
//!   one `Switch` to the next (the switch itself is an instant naming its reason);
//! - per physical CPU a track `cpu N hypervisor` with one slice per exit (trap entry → ERET:
//!   the time spent in the hypervisor is visible), injections as zero-length slices inside
//!   them, hypercalls, markers and drops as instants;
//! - a flow arrow from each interrupt injected into a vCPU that was not running to the start
//!   of the slice of the switch that runs it;
//! - a `hypervisor log` track (log frames, decoded with the ELF's defmt table when given);
//! - per VM a console track (one instant per line) that also shows the VM's exit;
//! - counter tracks per CPU: the hypervisor's own totals (`Counters`) and records dropped.
//!
//! Timestamps are microseconds since the first record; every slice's start and end are
//! converted from counter ticks the same way, so slices on one track nest exactly.
//!
//! Events are written as they are made (the format does not need them sorted), so memory does
//! not grow with the recording: a flow's start is held back (one per vCPU at most) until the
//! switch that ends it, and dropped if none comes.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use hv_protocol::{Event, TrapKind};
use serde_json::{Value, json};

use super::Exporter;
use crate::elf::{Elf, log_text};
use crate::info::Info;
use crate::session::{Session, Update};
use crate::time::Clock;

/// Thread id of CPU `n`'s hypervisor track.
pub const HV_TID: u64 = 500;
/// Thread id of VM `vm`'s console track.
pub const CONSOLE_TID: u64 = 1000;
/// Thread id of the hypervisor log.
pub const LOG_TID: u64 = 2000;

pub struct Perfetto<'a> {
    out: &'a mut dyn Write,
    elf: Option<&'a Elf>,
    /// Events written so far (for the separating commas).
    written: u64,
    /// The first write error (reported at the end).
    err: Option<std::io::Error>,
    t0: Option<u64>,
    clock: Clock,
    /// Per CPU: running vCPU, its label and the slice start (ticks).
    open: BTreeMap<u16, (u16, String, u64)>,
    /// vCPUs with an injection waiting for the switch that runs them: the flow's start.
    waiting: BTreeMap<u16, (u64, Value)>,
    next_flow: u64,
    named: BTreeMap<u64, ()>,
    dropped: BTreeMap<u16, u64>,
    last_ts: u64,
}

impl<'a> Perfetto<'a> {
    pub fn new(out: &'a mut dyn Write, elf: Option<&'a Elf>) -> Self {
        let mut p = Perfetto {
            out,
            elf,
            written: 0,
            err: None,
            t0: None,
            clock: Clock::new(0),
            open: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_flow: 1,
            named: BTreeMap::new(),
            dropped: BTreeMap::new(),
            last_ts: 0,
        };
        p.push(
            json!({"ph": "M", "pid": 0, "name": "process_name", "args": {"name": "hypervisor"}}),
        );
        p
    }

    /// Writes one event.
    fn push(&mut self, e: Value) {
        if self.err.is_some() {
            return;
        }
        let sep: &[u8] = if self.written == 0 {
            b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
        } else {
            b",\n"
        };
        let r = self
            .out
            .write_all(sep)
            .and_then(|_| serde_json::to_writer(&mut *self.out, &e).map_err(std::io::Error::from));
        match r {
            Ok(()) => self.written += 1,
            Err(e) => self.err = Some(e),
        }
    }

    fn us(&self, ticks: u64) -> f64 {
        self.clock
            .us_f64(ticks.saturating_sub(self.t0.unwrap_or(0)))
    }

    fn instant(&mut self, tid: u64, ts: u64, name: String, args: Value) {
        let ts = self.us(ts);
        self.push(json!({"ph": "i", "s": "t", "pid": 0, "tid": tid, "ts": ts, "name": name, "args": args}));
    }

    fn slice(&mut self, tid: u64, start: u64, end: u64, name: String, args: Value) {
        let (ts, te) = (self.us(start), self.us(end.max(start)));
        self.push(json!({"ph": "X", "pid": 0, "tid": tid, "ts": ts, "dur": te - ts, "name": name, "args": args}));
    }

    fn close_slice(&mut self, cpu: u16, end: u64) {
        if let Some((_, name, start)) = self.open.remove(&cpu) {
            self.slice(u64::from(cpu), start, end, name, json!({}));
        }
    }

    fn track(&mut self, tid: u64, name: impl FnOnce() -> String) {
        if self.named.insert(tid, ()).is_some() {
            return;
        }
        let name = name();
        self.push(
            json!({"ph": "M", "pid": 0, "tid": tid, "name": "thread_name", "args": {"name": name}}),
        );
        self.push(json!({"ph": "M", "pid": 0, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": tid}}));
    }

    fn record(&mut self, info: Option<&Info>, cpu: u16, ts: u64, e: &Event<'_>) {
        let label = |v: u16| info.map_or(format!("vcpu{v}"), |i| i.vcpu_label(v));
        let tid = u64::from(cpu);
        let hv = HV_TID + u64::from(cpu);
        self.track(tid, || format!("cpu {cpu}"));
        self.track(hv, || format!("cpu {cpu} hypervisor"));
        match *e {
            Event::Switch { to, reason, .. } => {
                self.close_slice(cpu, ts);
                if let Some(v) = to {
                    self.open.insert(cpu, (v, label(v), ts));
                    if let Some((id, start)) = self.waiting.remove(&v) {
                        self.push(start);
                        let t = self.us(ts);
                        self.push(json!({"ph": "f", "bp": "e", "id": id, "cat": "wake-up", "name": "irq → run", "pid": 0, "tid": tid, "ts": t}));
                    }
                }
                self.instant(tid, ts, format!("switch ({})", reason.name()), json!({}));
            }
            Event::Trap {
                vcpu,
                kind,
                duration_ticks,
            } => {
                let args = json!({"vcpu": label(vcpu), "duration_ns": self.clock.ns(duration_ticks.into())});
                self.slice(
                    hv,
                    ts,
                    ts.saturating_add(duration_ticks.into()),
                    format!("exit {}", kind.name()),
                    args,
                );
            }
            Event::IrqInjected {
                vcpu,
                intid,
                latency_ticks,
            } => {
                let args = json!({"vcpu": label(vcpu), "intid": intid, "latency_ns": self.clock.ns(latency_ticks.into())});
                self.slice(hv, ts, ts, format!("inject {intid}"), args);
                let running = self.open.values().any(|(v, _, _)| *v == vcpu);
                if !running && !self.waiting.contains_key(&vcpu) {
                    let id = self.next_flow;
                    self.next_flow += 1;
                    let t = self.us(ts);
                    let start = json!({"ph": "s", "id": id, "cat": "wake-up", "name": "irq → run", "pid": 0, "tid": hv, "ts": t});
                    self.waiting.insert(vcpu, (id, start));
                }
            }
            Event::Hypercall { vcpu, func, result } => {
                let args =
                    json!({"vcpu": label(vcpu), "func": format!("{func:#x}"), "result": result});
                self.instant(hv, ts, format!("hvc {func:#x}"), args);
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
                self.push(json!({"ph": "C", "pid": 0, "ts": t, "name": format!("cpu{cpu} exits"), "args": traps}));
                self.push(json!({"ph": "C", "pid": 0, "ts": t, "name": format!("cpu{cpu} switches"), "args": {"switches": switches, "injected": injected}}));
            }
            Event::Dropped { count } => {
                let total = self.dropped.entry(cpu).or_default();
                *total += u64::from(count);
                let total = *total;
                self.instant(hv, ts, format!("dropped {count}"), json!({}));
                let t = self.us(ts);
                self.push(json!({"ph": "C", "pid": 0, "ts": t, "name": format!("cpu{cpu} records dropped"), "args": {"dropped": total}}));
            }
            Event::Marker { vcpu, id, value } => self.instant(
                hv,
                ts,
                format!("marker {id}"),
                json!({"vcpu": label(vcpu), "value": value}),
            ),
            Event::Elastic { vm, pool, from, to } => {
                let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(vm));
                self.instant(
                    hv,
                    ts,
                    format!("{name} elastic {pool}: {from} -> {to} blocks"),
                    json!({"vm": name, "pool": pool, "from": from, "to": to}),
                );
                let t = self.us(ts);
                self.push(json!({"ph": "C", "pid": 0, "ts": t, "name": format!("{name} elastic blocks"), "args": {"blocks": to}}));
            }
            Event::Migrated {
                vcpu,
                from,
                to,
                cause,
            } => self.instant(
                hv,
                ts,
                format!("{} cpu{from} -> cpu{to} ({})", label(vcpu), cause.name()),
                json!({"vcpu": label(vcpu), "from": from, "to": to, "cause": cause.name()}),
            ),
            Event::Shadow { vm, op, va } => {
                let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(vm));
                self.instant(
                    hv,
                    ts,
                    format!("{name} shadow {} {va:#x}", op.name()),
                    json!({"vm": name, "op": op.name(), "va": format!("{va:#x}")}),
                );
            }
            Event::VmExit { vm, reason } => {
                let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(vm));
                let ctid = CONSOLE_TID + u64::from(vm);
                self.track(ctid, || format!("{name} console"));
                self.instant(
                    ctid,
                    ts,
                    format!("{name} exit ({})", reason.name()),
                    json!({}),
                );
            }
            Event::Log { defmt_frame } => {
                self.track(LOG_TID, || "hypervisor log".into());
                let text = log_text(self.elf, defmt_frame);
                self.instant(LOG_TID, ts, text, json!({"cpu": cpu}));
            }
            Event::Console { .. } => {}
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
                self.record(info, h.cpu, h.ts, e);
            }
            Update::ConsoleLine { vm, line } => {
                let tid = CONSOLE_TID + u64::from(*vm);
                self.track(tid, || {
                    let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(*vm));
                    format!("{name} console")
                });
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
        // flows whose switch never came are not written
        self.waiting.clear();
        if self.written == 0 {
            self.push(json!({"ph": "M", "pid": 0, "name": "process_name", "args": {"name": "hypervisor"}}));
        }
        if let Some(e) = self.err.take() {
            return Err(e.into());
        }
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok(())
    }
}
