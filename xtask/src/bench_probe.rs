//! `cargo xtask bench hypercall` and `cargo xtask bench pingpong`: the deterministic
//! figures other work quotes, printed (no file needs reading; the experiments' results
//! folder is kept too).
//!
//! Method (all under `-icount shift=0,sleep=off`, images without telemetry unless noted):
//! - hypercall: the `hypercall` experiment (guests/probe-bench `probe-hvc`): PMCCNTR
//!   stamps around one `hvc #0` (QEMU's cycle counter runs at 1 GHz of the virtual clock,
//!   so one count is one instruction), minus the cost of two back-to-back stamps.
//! - pingpong: (1) the existing `pingpong` system: ping's "ticks per round trip" × 16
//!   (the generic counter ticks every 16 instructions), one-way = half; (2) the same system
//!   with the UART telemetry: traps and switches per round trip from the stream; (3) the
//!   `vm-switch` experiment (probe-ping/probe-pong on one CPU): the round trip split into
//!   its two directions by stamps of the shared cycle counter, and the traps of one
//!   iteration between the probe's phase markers.
//! - world-switch path length: a one-way switch measured from the sender's last guest
//!   instruction to the receiver's first, so it is one trap entry … ERET into the other
//!   VM; minus the null-hypercall round trip (trap entry, dispatch, ERET to the same VM)
//!   it leaves what the switch itself adds (scheduling, EL1/GIC/stage-2 context).
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hv_protocol::TrapKind;

use crate::experiment::def::{self, Image, Mode};
use crate::experiment::{self, Options, Outcome};
use crate::firmware::{self, SystemSpec};
use crate::monitor;
use crate::qemu;
use crate::toolchain::Toolchain;

/// Whether `what` is one of this module's benchmarks.
pub fn handles(what: &str) -> bool {
    matches!(what, "hypercall" | "pingpong")
}

pub fn run(what: &str) -> Result<()> {
    match what {
        "hypercall" => hypercall().map(|_| ()),
        "pingpong" => pingpong(),
        _ => bail!("unknown benchmark `{what}`"),
    }
}

fn det(name: &str, trace: bool) -> Result<Outcome> {
    let d = def::find(name)?;
    let opts = Options {
        modes: vec![Mode::Deterministic],
        trace,
        plots: false,
        progress: false,
        ..Options::default()
    };
    let out = crate::paths::root()
        .join("target")
        .join("experiments")
        .join(format!("bench-{name}"));
    let mut o = experiment::run(std::slice::from_ref(&d), &opts, &out)?;
    let o = o.remove(0);
    if let Some((v, e)) = o.errors.first() {
        bail!("experiment {name}, variant {v}: {e}");
    }
    Ok(o)
}

fn median(o: &Outcome, variant: &str, metric: &str) -> Result<f64> {
    let s = o
        .series
        .iter()
        .find(|s| {
            s.variant == variant
                && s.metric == metric
                && s.mode == Mode::Deterministic
                && s.image == Image::Plain
        })
        .with_context(|| format!("no {variant}/{metric} samples"))?;
    let mut v = s.values.clone();
    v.sort_unstable();
    Ok(v[v.len() / 2] as f64)
}

/// Prints the hypercall figures; returns the VM_INFO round trip (instructions).
fn hypercall() -> Result<f64> {
    let o = det("hypercall", false)?;
    let info = median(&o, "static", "hvc_vm_info")?;
    let ver = median(&o, "static", "hvc_smccc_version")?;
    let n = o
        .series
        .iter()
        .find(|s| s.metric == "hvc_vm_info")
        .map_or(0, |s| s.values.len());
    println!("hypercall round trip (icount, median of {n}; the stamps' own cost subtracted):");
    println!(
        "  VM_INFO        {info:>6.0} instructions   (image without telemetry; `cargo xtask experiment hypercall` judges the target)"
    );
    println!("  SMCCC_VERSION  {ver:>6.0} instructions   (through the VM's PSCI/SMCCC model)");
    Ok(info)
}

fn pingpong() -> Result<()> {
    qemu::ensure_installed()?;
    let tc = Toolchain::detect_or_install()?;
    firmware::build_guests(&tc)?;
    let icount = [
        "-icount",
        "shift=0,sleep=off",
        "-seed",
        "1",
        "-M",
        "dtb-randomness=off",
    ];

    // (1) The existing pingpong system, plain.
    let plain = firmware::build_hv(&tc, &SystemSpec::new("qemu-virt", "pingpong", "").plain())?;
    let mut cmd = qemu::base_command(&plain);
    cmd.args(icount);
    let o = qemu::run_bounded(cmd, Duration::from_secs(120), None)?;
    let ticks: u64 = o
        .output
        .lines()
        .find_map(|l| {
            l.trim_end_matches('\r')
                .strip_prefix("[ping] ping: ")?
                .strip_suffix(" ticks per round trip")?
                .parse()
                .ok()
        })
        .with_context(|| format!("pingpong printed no `ticks per round trip`:\n{}", o.output))?;
    let rt = ticks * 16;
    println!("pingpong (existing system, icount, counter ticks × 16):");
    println!("  round trip      {rt:>6} instructions ({ticks} ticks; resolution 16)");
    println!(
        "  one-way switch  {:>6} instructions (half a round trip)",
        rt / 2
    );

    // (2) Its traps per round trip, from the telemetry stream.
    let traced = firmware::build_hv(&tc, &SystemSpec::new("qemu-virt", "pingpong", ""))?;
    let r = monitor::decode_run_with(&traced, Duration::from_secs(120), &icount)?;
    if r.status != Some(0) {
        bail!(
            "the traced pingpong run failed ({:?}): {}",
            r.status,
            r.summary
        );
    }
    let rounds = 1000.0;
    let kinds: Vec<String> = TrapKind::ALL
        .iter()
        .filter(|k| r.traps_seen[**k as usize] > 0)
        .map(|k| {
            format!(
                "{} {:.2}",
                k.name(),
                r.traps_seen[*k as usize] as f64 / rounds
            )
        })
        .collect();
    let total: u64 = r.traps_seen.iter().sum();
    println!(
        "  traps per round trip (whole run / 1000, set-up and console output included): {:.2} — {}; switches {:.2}{}",
        total as f64 / rounds,
        kinds.join(", "),
        r.switches_seen as f64 / rounds,
        if r.clean() {
            String::new()
        } else {
            format!(" (stream not clean: {})", r.summary)
        }
    );

    // (3) The probes: both directions and the traps of one iteration.
    let hvc = median(&det("hypercall", false)?, "static", "hvc_vm_info")?;
    let o = det("vm-switch", true)?;
    let rt = median(&o, "static", "switch_round_trip")?;
    let there = median(&o, "static", "switch_ping_to_pong")?;
    let back = median(&o, "static", "switch_pong_to_ping")?;
    println!("vm-switch probes (icount, PMCCNTR, 1-instruction resolution, median):");
    println!("  round trip                    {rt:>6.0} instructions");
    println!(
        "  ping→pong (ping's WFI)        {there:>6.0} instructions  (trap entry … ERET into the other VM)"
    );
    println!("  pong→ping (pong's VIRQ_RAISE) {back:>6.0} instructions");
    println!(
        "  switch path beyond a null hypercall ({hvc:.0}): {:.0} (WFI direction), {:.0} (raise direction); target full switch ≤ 600: {}",
        there - hvc,
        back - hvc,
        if there.max(back) <= 600.0 {
            "met"
        } else {
            "missed"
        }
    );
    for (variant, phases) in &o.phases {
        for p in phases {
            let per = |n: u64| n as f64 / p.rounds.max(1) as f64;
            let traps: Vec<String> = p
                .traps
                .iter()
                .map(|(k, n)| format!("{k} {:.2}", per(*n)))
                .collect();
            println!(
                "  traps per round trip ({variant}, between the phase markers): {}; switches {:.2}",
                traps.join(", "),
                per(p.switches)
            );
        }
    }
    Ok(())
}
