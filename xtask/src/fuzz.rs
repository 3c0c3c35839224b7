//! `cargo xtask fuzz`: coverage-guided fuzzing of the monitor's stream decoder and session
//! (`monitor/fuzz`, libFuzzer through cargo-fuzz) for a bounded time.
//!
//! Targets: `stream` (any bytes, seeded with the recorded streams of
//! `monitor/tests/fixtures`) and `frames` (well-framed records with arbitrary contents, past
//! the CRC). cargo-fuzz is installed from crates.io when missing. No sanitizer (`-s none`):
//! the decoder is safe Rust, and the Debian toolchain has no sanitizer runtimes. A crash
//! leaves its input in `monitor/fuzz/artifacts/<target>/`, which becomes a regression case
//! in `monitor/tests/robustness.rs`.
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::paths;

/// The fuzz targets, in the order they run.
pub const TARGETS: &[&str] = &["stream", "frames"];

/// Runs `targets` (all when empty) for `seconds` each.
pub fn run(targets: &[String], seconds: u64) -> Result<()> {
    let dir = paths::root().join("monitor/fuzz");
    for t in targets {
        if !TARGETS.contains(&t.as_str()) {
            bail!(
                "unknown fuzz target `{t}`; the targets are: {}",
                TARGETS.join(", ")
            );
        }
    }
    let chosen: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        targets.iter().map(String::as_str).collect()
    };
    ensure_cargo_fuzz()?;
    seed(&dir)?;
    let mut crashed = Vec::new();
    for t in chosen {
        eprintln!("xtask: fuzzing `{t}` for {seconds} s (monitor/fuzz) …");
        let st = Command::new(cargo())
            .current_dir(&dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", t, "-s", "none", "--"])
            .arg(format!("-max_total_time={seconds}"))
            .status()
            .context("running cargo fuzz")?;
        if !st.success() {
            crashed.push(t);
        }
    }
    if !crashed.is_empty() {
        bail!(
            "fuzzing found failures in {}: inputs in monitor/fuzz/artifacts/ (`cargo fuzz fmt <target> <file>` shows one)",
            crashed.join(", ")
        );
    }
    eprintln!("xtask: fuzzing found nothing");
    Ok(())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs cargo-fuzz from crates.io when `cargo fuzz` is not there.
fn ensure_cargo_fuzz() -> Result<()> {
    let have = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz (cargo install cargo-fuzz --locked) …");
    let st = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("running cargo install cargo-fuzz")?;
    if !st.success() {
        bail!("cargo install cargo-fuzz failed ({st})");
    }
    Ok(())
}

/// Seeds the `stream` target's corpus with the recorded streams the monitor's tests use.
fn seed(dir: &Path) -> Result<()> {
    let corpus = dir.join("corpus/stream");
    std::fs::create_dir_all(&corpus)?;
    let fixtures = paths::root().join("monitor/tests/fixtures");
    for e in std::fs::read_dir(&fixtures).with_context(|| format!("{}", fixtures.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "rec") {
            std::fs::copy(&p, corpus.join(p.file_name().expect("a file name")))?;
        }
    }
    Ok(())
}
