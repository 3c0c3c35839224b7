//! `cargo xtask bench switch`: what one switch between two VMs costs on one CPU, for full
//! VMs and lightweight VMs, in instructions counted deterministically.
//!
//! Method: a ping-pong over two vIRQ channels on CPU 0 (1000 round trips after a
//! "ready"), with QEMU's `-icount shift=0,sleep=off` so that every emulated instruction
//! takes exactly 1 ns of virtual time; the pinging side reads the virtual counter
//! (62.5 MHz: one tick = 16 instructions) before and after and prints ticks per round
//! trip. A round trip is two one-way switches, each including the trap that ends the
//! sender's turn and the receiver's wake-up (for a full VM: its virtual interrupt). Only
//! CPU 0 runs anything, so the count is not mixed with other CPUs' work.
//!
//! Configurations (all plain-text images, no telemetry):
//! - VM↔VM, the hypervisor without the `lwvm` feature (E2H=0): `pingpong`;
//! - VM↔VM with it (E2H=1): `pingpong`;
//! - VM↔lwVM: `lwvm-pingpong` (ping against `lw-pong`);
//! - lwVM↔lwVM: `lwvm-lwpingpong` (`lw-ping` against `lw-pong`).
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::firmware::{self, SystemImage, SystemSpec};
use crate::qemu;
use crate::toolchain::Toolchain;

/// Instructions per counter tick under `-icount shift=0` (1 GHz / 62.5 MHz).
const INSTR_PER_TICK: u64 = 16;

struct Config {
    label: &'static str,
    system: &'static str,
    features: &'static str,
    /// The VM that prints `<vm>: N ticks per round trip`.
    pinger: &'static str,
}

const CONFIGS: &[Config] = &[
    Config {
        label: "VM <-> VM, E2H=0 (image without lwvm)",
        system: "pingpong",
        features: "",
        pinger: "ping",
    },
    Config {
        label: "VM <-> VM, E2H=1 (image with lwvm)",
        system: "pingpong",
        features: "lwvm",
        pinger: "ping",
    },
    Config {
        label: "VM <-> lwVM",
        system: "lwvm-pingpong",
        features: "lwvm",
        pinger: "ping",
    },
    Config {
        label: "lwVM <-> lwVM",
        system: "lwvm-lwpingpong",
        features: "lwvm",
        pinger: "lw-ping",
    },
];

/// The QEMU command of `img` with deterministic instruction counting.
fn icount_command(img: &SystemImage) -> std::process::Command {
    let base = qemu::base_command(img);
    let mut cmd = std::process::Command::new(base.get_program());
    let mut args = base.get_args().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = args.next() {
        if a == "-M" {
            let m = args.next().unwrap_or_default();
            cmd.args(["-M", &format!("{m},dtb-randomness=off")]);
        } else {
            cmd.arg(a);
        }
    }
    cmd.args(["-icount", "shift=0,sleep=off", "-seed", "1"]);
    cmd
}

/// Ticks per round trip the pinger printed.
fn ticks_per_round_trip(output: &str, pinger: &str) -> Option<u64> {
    let tag = format!("[{pinger}] {pinger}: ");
    output.lines().find_map(|l| {
        l.trim_end_matches('\r')
            .strip_prefix(&tag)?
            .strip_suffix(" ticks per round trip")?
            .parse()
            .ok()
    })
}

/// Runs every configuration and prints the table and the ratios.
pub fn run() -> Result<()> {
    qemu::ensure_installed()?;
    let tc = Toolchain::detect_or_install()?;
    firmware::build_guests(&tc)?;
    let mut rows = Vec::new();
    for c in CONFIGS {
        let spec = SystemSpec::new("qemu-virt", c.system, c.features).plain();
        let img = firmware::build_hv(&tc, &spec)?;
        let o = qemu::run_bounded(icount_command(&img), Duration::from_secs(300), None)?;
        if o.status != Some(0) {
            bail!(
                "{} ({}) did not finish cleanly ({:?}):\n{}",
                c.label,
                c.system,
                o.status,
                o.output
            );
        }
        let ticks = ticks_per_round_trip(&o.output, c.pinger).with_context(|| {
            format!(
                "{}: no `ticks per round trip` line in:\n{}",
                c.label, o.output
            )
        })?;
        rows.push((c, ticks));
    }
    println!(
        "one CPU, 1000 round trips over vIRQ channels, QEMU -icount shift=0,sleep=off (1 instruction = 1 ns, 1 tick = {INSTR_PER_TICK} instructions)"
    );
    println!(
        "{:<40} {:>12} {:>16} {:>22}",
        "configuration", "ticks/trip", "instr/round trip", "instr/one-way switch"
    );
    for (c, ticks) in &rows {
        let rt = ticks * INSTR_PER_TICK;
        println!("{:<40} {:>12} {:>16} {:>22}", c.label, ticks, rt, rt / 2);
    }
    let one_way = |i: usize| (rows[i].1 * INSTR_PER_TICK / 2) as f64;
    let full = one_way(1);
    println!(
        "ratio VM<->lwVM / VM<->VM (E2H=1):   {:.2}",
        one_way(2) / full
    );
    println!(
        "ratio lwVM<->lwVM / VM<->VM (E2H=1): {:.2}",
        one_way(3) / full
    );
    println!(
        "cost of E2H=1 for full VMs:          {:+.1}%",
        (full / one_way(0) - 1.0) * 100.0
    );
    Ok(())
}

/// `cargo xtask bench switch-profile`: where the instructions of each configuration go,
/// per round trip and per function (hypervisor functions by name, guest code as one
/// line), from QEMU's execution trace (`-d in_asm,exec,nochain` under icount). Boot-time
/// work (clearing and loading VM memory) and console formatting are left out. Slow
/// (about a minute and a few hundred MB of trace per configuration).
pub fn profile() -> Result<()> {
    qemu::ensure_installed()?;
    let tc = Toolchain::detect_or_install()?;
    firmware::build_guests(&tc)?;
    let dir = crate::paths::root().join("target/bench-switch");
    std::fs::create_dir_all(&dir)?;
    for c in CONFIGS {
        let spec = SystemSpec::new("qemu-virt", c.system, c.features).plain();
        let img = firmware::build_hv(&tc, &spec)?;
        let log = dir.join("trace.log");
        let _ = std::fs::remove_file(&log);
        let mut cmd = icount_command(&img);
        cmd.args(["-d", "in_asm,exec,nochain", "-D"]).arg(&log);
        let o = qemu::run_bounded(cmd, Duration::from_secs(600), None)?;
        if o.status != Some(0) {
            bail!(
                "{} did not finish cleanly under the trace ({:?})",
                c.label,
                o.status
            );
        }
        let rounds = 1000.0;
        let (total, rows) = profile_trace(&log, &img.elf)?;
        println!(
            "\n{} ({}): {:.0} instructions per round trip outside boot and console",
            c.label,
            c.system,
            total as f64 / rounds
        );
        for (name, n) in rows.iter().take(14) {
            println!(
                "  {:>8.0}  {:>5.1}%  {name}",
                *n as f64 / rounds,
                *n as f64 * 100.0 / total as f64
            );
        }
        let _ = std::fs::remove_file(&log);
    }
    Ok(())
}

/// Instructions per function in a QEMU trace (TB sizes from `in_asm`, executions from
/// `exec` with `nochain`), hypervisor PCs named with the ELF's symbols (`nm`).
fn profile_trace(
    log: &std::path::Path,
    elf: &std::path::Path,
) -> Result<(u64, Vec<(String, u64)>)> {
    use std::collections::HashMap;
    use std::io::BufRead;
    let nm = std::process::Command::new("nm")
        .args(["-C", "--defined-only"])
        .arg(elf)
        .output()
        .context("running nm")?;
    let mut syms: Vec<(u64, String)> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, ' ');
            let (a, t, n) = (p.next()?, p.next()?, p.next()?);
            matches!(t, "t" | "T" | "w" | "W")
                .then(|| Some((u64::from_str_radix(a, 16).ok()?, n.to_string())))?
        })
        .collect();
    syms.sort();
    let text_end = syms.last().map_or(0, |s| s.0 + 0x1000);
    let text_start = syms.first().map_or(0, |s| s.0);
    let name = |pc: u64| -> String {
        if pc < text_start || pc >= text_end {
            return "(guest code)".into();
        }
        let i = syms.partition_point(|s| s.0 <= pc);
        if i == 0 {
            "?".into()
        } else {
            syms[i - 1].1.clone()
        }
    };
    let skip = |n: &str| {
        [
            "memset",
            "memcpy",
            "memmove",
            "compiler_builtins::mem",
            "vmload::load",
            "log::",
            "core::fmt",
            "console::",
            "LineBuf",
            "Formatter",
            "pl011",
            "mmio::",
        ]
        .iter()
        .any(|s| n.contains(s))
    };
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut per_pc: HashMap<u64, (String, bool)> = HashMap::new();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut pending: Option<(u64, u64)> = None;
    let mut in_block = false;
    let f = std::io::BufReader::new(std::fs::File::open(log)?);
    for line in f.lines() {
        let line = line?;
        if line.starts_with("IN:") {
            pending = None;
            in_block = true;
            continue;
        }
        if in_block {
            if let Some(hex) = line.strip_prefix("0x").and_then(|r| r.split(':').next()) {
                let pc = u64::from_str_radix(hex, 16).unwrap_or(0);
                pending = Some(pending.map_or((pc, 1), |(s, n)| (s, n + 1)));
                continue;
            }
            in_block = false;
        }
        let Some(rest) = line.strip_prefix("Trace ") else {
            continue;
        };
        let mut it = rest.split_whitespace();
        let host = it.nth(1).unwrap_or_default().to_string();
        let pc = it
            .next()
            .and_then(|f| {
                f.trim_start_matches('[')
                    .split('/')
                    .nth(1)
                    .map(str::to_string)
            })
            .and_then(|p| u64::from_str_radix(&p, 16).ok())
            .unwrap_or(0);
        if let Some((start, n)) = pending.take()
            && start == pc
        {
            sizes.insert(host.clone(), n);
        }
        let n = sizes.get(&host).copied().unwrap_or(1);
        let (fname, skipped) = per_pc.entry(pc).or_insert_with(|| {
            let s = name(pc);
            let k = skip(&s);
            (s, k)
        });
        if !*skipped {
            *counts.entry(fname.clone()).or_default() += n;
        }
    }
    let total = counts.values().sum();
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    Ok((total, rows))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_the_pinger_line() {
        let out = "hv: x\r\n[ping] ping: 485 ticks per round trip\r\n[lw-ping] lw-ping: 99 ticks per round trip\n";
        assert_eq!(super::ticks_per_round_trip(out, "ping"), Some(485));
        assert_eq!(super::ticks_per_round_trip(out, "lw-ping"), Some(99));
        assert_eq!(super::ticks_per_round_trip(out, "pong"), None);
    }
}
