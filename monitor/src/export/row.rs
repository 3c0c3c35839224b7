//! One flat row per record, shared by the CSV and JSON-lines exports so both say the same thing.

use hv_protocol::{Event, Header};
use serde::Serialize;

use crate::elf::{Elf, log_text};
use crate::info::Info;
use crate::time::Clock;

/// Column order of the CSV export (also the field order of a JSON line).
pub const COLUMNS: &[&str] = &[
    "ts_ns",
    "ticks",
    "cpu",
    "seq",
    "kind",
    "vcpu",
    "vm",
    "from",
    "to",
    "reason",
    "trap",
    "duration_ns",
    "intid",
    "latency_ns",
    "func",
    "result",
    "id",
    "value",
    "count",
    "text",
];

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Row {
    pub ts_ns: u64,
    pub ticks: u64,
    pub cpu: u16,
    pub seq: u32,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trap: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub func: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Row {
    /// Flattens one record; `t0` is the timestamp that becomes `ts_ns = 0`.
    pub fn of(info: Option<&Info>, t0: u64, elf: Option<&Elf>, h: &Header, e: &Event<'_>) -> Row {
        let clock = info.map(Info::clock).unwrap_or(Clock::new(0));
        let vcpu_name = |v: u16| info.map_or(format!("vcpu{v}"), |i| i.vcpu_label(v));
        let vm_name = |vm: u16| info.map_or(format!("vm{vm}"), |i| i.vm_name(vm));
        let vm_of = |v: u16| info.and_then(|i| i.vm_of(v)).map(vm_name);
        let mut r = Row {
            ts_ns: clock.ns(h.ts.saturating_sub(t0)),
            ticks: h.ts,
            cpu: h.cpu,
            seq: h.seq,
            kind: e.kind_name(),
            ..Row::default()
        };
        match *e {
            Event::Switch { from, to, reason } => {
                r.from = Some(from.map_or("idle".into(), vcpu_name));
                r.to = Some(to.map_or("idle".into(), vcpu_name));
                r.vcpu = to;
                r.vm = to.and_then(vm_of);
                r.reason = Some(reason.name());
            }
            Event::Trap {
                vcpu,
                kind,
                duration_ticks,
            } => {
                (r.vcpu, r.vm) = (Some(vcpu), vm_of(vcpu));
                r.trap = Some(kind.name());
                r.duration_ns = Some(clock.ns(duration_ticks.into()));
            }
            Event::IrqInjected {
                vcpu,
                intid,
                latency_ticks,
            } => {
                (r.vcpu, r.vm) = (Some(vcpu), vm_of(vcpu));
                r.intid = Some(intid);
                r.latency_ns = Some(clock.ns(latency_ticks.into()));
            }
            Event::Hypercall { vcpu, func, result } => {
                (r.vcpu, r.vm) = (Some(vcpu), vm_of(vcpu));
                (r.func, r.result) = (Some(func), Some(result));
            }
            Event::Console { vm, bytes } => {
                r.vm = Some(vm_name(vm));
                r.text = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            Event::Log { defmt_frame } => r.text = Some(log_text(elf, defmt_frame)),
            Event::Counters {
                traps_by_kind,
                switches,
                injected,
            } => {
                r.count = Some(u64::from(switches));
                r.value = Some(u64::from(injected));
                let t: Vec<String> = traps_by_kind.iter().map(u32::to_string).collect();
                r.text = Some(format!("traps={}", t.join("/")));
            }
            Event::Dropped { count } => r.count = Some(count.into()),
            Event::Marker { vcpu, id, value } => {
                (r.vcpu, r.vm) = (Some(vcpu), vm_of(vcpu));
                (r.id, r.value) = (Some(id), Some(value));
            }
            Event::VmExit { vm, reason } => {
                r.vm = Some(vm_name(vm));
                r.reason = Some(reason.name());
            }
            Event::Elastic { vm, pool, from, to } => {
                r.vm = Some(vm_name(vm));
                (r.id, r.count) = (Some(pool), Some(u64::from(to)));
                r.text = Some(format!("{from}->{to}"));
            }
            Event::Migrated {
                vcpu,
                from,
                to,
                cause,
            } => {
                (r.vcpu, r.vm) = (Some(vcpu), vm_of(vcpu));
                r.reason = Some(cause.name());
                r.text = Some(format!("cpu{from}->cpu{to}"));
            }
            Event::Shadow { vm, op, va } => {
                r.vm = Some(vm_name(vm));
                r.reason = Some(op.name());
                r.text = Some(format!("{va:#x}"));
            }
        }
        r
    }
}
