//! Golden tests: a small recorded stream built with hv-protocol, written to a file, and the
//! monitor's exports and summary checked against what that stream must produce.

use std::path::{Path, PathBuf};

mod common;

use common::check_trace_schema;
use hv_protocol::*;
use hvmon::export::{Format, export};
use hvmon::{Session, Summary};

/// 62.5 MHz: one tick is 16 ns (QEMU virt's generic counter).
const HZ: u64 = 62_500_000;

const HELLO: Hello<'static> = Hello::new(0xB1D, 0xC0F, HZ, 2, "balloon", "linux,rtos", &[0, 1]);

/// The scripted stream: two CPUs, each running one VM's vCPU, with every kind of event.
fn events() -> Vec<(u16, u64, Event<'static>)> {
    vec![
        (
            0,
            100,
            Event::Switch {
                from: None,
                to: Some(0),
                reason: SwitchReason::Start,
            },
        ),
        (
            1,
            100,
            Event::Switch {
                from: None,
                to: Some(1),
                reason: SwitchReason::Start,
            },
        ),
        (
            0,
            200,
            Event::Trap {
                vcpu: 0,
                kind: TrapKind::Hvc,
                duration_ticks: 10,
            },
        ),
        (
            0,
            250,
            Event::Hypercall {
                vcpu: 0,
                func: 0x8400_0000,
                result: 0,
            },
        ),
        (
            0,
            300,
            Event::Console {
                vm: 0,
                bytes: b"boot, \"ok\"\nhal",
            },
        ),
        (
            0,
            310,
            Event::Console {
                vm: 0,
                bytes: b"f line\n",
            },
        ),
        (
            1,
            400,
            Event::Switch {
                from: Some(1),
                to: None,
                reason: SwitchReason::Wfi,
            },
        ),
        (
            0,
            500,
            Event::IrqInjected {
                vcpu: 1,
                intid: 27,
                latency_ticks: 5,
            },
        ),
        (
            1,
            600,
            Event::Switch {
                from: None,
                to: Some(1),
                reason: SwitchReason::Irq,
            },
        ),
        (
            1,
            700,
            Event::Trap {
                vcpu: 1,
                kind: TrapKind::DataAbort,
                duration_ticks: 20,
            },
        ),
        (
            1,
            800,
            Event::Marker {
                vcpu: 1,
                id: 3,
                value: 42,
            },
        ),
        (
            0,
            900,
            Event::Log {
                defmt_frame: &[1, 0],
            },
        ),
        (
            0,
            1000,
            Event::Counters {
                traps_by_kind: [1, 0, 0, 0, 0, 0, 0],
                switches: 1,
                injected: 1,
            },
        ),
        (1, 1000, Event::Dropped { count: 2 }),
        (
            1,
            1100,
            Event::VmExit {
                vm: 1,
                reason: VmExitReason::PowerOff,
            },
        ),
    ]
}

fn stream_bytes() -> (Vec<u8>, Vec<usize>) {
    let mut seqs = [CpuSeq::new(0), CpuSeq::new(1)];
    let mut bytes = frame_to_vec(&Frame::Hello(HELLO));
    let mut starts = Vec::new();
    for (cpu, ts, e) in events() {
        starts.push(bytes.len());
        let h = seqs[cpu as usize].next_header(ts);
        bytes.extend(frame_to_vec(&Frame::Record(h, e)));
    }
    (bytes, starts)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn export_string(rec: &Path, f: Format) -> String {
    let mut out = Vec::new();
    export(rec, f, None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn summary_of_clean_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "rec.bin", &stream_bytes().0);
    let s = Summary::of(&Session::replay_file(&rec, |_, _| {}).unwrap());
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["stream"]["frames"], 16, "hello + 15 records");
    assert_eq!(j["stream"]["decode_errors"], 0);
    assert_eq!(j["stream"]["seq_lost"], 0);
    assert_eq!(j["stream"]["dropped_reported"], 2);
    assert_eq!(j["lost"], 2);
    assert_eq!(j["hello"]["build_id"], "0x0000000000000b1d");
    assert_eq!(j["hello"]["vms"], serde_json::json!(["linux", "rtos"]));
    assert_eq!(j["cpus"]["0"]["switches"], 1);
    assert_eq!(j["cpus"]["1"]["switches"], 3);
    assert_eq!(j["traps_by_kind"]["hvc"], 1);
    assert_eq!(j["traps_by_kind"]["data_abort"], 1);
    assert_eq!(j["latency_ns"]["trap"]["count"], 2);
    assert_eq!(j["latency_ns"]["irq"]["p50"], 80, "5 ticks at 62.5 MHz");
    // vcpu1 waited from the injection (500) to its switch (600): 100 ticks = 1600 ns
    assert_eq!(j["latency_ns"]["wakeup"]["max"], 1600);
    assert_eq!(j["vm_exits"][0]["vm"], "rtos");
    assert_eq!(j["vm_exits"][0]["reason"], "power_off");
    assert_eq!(j["vm_exits"][0]["at_ns"], 16_000);
    assert_eq!(j["span_ns"], 16_000);
    assert_eq!(j["console_bytes"]["linux"], 21);
    assert!(!s.clean(), "reported drops make the session unclean");
}

#[test]
fn corrupted_recording_is_resynced_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, starts) = stream_bytes();
    bytes[starts[2] + 4] ^= 0x55; // damage the hvc trap of cpu 0
    bytes.splice(starts[9]..starts[9], [0x13, 0x37, 0x00]); // garbage frame before cpu 1's trap
    let rec = write(dir.path(), "bad.bin", &bytes);
    let s = Summary::of(&Session::replay_file(&rec, |_, _| {}).unwrap());
    assert_eq!(s.stream.decode_errors, 2);
    assert_eq!(
        s.stream.seq_lost, 1,
        "the damaged trap is a gap in cpu 0's numbering"
    );
    assert_eq!(s.stream.frames, 15);
    assert_eq!(s.lost, 3, "one in transport, two reported dropped");
    assert_eq!(s.traps_by_kind["hvc"], 0);
    assert_eq!(
        s.traps_by_kind["data_abort"], 1,
        "decoding went on after the garbage"
    );
    assert_eq!(s.undecodable, 2);
    assert!(!s.clean(), "{}", s.line());
}

#[test]
fn csv_export() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "rec.bin", &stream_bytes().0);
    let csv = export_string(&rec, Format::Csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], hvmon::export::row::COLUMNS.join(","));
    // header + 15 records + 2 newlines inside quoted console text
    assert_eq!(lines.len(), 1 + 15 + 2);
    assert_eq!(
        lines[1],
        "0,100,0,0,switch,0,linux,idle,linux/vcpu0,start,,,,,,,,,,"
    );
    assert_eq!(lines[3], "1600,200,0,1,trap,0,linux,,,,hvc,160,,,,,,,,");
    // console text with a quote, a comma and a newline is quoted
    assert!(
        csv.contains("\n3200,300,0,3,console,,linux,,,,,,,,,,,,,\"boot, \"\"ok\"\"\nhal\"\n"),
        "{csv}"
    );
    assert!(csv.contains(",vm_exit,,rtos,,,power_off,"), "{csv}");
    assert!(
        csv.contains(",log,") && csv.contains("defmt[0100]"),
        "logs as hex without an ELF"
    );
}

#[test]
fn jsonl_export() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "rec.bin", &stream_bytes().0);
    let out = export_string(&rec, Format::Jsonl);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 16);
    assert_eq!(rows[0]["hello"]["counter_hz"], HZ);
    assert_eq!(rows[1]["kind"], "switch");
    assert_eq!(rows[1]["to"], "linux/vcpu0");
    assert!(
        rows[1].get("trap").is_none(),
        "fields that do not apply are left out"
    );
    let inj = rows.iter().find(|r| r["kind"] == "irq_injected").unwrap();
    assert_eq!(
        (inj["intid"].as_u64(), inj["latency_ns"].as_u64()),
        (Some(27), Some(80))
    );
    assert_eq!(inj["vm"], "rtos");
    let kinds: std::collections::BTreeSet<&str> = rows[1..]
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 10, "every event kind exported: {kinds:?}");
}

#[test]
fn perfetto_export() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "rec.bin", &stream_bytes().0);
    let doc: serde_json::Value =
        serde_json::from_str(&export_string(&rec, Format::Perfetto)).unwrap();
    check_trace_schema(&doc);
    let ev = doc["traceEvents"].as_array().unwrap();
    let of = |ph: &str| ev.iter().filter(|e| e["ph"] == ph).collect::<Vec<_>>();
    let tid = |e: &serde_json::Value| e["tid"].as_u64().unwrap();
    // vCPU slices: cpu0 runs linux/vcpu0 from 0 to the end; cpu1 runs rtos/vcpu0 twice
    let slices = of("X");
    let vcpu: Vec<_> = slices.iter().filter(|s| tid(s) < 500).collect();
    assert_eq!(vcpu.len(), 3);
    let cpu1: Vec<_> = vcpu.iter().filter(|s| s["tid"] == 1).collect();
    assert_eq!(cpu1.len(), 2);
    assert_eq!(cpu1[0]["name"], "rtos/vcpu0");
    assert_eq!(cpu1[0]["ts"], 0.0);
    assert_eq!(cpu1[0]["dur"], 4.8, "300 ticks at 62.5 MHz = 4.8 us");
    let cpu0 = vcpu.iter().find(|s| s["tid"] == 0).unwrap();
    assert_eq!(cpu0["dur"], 16.0, "closed at the last record");
    // exits are slices with their duration on each CPU's hypervisor track
    let exits: Vec<(u64, &str, f64)> = slices
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("exit "))
        .map(|s| {
            (
                tid(s),
                s["name"].as_str().unwrap(),
                s["dur"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(exits.len(), 2);
    assert_eq!((exits[0].0, exits[0].1), (500, "exit hvc"));
    assert!((exits[0].2 - 0.16).abs() < 1e-9, "10 ticks: {exits:?}");
    assert_eq!((exits[1].0, exits[1].1), (501, "exit data_abort"));
    // the injection into the idle rtos vCPU flows to the switch that runs it
    let (s, f) = (of("s"), of("f"));
    assert_eq!((s.len(), f.len()), (1, 1));
    assert_eq!(s[0]["id"], f[0]["id"]);
    assert_eq!((tid(s[0]), tid(f[0])), (500, 1));
    assert_eq!(f[0]["ts"], 8.0, "the switch at tick 600");
    // tracks: CPUs, their hypervisor tracks, consoles, the hypervisor log
    let names: Vec<&str> = of("M")
        .iter()
        .filter_map(|m| m["args"]["name"].as_str())
        .collect();
    for want in [
        "cpu 0",
        "cpu 1",
        "cpu 0 hypervisor",
        "linux console",
        "hypervisor log",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let instants: Vec<&str> = of("i")
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        instants.contains(&"boot, \"ok\"") && instants.contains(&"half line"),
        "{instants:?}"
    );
    // counters: the hypervisor's totals, and the records it dropped
    let counters = of("C");
    let cnames: Vec<&str> = counters
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        cnames,
        ["cpu0 exits", "cpu0 switches", "cpu1 records dropped"]
    );
    assert_eq!(counters[0]["args"]["hvc"], 1);
    assert_eq!(counters[2]["args"]["dropped"], 2);
}

#[test]
fn plots_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "rec.bin", &stream_bytes().0);
    let (files, _) = hvmon::plot::plot(&rec, &dir.path().join("plots")).unwrap();
    assert_eq!(files.len(), 4);
    for f in files {
        let meta = std::fs::metadata(&f).unwrap();
        assert!(meta.len() > 1000, "{} is {} bytes", f.display(), meta.len());
    }
    let svg = std::fs::read_to_string(dir.path().join("plots/timeline.svg")).unwrap();
    assert!(
        svg.contains("rtos/vcpu0") && svg.contains("cpu 1"),
        "labels rendered"
    );
}

#[test]
fn refused_stream_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = frame_to_vec(&Frame::Hello(Hello {
        version: VERSION + 1,
        ..HELLO
    }));
    bytes.extend(&stream_bytes().0);
    let rec = write(dir.path(), "new.bin", &bytes);
    let err = Session::replay_file(&rec, |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("hypervisor is newer"), "{err}");
}

#[test]
fn plots_of_one_cpu_and_of_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut one = frame_to_vec(&Frame::Hello(HELLO));
    let mut seq = CpuSeq::new(0);
    for (ts, to) in [(10, Some(0)), (20, None)] {
        let e = Event::Switch {
            from: None,
            to,
            reason: SwitchReason::Slot,
        };
        one.extend(frame_to_vec(&Frame::Record(seq.next_header(ts), e)));
    }
    let rec = write(dir.path(), "one.bin", &one);
    assert_eq!(
        hvmon::plot::plot(&rec, &dir.path().join("one"))
            .unwrap()
            .0
            .len(),
        4
    );
    // the one CPU's bar is drawn (it used to be blank): a rectangle in vCPU 0's colour
    let svg = std::fs::read_to_string(dir.path().join("one/timeline.svg")).unwrap();
    use plotters::style::{Color, Palette, Palette99};
    let (r, g, b) = Palette99::pick(0).mix(0.8).rgb();
    let fill = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
    let tallest = svg
        .lines()
        .filter(|l| l.contains("<rect") && l.contains(&fill))
        .filter_map(|l| {
            let h = l.split("height=\"").nth(1)?.split('"').next()?;
            h.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0);
    assert!(tallest > 100, "the bar of cpu 0 is {tallest} px high");
    let rec = write(dir.path(), "empty.bin", &[]);
    assert_eq!(
        hvmon::plot::plot(&rec, &dir.path().join("empty"))
            .unwrap()
            .0
            .len(),
        4
    );
}

/// The `perf kvm stat` tables of the scripted stream, judged field by field.
#[test]
fn stat_tables_of_the_scripted_stream() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "rec.bin", &stream_bytes().0);
    let s = Summary::of(&Session::replay_file(&rec, |_, _| {}).unwrap());
    let j = serde_json::to_value(&s).unwrap();
    let exits = j["exits"].as_array().unwrap();
    let scopes: Vec<(&str, &str)> = exits
        .iter()
        .map(|t| (t["scope"].as_str().unwrap(), t["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        scopes,
        [("all", "all VMs"), ("vm", "linux"), ("vm", "rtos")],
        "one vCPU per VM: no per-vCPU tables"
    );
    let all = &exits[0];
    assert_eq!(all["exits"], 2);
    assert_eq!(all["time_ns"], 160 + 320);
    let rows = all["rows"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|r| r["reason"] == name).unwrap().clone();
    let da = row("data_abort");
    assert_eq!(
        (
            da["count"].as_u64(),
            da["min_ns"].as_u64(),
            da["p50_ns"].as_u64(),
            da["p99_ns"].as_u64(),
            da["max_ns"].as_u64()
        ),
        (Some(1), Some(320), Some(320), Some(320), Some(320)),
        "20 ticks at 62.5 MHz"
    );
    assert_eq!(da["percent"], 50.0);
    assert!((da["time_percent"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(row("hvc")["max_ns"], 160);
    assert_eq!(exits[1]["rows"][0]["reason"], "hvc");
    assert_eq!(exits[2]["rows"][0]["reason"], "data_abort");

    let sw = &j["switches"][0];
    assert_eq!(sw["switches"], 4);
    let by = |key: &str| -> Vec<(String, u64)> {
        sw[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        by("by_reason"),
        [("start".into(), 2), ("wfi".into(), 1), ("irq".into(), 1)]
    );
    // starts and the wake-up come from idle; the WFI switch at 400 ends no trap
    assert_eq!(
        by("by_trigger"),
        [("idle".into(), 3), ("unmatched".into(), 1)]
    );

    // the text form says the same
    let text = s.text();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("data_abort"))
        .unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[..4], ["data_abort", "1", "50.00%", "66.67%"]);
}

/// A switch at the instant a trap ends is triggered by it; its cost is the trap's time.
#[test]
fn switch_trigger_and_cost() {
    let mut seq = CpuSeq::new(0);
    let mut bytes = frame_to_vec(&Frame::Hello(HELLO));
    let mut push = |ts: u64, e: Event<'static>| {
        bytes.extend(frame_to_vec(&Frame::Record(seq.next_header(ts), e)))
    };
    push(
        0,
        Event::Switch {
            from: None,
            to: Some(0),
            reason: SwitchReason::Start,
        },
    );
    for i in 0..10u64 {
        let t = 1000 * (i + 1);
        let (from, to) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
        push(
            t,
            Event::Trap {
                vcpu: from,
                kind: TrapKind::Wfi,
                duration_ticks: 30 + i as u32,
            },
        );
        push(
            t + 30 + i,
            Event::Switch {
                from: Some(from),
                to: Some(to),
                reason: SwitchReason::Wfi,
            },
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let rec = write(dir.path(), "sw.bin", &bytes);
    let s = Summary::of(&Session::replay_file(&rec, |_, _| {}).unwrap());
    let all = &s.switches[0];
    let wfi = all.by_trigger.iter().find(|r| r.name == "wfi").unwrap();
    assert_eq!(wfi.count, 10);
    let cost = &all.cost[0];
    assert_eq!(cost.trigger, "wfi");
    assert_eq!(
        (cost.cost.count, cost.cost.min_ns, cost.cost.max_ns),
        (10, 480, 39 * 16)
    );
    let into_rtos = s.switches.iter().find(|t| t.name == "rtos").unwrap();
    assert_eq!(into_rtos.switches, 5);
    assert!(s.clean(), "{}", s.line());
}

/// `hvmon plot` on a stream with elastic-memory records: one step series per (pool, VM),
/// following the records, and a `memory` chart besides the other two.
#[test]
fn memory_plot_follows_the_elastic_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = frame_to_vec(&Frame::Hello(HELLO));
    let mut seq = [CpuSeq::new(0), CpuSeq::new(1)];
    // VM 0 gives 3 of its 4 blocks to VM 1 (two records: 0 shrinks, then 1 grows), and
    // later 1 gives them back; 1 record of another CPU at the end sets the span.
    let moves = [
        (0, 1_000u64, 0u16, 4u32, 1u32),
        (0, 1_100, 1, 0, 3),
        (1, 5_000, 1, 3, 0),
        (1, 5_100, 0, 1, 4),
    ];
    for (cpu, ts, vm, from, to) in moves {
        let e = Event::Elastic {
            vm,
            pool: 0,
            from,
            to,
        };
        bytes.extend(frame_to_vec(&Frame::Record(seq[cpu].next_header(ts), e)));
    }
    let e = Event::Marker {
        vcpu: 0,
        id: 1,
        value: 0,
    };
    bytes.extend(frame_to_vec(&Frame::Record(seq[0].next_header(9_000), e)));
    let rec = write(dir.path(), "elastic.bin", &bytes);
    let s = Session::replay_file(&rec, |_, _| {}).unwrap();
    let series = hvmon::plot::memory_series(&s);
    let ns = |ticks: u64| ticks * 16;
    let pts: Vec<(u16, Vec<(u64, u32)>)> =
        series.iter().map(|x| (x.vm, x.points.clone())).collect();
    assert_eq!(
        pts,
        [
            (0, vec![(0, 4), (ns(0), 1), (ns(4_100), 4), (ns(8_000), 4)]),
            (
                1,
                vec![(0, 0), (ns(100), 3), (ns(4_000), 0), (ns(8_000), 0)]
            ),
        ]
    );
    let (files, _) = hvmon::plot::plot(&rec, &dir.path().join("plots")).unwrap();
    assert_eq!(files.len(), 6, "{files:?}");
    let svg = std::fs::read_to_string(dir.path().join("plots/memory.svg")).unwrap();
    assert!(svg.contains("linux (pool 0)") && svg.contains("rtos (pool 0)"));
}
