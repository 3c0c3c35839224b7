//! Integration cases of big.LITTLE switching (image feature `big-little`): a vCPU that
//! moves between a big and a LITTLE CPU 1,000 times on its own hints while interrupts
//! arrive from three sources.
//!
//! Besides the guests' RESULT lines, each case replays the telemetry stream's `Migrated`
//! records: a vCPU moves only from the CPU the record before put it on, only among the
//! CPUs its configuration allows, for the cause its VM's policy names.
use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Case, Mode, RunView};

pub(super) fn cases() -> Vec<Case> {
    let t = Duration::from_secs;
    vec![
        Case {
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
                ("bl-mover", "midr-of-cluster", "1000"),
                ("bl-mover", "checksum", "right"),
                ("bl-mover", "ticks-after-last-move", "yes"),
                ("bl-mover", "sgis", "200"),
                ("bl-mover", "sgi-lost-at", "0"),
                ("bl-mover", "pings", "200"),
                ("bl-pinger", "pings-taken", "200"),
            ],
            check: check_hint_moves,
        },
        Case {
            name: "big_little_governor_moves_a_bursty_guest_up_and_down",
            system: "bl-governor",
            mode: Mode::Telemetry,
            features: "big-little",
            input: &[],
            timeout: t(120),
            pass: &["bl-bursty"],
            expect: &[
                ("bl-bursty", "hint-refused", "-3"),
                ("bl-bursty", "moved-enough", "yes"),
            ],
            check: check_governor,
        },
        Case {
            name: "big_little_plan_moves_the_whole_vm_between_clusters",
            system: "bl-plan",
            mode: Mode::Telemetry,
            features: "big-little",
            input: &[],
            timeout: t(120),
            pass: &["bl-planned"],
            expect: &[
                ("bl-planned", "hint-refused", "-3"),
                ("bl-planned", "vcpu0-changes-ok", "yes"),
                ("bl-planned", "vcpu1-changes-ok", "yes"),
                ("bl-planned", "midr-fixed", "yes"),
            ],
            check: check_plan,
        },
        Case {
            name: "big_little_moves_during_reflection_cpu_off_on_and_reset",
            system: "bl-edge",
            mode: Mode::Telemetry,
            features: "big-little",
            input: &[],
            timeout: t(180),
            pass: &["bl-edge", "bl-edge-emu"],
            expect: &[
                ("bl-edge", "boot1-counted", "200"),
                ("bl-edge", "boot1-cycled", "200"),
                ("bl-edge", "boot", "2"),
                ("bl-edge", "counted", "200"),
                ("bl-edge", "cycled", "200"),
            ],
            check: check_edge,
        },
        Case {
            name: "big_little_linux_smp_keeps_running_through_repeated_switches",
            system: "bl-linux",
            mode: Mode::Telemetry,
            features: "big-little",
            input: &[],
            timeout: t(400),
            pass: &[],
            expect: &[],
            check: check_linux,
        },
    ]
}

fn check_edge(v: &RunView) -> Result<()> {
    // Both vCPUs kept moving by the plan through reflections, CPU_OFF/ON and the reset
    // (the replay follows each one across the reset: a reset leaves it where it is).
    let moves = replay(v, &[(0, 0, &[0, 2]), (1, 1, &[1, 3])], "plan")?;
    for w in [0u16, 1] {
        let n = moves.get(&w).map_or(0, Vec::len);
        if n < 10 {
            bail!("vCPU {w} of bl-edge moved {n} times under the 1 ms plan");
        }
    }
    Ok(())
}

fn check_linux(v: &RunView) -> Result<()> {
    // An unmodified 2-vCPU kernel boots with both CPUs online, runs its workload
    // (checksum right) and powers off while both vCPUs keep moving between clusters.
    let lines = v.lines("linux");
    for w in [
        "LINUX-GUEST: init started",
        "LINUX-GUEST: sha256 ok",
        "LINUX-GUEST: cpus online 0-1",
        "LINUX-GUEST: workload done",
        "LINUX-GUEST: powering off",
    ] {
        if !lines.iter().any(|l| l.starts_with(w)) {
            bail!(
                "Linux did not print {w:?}; last lines: {:?}",
                super::tail(lines)
            );
        }
    }
    let moves = replay(v, &[(0, 0, &[0, 2]), (1, 1, &[1, 3])], "plan")?;
    for w in [0u16, 1] {
        let n = moves.get(&w).map_or(0, Vec::len);
        // A boot and workload of seconds in 10 ms steps: hundreds of moves each.
        if n < 50 {
            bail!("vCPU {w} of Linux moved {n} times under the 10 ms plan");
        }
    }
    Ok(())
}

fn check_governor(v: &RunView) -> Result<()> {
    let moves = replay(v, &[(0, 2, &[2, 0])], "governor")?;
    let m = moves.get(&0).cloned().unwrap_or_default();
    let up = m.iter().filter(|&&(_, to)| to == 0).count();
    let down = m.iter().filter(|&&(_, to)| to == 2).count();
    // Six busy and six idle phases: most of them move it.
    if up < 3 || down < 3 {
        bail!("the governor moved it up {up} and down {down} times: {m:?}");
    }
    Ok(())
}

fn check_plan(v: &RunView) -> Result<()> {
    // Both vCPUs follow the plan: alternately to the LITTLE and back to the big cluster.
    let moves = replay(v, &[(0, 0, &[0, 2]), (1, 1, &[1, 3])], "plan")?;
    for w in [0u16, 1] {
        let m = moves.get(&w).cloned().unwrap_or_default();
        if m.len() < 4 {
            bail!("vCPU {w} moved {} times under the plan: {m:?}", m.len());
        }
    }
    Ok(())
}

/// Replays the `Migrated` records: each of `vcpus` — (global vCPU, home CPU, the CPUs it
/// may run on) — moves only from the CPU the record before put it on (its home at
/// first), only to another CPU it may run on, for `cause`; no other vCPU moves.
/// Returns each one's moves as (timestamp order index, from, to).
fn replay(
    v: &RunView,
    vcpus: &[(u16, u16, &[u16])],
    cause: &str,
) -> Result<BTreeMap<u16, Vec<(u16, u16)>>> {
    let mut at: BTreeMap<u16, u16> = vcpus.iter().map(|&(w, home, _)| (w, home)).collect();
    let mut moves: BTreeMap<u16, Vec<(u16, u16)>> = BTreeMap::new();
    for (i, &(w, from, to, c)) in v.migrations.iter().enumerate() {
        let Some(&(_, _, allowed)) = vcpus.iter().find(|x| x.0 == w) else {
            bail!("record {i}: vCPU {w} moved; it may not");
        };
        let here = at[&w];
        if from != here {
            bail!("record {i}: vCPU {w} moved from CPU {from}, but it was on CPU {here}");
        }
        if !allowed.contains(&to) || to == from {
            bail!("record {i}: vCPU {w} moved to CPU {to} (it may run on {allowed:?})");
        }
        if c != cause {
            bail!("record {i}: cause {c}, the VM's policy is {cause}");
        }
        at.insert(w, to);
        moves.entry(w).or_default().push((from, to));
    }
    Ok(moves)
}

fn check_hint_moves(v: &RunView) -> Result<()> {
    // Global vCPU 0 is bl-mover's vCPU 0: CPU 0 ↔ CPU 2, 1,000 times.
    let moves = replay(v, &[(0, 0, &[0, 2])], "hint")?;
    let n = moves.get(&0).map_or(0, Vec::len);
    if n != 1000 {
        bail!("{n} moves in the stream, 1000 expected");
    }
    Ok(())
}
