//! `cargo xtask bench linux-boot`: how much the hypervisor slows a Linux boot.
//!
//! - Seconds from starting QEMU to the initramfs' first line (`LINUX-GUEST: init
//!   started`), median of `BENCH_LINUX_RUNS` (default 3) boots each: natively
//!   (xtask/src/linux.rs `boot_native`: `-M virt`, `-smp 2`, `-m 512M`, QEMU's DTB) and
//!   under the hypervisor (system `linux-duo`, plain image: Linux on CPUs 0-1 beside the
//!   heartbeat VM on CPUs 2-3, the same kernel, initramfs and command line), and with
//!   `exp-linux-solo` (the Linux VM alone: no second VM's vCPU threads competing for the
//!   host's CPUs). Wall-clock time of TCG emulation on this host: the ratios are the
//!   figures, not the seconds.
//! - Traps by kind during the boot: one more boot of `linux-duo` with the UART telemetry,
//!   counted from the stream's `Trap` records (by vCPU of the `linux` VM up to its
//!   power-off) and, since the stream drops records under load, from the hypervisor's own
//!   `Counters` as well.
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hv_protocol::TrapKind;

use crate::firmware::{self, SystemSpec};
use crate::linux::{self, MARKER};
use crate::monitor;
use crate::qemu;
use crate::toolchain::Toolchain;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn run() -> Result<()> {
    let runs: usize = std::env::var("BENCH_LINUX_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    qemu::ensure_installed()?;
    let art = linux::fetch_and_build()?;
    let tc = Toolchain::detect_or_install()?;
    firmware::build_guests(&tc)?;
    let systems = [
        ("linux-duo", "beside the heartbeat VM on CPUs 2-3"),
        ("exp-linux-solo", "alone on CPUs 0-1"),
    ];
    let mut images = Vec::new();
    for (system, _) in systems {
        images.push(firmware::build_hv(
            &tc,
            &SystemSpec::new("qemu-virt", system, "").plain(),
        )?);
    }
    let timeout = Duration::from_secs(300);

    let mut native = Vec::new();
    let mut hv = vec![Vec::new(); systems.len()];
    for i in 0..runs {
        let n = linux::boot_native(&art, None, timeout)?;
        native.push(n.to_marker.as_secs_f64());
        for (k, img) in images.iter().enumerate() {
            let o = qemu::run_bounded(qemu::base_command(img), timeout, Some(MARKER))?;
            let t = o.first_line.with_context(|| {
                format!(
                    "{}: no `{MARKER}` within {timeout:?}; tail:\n{}",
                    systems[k].0,
                    o.output
                        .lines()
                        .rev()
                        .take(20)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?;
            if o.status != Some(0) {
                bail!("{} did not power off (status {:?})", systems[k].0, o.status);
            }
            hv[k].push(t.as_secs_f64());
        }
        eprintln!(
            "run {}/{runs}: native {:.2} s, under the hypervisor {:.2?} s",
            i + 1,
            native[i],
            hv.iter().map(|h| h[i]).collect::<Vec<_>>()
        );
    }
    let n = median(native.clone());
    println!(
        "linux boot to `{MARKER}` (wall clock, median of {runs}; kernel {}):",
        art.version
    );
    println!(
        "  native (QEMU -kernel, -smp 2)                       {n:>6.2} s   runs {native:.2?}"
    );
    for (k, (system, what)) in systems.iter().enumerate() {
        let h = median(hv[k].clone());
        let ratio = h / n;
        println!(
            "  hypervisor, {system} ({what}) {h:>6.2} s   runs {:.2?}   ratio {ratio:.2} (target ≤ 1.3: {})",
            hv[k],
            if ratio <= 1.3 { "met" } else { "missed" }
        );
    }

    let traced = firmware::build_hv(&tc, &SystemSpec::new("qemu-virt", "linux-duo", ""))?;
    let r = monitor::decode_run(&traced, timeout)?;
    let seen: Vec<String> = TrapKind::ALL
        .iter()
        .filter(|k| r.traps_seen[**k as usize] > 0)
        .map(|k| format!("{} {}", k.name(), r.traps_seen[*k as usize]))
        .collect();
    println!(
        "traps during the whole linux-duo run (both VMs, telemetry build; {:.1} s):",
        r.elapsed.as_secs_f64()
    );
    println!(
        "  from Trap records: {} (total {})",
        seen.join(", "),
        r.traps_seen.iter().sum::<u64>()
    );
    match r.traps_reported {
        Some(t) => {
            let rep: Vec<String> = TrapKind::ALL
                .iter()
                .filter(|k| t[**k as usize] > 0)
                .map(|k| format!("{} {}", k.name(), t[*k as usize]))
                .collect();
            println!(
                "  the hypervisor's Counters (last of each CPU): {} (total {})",
                rep.join(", "),
                t.iter().sum::<u64>()
            );
        }
        None => println!("  no Counters record arrived"),
    }
    if !r.clean() {
        println!(
            "  the stream was not complete: {} records dropped by full rings, {} lost in transport — the Counters are the reliable totals",
            r.dropped, r.seq_lost
        );
    }
    if r.status != Some(0) {
        println!("  (the traced run ended with status {:?})", r.status);
    }
    Ok(())
}
