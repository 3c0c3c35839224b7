//! The `hvmon` binary's exit status: 0 for a complete stream, 3 whenever anything was lost or
//! undecodable — for every command that reads a recording — and 1 for errors.

use std::path::Path;
use std::process::Command;

fn hvmon(args: &[&str]) -> i32 {
    let out = Command::new(env!("CARGO_BIN_EXE_hvmon"))
        .args(args)
        .output()
        .expect("hvmon runs");
    out.status.code().expect("exit status")
}

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hello.rec")
}

#[test]
fn every_command_exits_non_zero_on_an_incomplete_stream() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture();
    let bytes = std::fs::read(&good).unwrap();
    // damage one byte in the middle, and cut the end off mid-frame
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    bad.truncate(bad.len() - 5);
    let bad_path = dir.path().join("bad.rec");
    std::fs::write(&bad_path, &bad).unwrap();
    let out = |n: &str| dir.path().join(n).display().to_string();
    for (rec, want) in [
        (good.display().to_string(), 0),
        (bad_path.display().to_string(), 3),
    ] {
        assert_eq!(hvmon(&["summary", &rec]), want, "summary {rec}");
        assert_eq!(
            hvmon(&["summary", "--json", &rec, "-o", &out("s.json")]),
            want
        );
        assert_eq!(
            hvmon(&["plot", &rec, "-o", &out("plots")]),
            want,
            "plot {rec}"
        );
        assert_eq!(
            hvmon(&["export", &rec, "--format", "perfetto", "-o", &out("t.json")]),
            want,
            "export {rec}"
        );
        assert_eq!(hvmon(&["live", "--plain", &rec]), want, "live {rec}");
        assert_eq!(hvmon(&["replay", "--plain", &rec]), want, "replay {rec}");
    }
    assert_eq!(hvmon(&["summary", &out("missing.rec")]), 1);
}

#[test]
fn summary_json_carries_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("s.json");
    assert_eq!(
        hvmon(&[
            "stat",
            "--json",
            &fixture().display().to_string(),
            "-o",
            &o.display().to_string()
        ]),
        0
    );
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&o).unwrap()).unwrap();
    assert_eq!(j["clean"], true);
    assert_eq!(j["exits"][0]["scope"], "all");
    assert_eq!(j["exits"][0]["exits"], 168);
    assert_eq!(j["switches"][0]["switches"], 2);
}

#[test]
fn a_replay_window_is_a_complete_stream() {
    let rec = fixture().display().to_string();
    // cut at a frame end, never mid-frame: nothing is counted lost or truncated
    for args in [
        &["replay", "--plain", "--to", "1ms", &rec][..],
        &["replay", "--plain", "--from", "1ms", "--to", "50ms", &rec],
        &["replay", "--plain", "--from", "10s", &rec],
    ] {
        assert_eq!(hvmon(args), 0, "{args:?}");
    }
    assert_eq!(hvmon(&["replay", "--plain", "--to", "soon", &rec]), 2);
}
