//! Helpers shared by the monitor's integration tests.
#![allow(dead_code)]

/// Checks a trace against the trace-event format's rules that Perfetto enforces: required
/// fields per phase, non-negative durations, slices on one track nested (never partially
/// overlapping), every flow start matched by one end of the same id.
pub fn check_trace_schema(doc: &serde_json::Value) {
    let ev = doc["traceEvents"].as_array().expect("traceEvents array");
    let mut tracks: std::collections::BTreeMap<(u64, u64), Vec<(f64, f64)>> = Default::default();
    let mut flows: std::collections::BTreeMap<u64, (u32, u32)> = Default::default();
    for e in ev {
        let ph = e["ph"].as_str().expect("ph");
        assert!(["M", "X", "i", "C", "s", "f"].contains(&ph), "phase {ph}");
        assert!(e["pid"].is_u64(), "pid: {e}");
        assert!(e["name"].is_string(), "name: {e}");
        if ph == "M" {
            continue;
        }
        let ts = e["ts"].as_f64().expect("ts");
        assert!(ts >= 0.0, "{e}");
        match ph {
            "X" => {
                let dur = e["dur"].as_f64().expect("dur");
                assert!(dur >= 0.0, "{e}");
                let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().expect("tid"));
                tracks.entry(key).or_default().push((ts, ts + dur));
            }
            "s" | "f" => {
                let id = e["id"].as_u64().expect("flow id");
                let c = flows.entry(id).or_default();
                if ph == "s" { c.0 += 1 } else { c.1 += 1 }
            }
            "i" => assert!(e["tid"].is_u64(), "{e}"),
            _ => {}
        }
    }
    for (track, mut slices) in tracks {
        // longer first at equal start, then a stack of open slices
        slices.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut stack: Vec<(f64, f64)> = Vec::new();
        for s in slices {
            while stack.last().is_some_and(|top| top.1 <= s.0) {
                stack.pop();
            }
            if let Some(top) = stack.last() {
                assert!(s.1 <= top.1, "track {track:?}: {s:?} overlaps {top:?}");
            }
            stack.push(s);
        }
    }
    for (id, (starts, ends)) in flows {
        assert_eq!((starts, ends), (1, 1), "flow {id}");
    }
}
