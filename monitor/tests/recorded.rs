//! Golden tests on streams recorded from real runs (`cargo xtask run --record`), committed in
//! `tests/fixtures/`: `hello.rec` (the default system, whole run) and `pingpong-head.rec`
//! (the first 40 kB of the `pingpong` system: two VMs signalling each other on one CPU).
//!
//! The text of `hvmon summary` is compared with `*.summary.txt`; regenerate those after a
//! deliberate change of the format with
//! `cargo run -p hvmon -- summary monitor/tests/fixtures/<name>.rec -o monitor/tests/fixtures/<name>.summary.txt`
//! and review the diff. The structured checks below do not depend on the format.

mod common;

use std::path::PathBuf;

use hv_protocol::TrapKind;
use hvmon::session::Update;
use hvmon::{Session, Summary};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn replay(name: &str) -> (Session, Vec<(u16, String)>) {
    let mut lines = Vec::new();
    let s = Session::replay_file(&fixture(name), |_, u| {
        if let Update::ConsoleLine { vm, line } = u {
            lines.push((*vm, line.to_string()));
        }
    })
    .unwrap();
    (s, lines)
}

#[test]
fn summary_text_matches_the_golden_files() {
    for name in ["hello", "pingpong-head"] {
        let (s, _) = replay(&format!("{name}.rec"));
        let want = std::fs::read_to_string(fixture(&format!("{name}.summary.txt"))).unwrap();
        let got = Summary::of(&s).text();
        assert!(
            got == want,
            "{name}: summary differs from tests/fixtures/{name}.summary.txt (regenerate it if the \
             change is intended):\n--- got\n{got}\n--- want\n{want}"
        );
    }
}

#[test]
fn hello_run_is_complete_and_agrees_with_the_hypervisors_counters() {
    let (s, lines) = replay("hello.rec");
    let sum = Summary::of(&s);
    assert!(sum.clean(), "{}", sum.line());
    let text: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(
        text,
        [
            "Hello from a VM at EL1 with stage-2 translation on",
            "PSCI version 1.1",
            "hello: done"
        ]
    );
    assert_eq!(sum.vm_exits.len(), 1);
    assert_eq!(
        (sum.vm_exits[0].vm.as_str(), sum.vm_exits[0].reason),
        ("hello", "power_off")
    );
    // the exit table counts every trap the hypervisor counted itself
    let reported = s.metrics.cpus.values().filter_map(|c| c.reported).fold(
        [0u64; 7],
        |mut t, (by_kind, _, _)| {
            for (a, b) in t.iter_mut().zip(by_kind) {
                *a += u64::from(b);
            }
            t
        },
    );
    let all = &sum.exits[0];
    assert_eq!(all.scope, "all");
    for (k, n) in TrapKind::ALL.iter().zip(reported) {
        let row = all.rows.iter().find(|r| r.reason == k.name());
        assert_eq!(row.map_or(0, |r| r.time.count), n, "{}", k.name());
    }
    assert_eq!(
        all.exits,
        all.rows.iter().map(|r| r.time.count).sum::<u64>()
    );
    let pct: f64 = all.rows.iter().map(|r| r.percent).sum();
    assert!((pct - 100.0).abs() < 1e-9);
    for r in &all.rows {
        let d = &r.time;
        assert!(
            d.min_ns <= d.p50_ns.unwrap() && d.p50_ns <= d.p99_ns && d.p99_ns.unwrap() <= d.max_ns
        );
    }
}

#[test]
fn pingpong_switches_are_attributed_to_the_exits_that_caused_them() {
    let (s, _) = replay("pingpong-head.rec");
    let sum = Summary::of(&s);
    assert!(sum.clean(), "{}", sum.line());
    let scopes: Vec<(&str, &str)> = sum
        .exits
        .iter()
        .map(|t| (t.scope, t.name.as_str()))
        .collect();
    assert_eq!(scopes, [("all", "all VMs"), ("vm", "ping"), ("vm", "pong")]);
    assert_eq!(sum.exits[0].exits, sum.exits[1].exits + sum.exits[2].exits);
    let sw = &sum.switches[0];
    let by = |rows: &[hvmon::report::CountRow]| -> Vec<(&'static str, u64)> {
        rows.iter().map(|r| (r.name, r.count)).collect()
    };
    // ping waits (WFI) for pong, pong answers with a hypercall (VIRQ_RAISE): every VM→VM
    // switch is caused by one of the two, whatever label the hypervisor gave it; the head
    // of the stream holds well over a hundred round trips
    let n = sw
        .by_trigger
        .iter()
        .find(|r| r.name == "wfi")
        .map_or(0, |r| r.count);
    assert!(n > 100, "{n} round trips in the head of pingpong");
    assert_eq!(by(&sw.by_trigger), [("hvc", n), ("wfi", n), ("idle", 1)]);
    assert_eq!(sw.switches, 2 * n + 1);
    let costs: Vec<(&str, u64)> = sw.cost.iter().map(|c| (c.trigger, c.cost.count)).collect();
    assert_eq!(costs, [("hvc", n), ("wfi", n)]);
    // switches into ping are pong's hypercalls, into pong ping's WFIs
    let into = |vm: &str| sum.switches.iter().find(|t| t.name == vm).unwrap();
    assert_eq!(by(&into("pong").by_trigger), [("wfi", n)]);
    assert_eq!(by(&into("ping").by_trigger), [("hvc", n), ("idle", 1)]);
}

#[test]
fn perfetto_export_of_a_real_run_follows_the_trace_event_rules() {
    let mut out = Vec::new();
    hvmon::export::export(
        &fixture("pingpong-head.rec"),
        hvmon::export::Format::Perfetto,
        None,
        &mut out,
    )
    .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    common::check_trace_schema(&doc);
    let ev = doc["traceEvents"].as_array().unwrap();
    let exits = ev
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"].as_str().unwrap().starts_with("exit "))
        .count();
    let (s, _) = replay("pingpong-head.rec");
    let want = Summary::of(&s).exits[0].exits;
    assert!(want > 1000);
    assert_eq!(exits as u64, want, "one slice per exit of the stream");
}

/// `hvmon replay --to`: the view holds exactly the records up to that stream time.
#[test]
fn replay_to_a_time_holds_the_records_up_to_it() {
    use hvmon::replay::{Player, Recording};
    let path = fixture("pingpong-head.rec");
    // the records' stream times, from a plain replay
    let mut times = Vec::new();
    let mut first = None;
    let full = Session::replay_file(&path, |info, u| {
        if let (Some(info), Update::Record(h, _)) = (info, u) {
            let t0 = *first.get_or_insert(h.ts);
            times.push(info.clock().ns(h.ts - t0));
        }
    })
    .unwrap();
    let now = std::time::Instant::now();
    for to_ms in [0u64, 20, 150, 300, 10_000] {
        let to = to_ms * 1_000_000;
        let mut p = Player::new(Recording::load(&path).unwrap(), 0, Some(to), None, now);
        let r = p.advance(now);
        assert!(p.done());
        let mut s = Session::new();
        let mut n = 0;
        s.feed(&p.recording().bytes()[r], |_, u| {
            n += usize::from(matches!(u, Update::Record(..)))
        })
        .unwrap();
        s.finish(|_, _| {});
        let want = times.iter().filter(|&&t| t <= to).count();
        assert_eq!(n, want, "--to {to_ms}ms");
        assert!(Summary::of(&s).clean(), "--to {to_ms}ms");
    }
    assert_eq!(times.len() as u64 + 1, full.stats().frames);
}
