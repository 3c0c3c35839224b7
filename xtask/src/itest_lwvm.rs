//! Integration cases of the lightweight-VM extension (image feature `lwvm`): a full VM
//! and an lwVM in ping-pong, an lwVM serving a full VM over shared memory, an attacker
//! lwVM, two VMs and two lwVMs on one CPU, FP/SIMD state kept apart, and an image
//! refusing a CPU without VHE.
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Case, Mode, RunView, no_check};
use crate::firmware::{self, SystemSpec};
use crate::qemu;
use crate::toolchain::Toolchain;

/// The attacker's probes, each of which must end one of its lives
/// (guests/lwvm-demo/src/bin/lw-attacker.rs).
const PROBES: &[&str] = &[
    "read-hv-image",
    "write-hv-image",
    "write-hv-tables",
    "exec-hv-code",
    "read-victim-ram",
    "write-victim-ram",
    "read-gicd",
    "write-uart",
    "read-null",
    "read-beyond-own-memory",
    "mrs-sctlr-el1",
    "msr-sctlr-el1",
    "mrs-ttbr0-el2",
    "msr-hcr-el2",
    "hvc",
    "smc",
    "mask-irqs",
    "dc-civac",
    "tlbi",
];

pub(super) fn cases() -> Vec<Case> {
    let t = Duration::from_secs;
    vec![
        Case {
            name: "lwvm_pingpong_vm_and_lwvm_one_cpu",
            system: "lwvm-pingpong",
            mode: Mode::Telemetry,
            features: "lwvm",
            input: &[],
            timeout: t(120),
            pass: &["ping", "lw-pong"],
            expect: &[
                ("ping", "round-trips", "1000"),
                ("lw-pong", "answers", "1000"),
                ("lw-pong", "fp-clean-at-entry", "yes"),
            ],
            check: check_exits(&["lw-pong"]),
        },
        Case {
            name: "lwvm_checksum_service_for_a_vm",
            system: "lwvm-csum",
            mode: Mode::Telemetry,
            features: "lwvm",
            input: &[],
            timeout: t(120),
            pass: &["client", "lw-csum"],
            expect: &[
                ("client", "checksums-ok", "100"),
                ("client", "checksums-bad", "0"),
                ("client", "oversize", "refused"),
                ("client", "quit", "acked"),
                ("lw-csum", "served", "100"),
                ("lw-csum", "refused", "1"),
            ],
            check: check_exits(&["lw-csum"]),
        },
        Case {
            name: "lwvm_attacker_contained",
            system: "lwvm-attacker",
            mode: Mode::Telemetry,
            features: "lwvm",
            input: &[],
            timeout: t(180),
            pass: &["lw-attacker", "victim"],
            expect: &[
                ("victim", "victim-intact", "yes"),
                ("victim", "victim-foreign-irqs", "0"),
                ("victim", "victim-done-irqs", "1"),
                ("lw-attacker", "lives", "20"),
                ("lw-attacker", "write-from-hv-memory", "refused"),
                ("lw-attacker", "raise-foreign-channel", "refused"),
                ("lw-attacker", "svc-imm-1", "refused"),
            ],
            check: check_attacker,
        },
        Case {
            name: "lwvm_mixed_schedule_two_vms_two_lwvms_one_cpu",
            system: "lwvm-mixed",
            mode: Mode::Telemetry,
            features: "lwvm",
            input: &[],
            timeout: t(180),
            pass: &["client", "ping", "lw-pong", "lw-csum"],
            expect: &[
                ("ping", "round-trips", "1000"),
                ("lw-pong", "answers", "1000"),
                ("client", "checksums-ok", "100"),
                ("lw-csum", "served", "100"),
            ],
            check: check_exits(&["lw-pong", "lw-csum"]),
        },
        Case {
            name: "lwvm_fp_state_isolated",
            system: "lwvm-fp",
            mode: Mode::Telemetry,
            features: "lwvm",
            input: &[],
            timeout: t(120),
            pass: &["fp-secret", "lw-fp"],
            expect: &[
                ("lw-fp", "fp-clean-at-entry", "yes"),
                ("lw-fp", "fp-own-preserved", "yes"),
                ("fp-secret", "fp-preserved", "yes"),
            ],
            check: no_check,
        },
        Case {
            name: "lwvm_plain_text_console",
            system: "lwvm-pingpong",
            mode: Mode::Plain,
            features: "lwvm",
            input: &[],
            timeout: t(120),
            pass: &["ping", "lw-pong"],
            expect: &[("lw-pong", "answers", "1000")],
            check: no_check,
        },
    ]
}

/// Checks that the named lwVMs ended with `exit 0`, never a fault.
fn check_exits(lwvms: &'static [&'static str]) -> fn(&RunView) -> Result<()> {
    match lwvms {
        ["lw-pong"] => |v| exits(v, &["lw-pong"]),
        ["lw-csum"] => |v| exits(v, &["lw-csum"]),
        _ => |v| exits(v, &["lw-pong", "lw-csum"]),
    }
}

/// Each of `lwvms` ended with `exit 0` and the hypervisor logged no fault of it.
pub(super) fn exits(v: &RunView, lwvms: &[&str]) -> Result<()> {
    for lw in lwvms {
        let exit = format!("lwvm {lw}: exit 0");
        if !v.log.iter().any(|l| l.contains(&exit)) {
            bail!("the hypervisor did not log {exit:?}: {:?}", v.log);
        }
        if let Some(f) = v
            .log
            .iter()
            .find(|l| l.starts_with(&format!("lwvm {lw}: ")) && l.contains(" at pc "))
        {
            bail!("lwvm {lw} faulted: {f}");
        }
    }
    Ok(())
}

fn check_attacker(v: &RunView) -> Result<()> {
    let lines = v.lines("lw-attacker");
    let leaked: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("LEAKED") || l.contains("ACCEPTED"))
        .collect();
    if !leaked.is_empty() {
        bail!("the attacker got through: {leaked:?}");
    }
    for p in PROBES {
        if v.result("lw-attacker", p) != Some("killed") {
            bail!("probe {p} was not reported killed");
        }
    }
    // The hypervisor logged one fault and restart per probe, and lived on.
    let restarts: Vec<&String> = v
        .log
        .iter()
        .filter(|l| l.starts_with("lwvm lw-attacker: ") && l.contains("; restart "))
        .collect();
    if restarts.len() != PROBES.len() {
        bail!(
            "{} restarts logged for {} probes: {restarts:?}",
            restarts.len(),
            PROBES.len()
        );
    }
    if !v.log.iter().any(|l| l.contains("lwvm lw-attacker: exit 0")) {
        bail!("the attacker's last life did not exit cleanly");
    }
    Ok(())
}

/// An image with the `lwvm` feature on a CPU without VHE (Cortex-A57, ARMv8.0) prints
/// one clear fatal line and powers off instead of hanging.
pub(super) fn without_vhe(tc: &Toolchain) -> Result<()> {
    let spec = SystemSpec::new("qemu-virt", "lwvm-pingpong", "lwvm").plain();
    let img = firmware::build_hv(tc, &spec)?;
    let mut cmd = qemu::base_command(&img);
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut fixed = std::process::Command::new(cmd.get_program());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        fixed.arg(a);
        if a == "-cpu" {
            it.next();
            fixed.arg("cortex-a57");
        }
    }
    cmd = fixed;
    let o = qemu::run_bounded(cmd, Duration::from_secs(60), None)?;
    let fatal = "hv: FATAL: this image runs with HCR_EL2.E2H=1 (feature `lwvm`) but the CPU lacks ARMv8.1 VHE";
    if !o.output.contains(fatal) {
        bail!("no fatal VHE line; output: {}", o.output);
    }
    match o.status {
        Some(0) => Ok(()),
        s => bail!("QEMU did not power off cleanly ({s:?})"),
    }
}
