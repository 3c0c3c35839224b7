//! Integration cases of big.LITTLE switching (image feature `big-little`): a vCPU that
//! moves between a big and a LITTLE CPU 1,000 times on its own hints while interrupts
//! arrive from three sources.
//!
//! Besides the guests' RESULT lines, each case replays the telemetry stream's `Migrated`
//! records: a vCPU moves only from the CPU the record before put it on, only among the
//! CPUs its configuration allows, for the cause its VM's policy names.
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Case, Mode, RunView};

pub(super) fn cases() -> Vec<Case> {
    let t = Duration::from_secs;
    vec![Case {
        name: "big_little_vcpu_moves_1000_times_keeping_state_and_interrupts",
        system: "bl-migrate",
        mode: Mode::Telemetry,
        features: "big-little",
        input: &[],
        timeout: t(240),
        pass: &["bl-mover", "bl-pinger"],
        expect: &[
            ("bl-mover", "start-cpu", "0"),
            ("bl-mover", "hint-malformed", "-2"),
            ("bl-mover", "moved", "1000"),
            ("bl-mover", "moves-counted", "1000"),
            ("bl-mover", "placed", "1000"),
            ("bl-mover", "fp-kept", "1000"),
            ("bl-mover", "sys-kept", "1000"),
            ("bl-mover", "debug-kept", "1000"),
            ("bl-mover", "checksum", "right"),
            ("bl-mover", "ticks-after-last-move", "yes"),
            ("bl-mover", "sgis", "200"),
            ("bl-mover", "sgi-lost-at", "0"),
            ("bl-mover", "pings", "200"),
            ("bl-pinger", "pings-taken", "200"),
        ],
        check: check_hint_moves,
    }]
}

/// Replays the `Migrated` records of vCPU `vcpu`, which starts on `home` and may run on
/// `allowed`: each move leaves the CPU the one before reached, goes to an allowed one,
/// for `cause`. Returns the number of moves.
fn replay(v: &RunView, vcpu: u16, home: u16, allowed: &[u16], cause: &str) -> Result<usize> {
    let mut at = home;
    let mut n = 0;
    for (i, &(w, from, to, c)) in v.migrations.iter().enumerate() {
        if w != vcpu {
            bail!("record {i}: vCPU {w} moved, only vCPU {vcpu} may");
        }
        if from != at {
            bail!("record {i}: vCPU {w} moved from CPU {from}, but it was on CPU {at}");
        }
        if !allowed.contains(&to) || to == from {
            bail!("record {i}: vCPU {w} moved to CPU {to} (it may run on {allowed:?})");
        }
        if c != cause {
            bail!("record {i}: cause {c}, the VM's policy is {cause}");
        }
        at = to;
        n += 1;
    }
    Ok(n)
}

fn check_hint_moves(v: &RunView) -> Result<()> {
    // Global vCPU 0 is bl-mover's vCPU 0: CPU 0 ↔ CPU 2, 1,000 times.
    let n = replay(v, 0, 0, &[0, 2], "hint")?;
    if n != 1000 {
        bail!("{n} moves in the stream, 1000 expected");
    }
    Ok(())
}
