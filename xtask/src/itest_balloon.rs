//! Integration cases of the balloon extension (image feature `balloon`): blocks of an
//! elastic pool passed between two VMs on two CPUs 100 times, a holder that never
//! releases (revoked at the deadline) and then restarts holding blocks, and moves made by
//! the configuration's static plan.
//!
//! Besides the guests' RESULT lines, each case replays the telemetry stream's `Elastic`
//! records: every holder's count must change only from the count it had, and the
//! holders' counts must never add up to more than the pool — the run-time invariant that
//! makes their stage-2 sets disjoint.
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Case, Mode, RunView};

pub(super) fn cases() -> Vec<Case> {
    let t = Duration::from_secs;
    vec![
        Case {
            name: "balloon_blocks_pass_between_two_vms_100_times",
            system: "balloon",
            mode: Mode::Telemetry,
            features: "balloon",
            input: &[],
            timeout: t(240),
            pass: &["bl-left", "bl-right"],
            expect: &[
                ("bl-left", "rounds", "100"),
                ("bl-left", "kept", "100"),
                ("bl-left", "zeros", "100"),
                ("bl-left", "faults-after-release", "100"),
                ("bl-left", "info-no-pool", "-2"),
                ("bl-left", "call-count", "13"),
                ("bl-left", "move-too-many", "-2"),
                ("bl-left", "move-not-a-holder", "-2"),
                ("bl-left", "acquire-beyond-pool", "-2"),
                ("bl-left", "release-more-than-held", "-2"),
                ("bl-right", "rounds", "100"),
                ("bl-right", "kept", "100"),
                ("bl-right", "zeros", "100"),
                ("bl-right", "faults-after-release", "100"),
                ("bl-right", "move-not-manager", "-3"),
            ],
            check: check_pass_back_and_forth,
        },
        Case {
            name: "balloon_unreleased_blocks_revoked_and_returned_on_reset",
            system: "balloon-revoke",
            mode: Mode::Telemetry,
            features: "balloon",
            input: &[],
            timeout: t(120),
            pass: &["bl-mgr", "bl-hog"],
            expect: &[
                ("bl-mgr", "move-too-many", "-2"),
                ("bl-mgr", "second-move", "-6"),
                ("bl-mgr", "acquire-during-move", "-6"),
                ("bl-mgr", "revoked-while-spinning", "yes"),
                ("bl-mgr", "revoked-after-deadline", "yes"),
                ("bl-mgr", "zeros-after-revoke", "yes"),
                ("bl-mgr", "free-after-reset", "2"),
                ("bl-mgr", "zeros-after-reset", "yes"),
                ("bl-hog", "move-not-manager", "-3"),
                ("bl-hog", "revoked", "yes"),
                ("bl-hog", "asked-first", "yes"),
                ("bl-hog", "restarted-holding", "0"),
            ],
            check: check_revoke,
        },
        Case {
            name: "balloon_static_plan_moves_blocks_at_its_times",
            system: "balloon-plan",
            mode: Mode::Telemetry,
            features: "balloon",
            input: &[],
            timeout: t(120),
            pass: &["pl-a", "pl-b"],
            // in blocks, not notifications: moves close together may share one interrupt
            expect: &[
                ("pl-a", "given", "8"),
                ("pl-a", "received", "8"),
                ("pl-a", "zeros", "8"),
                ("pl-a", "faults-after-release", "8"),
                ("pl-a", "held", "8"),
                ("pl-b", "given", "8"),
                ("pl-b", "received", "8"),
                ("pl-b", "zeros", "8"),
                ("pl-b", "faults-after-release", "8"),
                ("pl-b", "held", "0"),
            ],
            check: check_plan,
        },
        Case {
            name: "balloon_linux_grows_and_shrinks_through_virtio_mem",
            system: "balloon-linux",
            mode: Mode::Telemetry,
            features: "balloon",
            input: &[],
            timeout: t(400),
            pass: &["bl-vmem"],
            expect: &[
                ("bl-vmem", "give-to-linux", "done"),
                ("bl-vmem", "take-back", "asked"),
                ("bl-vmem", "held-after", "32"),
                ("bl-vmem", "zeros-after-linux", "yes"),
            ],
            check: check_linux_virtio_mem,
        },
    ]
}

/// The number after `prefix` in Linux's line that starts with it (`… 105632 kB`).
fn linux_kb(v: &RunView, prefix: &str) -> Result<u64> {
    let lines = v.lines("linux");
    let Some(l) = lines.iter().find_map(|l| l.strip_prefix(prefix)) else {
        bail!(
            "Linux did not print {prefix:?}; last lines: {:?}",
            super::tail(lines)
        );
    };
    match l.split_whitespace().next().and_then(|n| n.parse().ok()) {
        Some(n) => Ok(n),
        None => bail!("no number in Linux's {prefix:?} line: {l:?}"),
    }
}

fn check_linux_virtio_mem(v: &RunView) -> Result<()> {
    // Linux's own view: MemTotal grows by the whole pool (128 MiB), a workload larger
    // than the memory free before runs in it, and MemTotal is back where it was.
    let before = linux_kb(v, "LINUX-GUEST: memtotal before ")?;
    let grown = linux_kb(v, "LINUX-GUEST: memtotal grown ")?;
    let shrunk = linux_kb(v, "LINUX-GUEST: memtotal shrunk ")?;
    if grown != before + 128 * 1024 {
        bail!("MemTotal went from {before} kB to {grown} kB; the pool is 131072 kB");
    }
    if shrunk != before {
        bail!("MemTotal went back to {shrunk} kB, not to {before} kB");
    }
    let lines = v.lines("linux");
    for w in [
        "LINUX-GUEST: memory workload ok",
        "LINUX-GUEST: manager answered 0x00000003",
        "LINUX-GUEST: powering off",
    ] {
        if !lines.iter().any(|l| l.starts_with(w)) {
            bail!("Linux did not print {w:?}");
        }
    }
    // The stream: Linux gets all 32 blocks in one set switch, gives them back in one or
    // more (its driver unplugs whole memory blocks, or parts of them), and only then
    // does bl-vmem get them; it gives them back when it powers off.
    replay(v, 32, &[("bl-vmem", 0), ("linux", 0)])?;
    let moves: Vec<(&str, u32, u32)> = v
        .elastic
        .iter()
        .map(|(vm, _, from, to)| (vm.as_str(), *from, *to))
        .collect();
    let Some(first) = moves.first() else {
        bail!("no elastic moves in the stream");
    };
    if *first != ("linux", 0, 32) {
        bail!("the first move is {first:?}, not Linux growing by the whole pool");
    }
    let back = moves.iter().position(|m| m.0 == "bl-vmem");
    let Some(back) = back else {
        bail!("bl-vmem never got the blocks: {moves:?}");
    };
    let shrinks = &moves[1..back];
    if shrinks.is_empty()
        || shrinks.iter().any(|m| m.0 != "linux" || m.2 >= m.1)
        || shrinks.last().map(|m| m.2) != Some(0)
    {
        bail!("Linux should give back every block before bl-vmem gets them: {moves:?}");
    }
    if moves[back] != ("bl-vmem", 0, 32) {
        bail!("bl-vmem should get all 32 blocks at once: {moves:?}");
    }
    Ok(())
}

/// Replays the `Elastic` records of pool 0 (`blocks` blocks) from the boot counts
/// `initial`; returns each VM's count changes. A VM that powers off gives its blocks
/// back, so when every VM has ended the pool must be whole again.
fn replay(v: &RunView, blocks: u32, initial: &[(&str, u32)]) -> Result<BTreeMap<String, u32>> {
    let mut held: BTreeMap<String, u32> =
        initial.iter().map(|(vm, n)| (vm.to_string(), *n)).collect();
    let mut changes: BTreeMap<String, u32> = BTreeMap::new();
    for (i, (vm, pool, from, to)) in v.elastic.iter().enumerate() {
        if *pool != 0 {
            bail!("record {i}: pool {pool}, the system has one");
        }
        let Some(h) = held.get_mut(vm) else {
            bail!("record {i}: {vm} is not a holder");
        };
        if *h != *from {
            bail!("record {i}: {vm} goes from {from} blocks, but it held {h}");
        }
        *h = *to;
        *changes.entry(vm.clone()).or_default() += 1;
        let total: u32 = held.values().sum();
        if total > blocks {
            bail!("record {i}: the holders hold {total} blocks of {blocks}: {held:?}");
        }
    }
    if held.values().any(|&n| n != 0) {
        bail!("after every VM ended the holders still hold {held:?}");
    }
    Ok(changes)
}

fn check_pass_back_and_forth(v: &RunView) -> Result<()> {
    let changes = replay(v, 8, &[("bl-left", 8), ("bl-right", 0)])?;
    // Per round each gives all 8 blocks away once and gets them once; bl-left holds
    // them when it powers off, and gives them back then.
    for (vm, want) in [("bl-left", 201), ("bl-right", 200)] {
        let n = changes.get(vm).copied().unwrap_or(0);
        if n != want {
            bail!("{vm}: {n} count changes in the stream, {want} expected (100 rounds)");
        }
    }
    Ok(())
}

fn check_plan(v: &RunView) -> Result<()> {
    // The plan's three moves, each a shrink of the giver and a grow of the receiver, in
    // order; then pl-a powers off holding all 8 and gives them back.
    let want = [
        ("pl-a", 8, 4),
        ("pl-b", 0, 4),
        ("pl-a", 4, 0),
        ("pl-b", 4, 8),
        ("pl-b", 8, 0),
        ("pl-a", 0, 8),
        ("pl-a", 8, 0),
    ];
    replay(v, 8, &[("pl-a", 8), ("pl-b", 0)])?;
    let got: Vec<(&str, u32, u32)> = v
        .elastic
        .iter()
        .map(|(vm, _, from, to)| (vm.as_str(), *from, *to))
        .collect();
    if got != want {
        bail!("the stream's elastic moves are {got:?}, the plan makes {want:?}");
    }
    Ok(())
}

fn check_revoke(v: &RunView) -> Result<()> {
    let changes = replay(v, 4, &[("bl-mgr", 0), ("bl-hog", 4)])?;
    // bl-hog: revoked (4 → 0), acquires 2, restarts (2 → 0). bl-mgr: given 4, gives 2
    // back, acquires 2, powers off holding 4.
    let want = [("bl-hog", 3), ("bl-mgr", 4)];
    for (vm, n) in want {
        let got = changes.get(vm).copied().unwrap_or(0);
        if got != n {
            bail!("{vm}: {got} count changes in the stream, {n} expected");
        }
    }
    Ok(())
}
