//! `cargo xtask test`: host unit tests, then QEMU integration tests.
//!
//! Each integration case boots a real system image under QEMU with a deadline (a hang
//! fails the case, it never stalls the run). Most cases are judged through the telemetry
//! stream (default features: frames on the UART, decoded by the monitor library): the
//! VMs' console lines, VM exits, the hypervisor's counters. Test guests report machine-
//! checkable `RESULT <key> <value>` lines (guests/README.md) and finish with
//! `RESULT status pass`; the hypervisor powers the machine off when the last VM ends, so
//! a clean run exits 0. A few cases run the plain-text image (no telemetry) so that mode
//! stays tested too.
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::firmware::{self, SystemSpec};
use crate::toolchain::Toolchain;
use crate::{itest_telemetry, monitor, qemu};

/// How a case's output is collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Default image: telemetry frames on the UART, decoded.
    Telemetry,
    /// `--no-default-features`: tagged text lines on the UART.
    Plain,
}

/// What a run produced, whichever the mode.
pub struct RunView {
    /// Console lines per VM.
    pub consoles: BTreeMap<String, Vec<String>>,
    /// The hypervisor's own lines.
    pub log: Vec<String>,
    /// QEMU's exit status (None: killed at the deadline).
    pub status: Option<i32>,
    /// Telemetry problems (drops, losses, decode errors), empty in plain mode.
    pub stream_problems: Option<String>,
    /// Console records that arrived before their line ended, per VM (telemetry mode).
    pub partials: BTreeMap<String, Vec<String>>,
    /// `Elastic` records (VM, pool, from, to), in order (telemetry mode).
    pub elastic: Vec<(String, u16, u32, u32)>,
    /// `Migrated` records (vCPU, from CPU, to CPU, cause), in time order (telemetry mode).
    pub migrations: Vec<(u16, u16, u16, &'static str)>,
    /// `Shadow` records per (lwVM, operation) (telemetry mode).
    pub shadow: BTreeMap<(String, &'static str), u64>,
}

impl RunView {
    fn lines(&self, vm: &str) -> &[String] {
        self.consoles.get(vm).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The value of `RESULT <key> <value>` printed by `vm`.
    fn result(&self, vm: &str, key: &str) -> Option<&str> {
        let prefix = format!("RESULT {key} ");
        self.lines(vm)
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }
}

// The lightweight-VM cases (feature `lwvm`), in their own file.
#[path = "itest_lwvm.rs"]
mod lwvm_cases;

// The shadow-paging cases (feature `shadow-paging`).
#[path = "itest_shadow.rs"]
mod shadow_cases;

// The ballooning cases (feature `balloon`).
#[path = "itest_balloon.rs"]
mod balloon_cases;

// The big.LITTLE switching cases (feature `big-little`).
#[path = "itest_biglittle.rs"]
mod biglittle_cases;

/// One QEMU integration test.
struct Case {
    name: &'static str,
    system: &'static str,
    mode: Mode,
    /// Cargo features of the hypervisor image (e.g. "lwvm"), comma separated.
    features: &'static str,
    timeout: Duration,
    /// Every VM that must end with `RESULT status pass`.
    pass: &'static [&'static str],
    /// Typed on the console (plain mode): (wait for this output, then send this).
    input: &'static [(&'static str, &'static str)],
    /// (vm, key, value) RESULT lines that must be printed.
    expect: &'static [(&'static str, &'static str, &'static str)],
    /// Further checks.
    check: fn(&RunView) -> Result<()>,
}

fn no_check(_: &RunView) -> Result<()> {
    Ok(())
}

fn cases() -> Vec<Case> {
    let t = Duration::from_secs;
    vec![
        Case {
            name: "hello_plain_text_console",
            system: "hello",
            mode: Mode::Plain,
            features: "",
            input: &[],
            timeout: t(60),
            pass: &[],
            expect: &[],
            check: check_hello,
        },
        Case {
            name: "pingpong_two_vms_one_cpu",
            system: "pingpong",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["ping", "pong"],
            expect: &[("ping", "round-trips", "1000"), ("pong", "answers", "1000")],
            check: no_check,
        },
        Case {
            name: "smp_ipi_psci_and_sgis",
            system: "smp-ipi",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["smp-ipi"],
            expect: &[
                ("smp-ipi", "cpu-on", "0"),
                ("smp-ipi", "cpu-on-self", "-4"),
                ("smp-ipi", "cpu-on-nonexistent", "-2"),
                ("smp-ipi", "sgis-received-vcpu0", "100"),
                ("smp-ipi", "sgis-received-vcpu1", "100"),
                ("smp-ipi", "affinity-after-off", "1"),
            ],
            check: no_check,
        },
        Case {
            name: "timer_wakes_wfi",
            system: "timer",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["timer"],
            expect: &[
                ("timer", "timer-spin-irq", "yes"),
                ("timer", "timer-irqs", "10"),
                ("timer", "timer-early", "0"),
            ],
            check: no_check,
        },
        Case {
            name: "ptimer_two_vms_one_cpu",
            system: "ptimer",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["pt-a", "pt-b"],
            expect: &[
                ("pt-a", "ptimer-irqs", "10"),
                ("pt-a", "ptimer-early", "0"),
                ("pt-a", "ptimer-istatus", "10"),
                ("pt-a", "ptimer-cval", "ok"),
                ("pt-b", "ptimer-irqs", "10"),
                ("pt-b", "ptimer-early", "0"),
                ("pt-b", "ptimer-istatus", "10"),
                ("pt-b", "ptimer-cval", "ok"),
            ],
            check: no_check,
        },
        Case {
            name: "aarch32_el0_task_takes_interrupts",
            system: "a32-task",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["a32"],
            expect: &[
                ("a32", "el0-aarch32", "shown"),
                ("a32", "a32-irqs", "taken"),
                ("a32", "a32-svcs", "taken"),
                ("a32", "a32-progress", "yes"),
                ("a32", "other-exceptions", "0"),
            ],
            check: no_check,
        },
        Case {
            name: "debug_step_and_breakpoint_in_a_shared_cpu",
            system: "debug-step",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["step"],
            expect: &[
                ("step", "breakpoint", "taken"),
                ("step", "stepped", "60000"),
                ("step", "step-bad-pc", "0"),
            ],
            check: check_debug_step,
        },
        Case {
            name: "console_prompt_shown_before_newline",
            system: "prompt",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["prompt"],
            expect: &[],
            check: check_prompt,
        },
        Case {
            name: "lr_overflow_all_delivered",
            system: "lr-overflow",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["lr-overflow"],
            expect: &[
                ("lr-overflow", "phase1-delivered", "8"),
                ("lr-overflow", "phase1-duplicates", "0"),
                ("lr-overflow", "phase2-delivered", "16"),
                ("lr-overflow", "phase2-priority-order", "ok"),
            ],
            check: no_check,
        },
        Case {
            name: "shm_producer_consumer",
            system: "shm",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["producer", "consumer"],
            expect: &[
                ("producer", "records-written", "1000"),
                ("consumer", "records-verified", "1000"),
                ("consumer", "ro-write", "fault"),
                ("consumer", "ro-data-unchanged", "yes"),
            ],
            check: no_check,
        },
        Case {
            name: "reflect_device_emulated_by_vm",
            system: "reflect",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["client", "driver"],
            expect: &[
                ("client", "counter", "0,1,2"),
                ("client", "bad-register", "abort"),
                ("driver", "fetch-empty", "-5"),
                ("driver", "complete-forged", "refused"),
            ],
            check: no_check,
        },
        Case {
            name: "reflect_bounded_when_nobody_answers",
            system: "reflect-stranded",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["client"],
            expect: &[
                ("client", "silent-access", "abort"),
                ("client", "silent-wait", "bounded"),
                ("client", "orphan-access", "abort"),
                ("client", "orphan-wait", "prompt"),
            ],
            check: no_check,
        },
        Case {
            name: "attacker_contained",
            system: "attacker",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(180),
            pass: &["attacker", "victim"],
            expect: &[
                ("victim", "victim-intact", "yes"),
                ("attacker", "ram-sweep", "fault"),
            ],
            check: check_attacker,
        },
        Case {
            name: "regs_isolated_same_cpu",
            system: "regs-same-cpu",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["regs-victim", "regs-attacker"],
            expect: REGS_EXPECT,
            check: check_regs,
        },
        Case {
            name: "pmu_virtual_isolated_same_cpu",
            system: "pmu-same-cpu",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["pmu-victim", "pmu-attacker"],
            expect: PMU_EXPECT,
            check: check_pmu,
        },
        Case {
            name: "slots_time_partitioning",
            system: "slots",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(120),
            pass: &["a", "b"],
            expect: &[],
            check: check_slots,
        },
        Case {
            name: "fdt_probe_elf_and_raw",
            system: "fdt-probe",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(60),
            pass: &["fdt-elf", "fdt-raw"],
            expect: &[
                ("fdt-elf", "start", "0x40000000"),
                ("fdt-elf", "fdt", "ok"),
                ("fdt-elf", "memory", "0x40000000+0x1000000"),
                ("fdt-elf", "model", "qemu-virt vm fdt-elf"),
                ("fdt-elf", "cpus", "1"),
                ("fdt-raw", "start", "0x40080000"),
                ("fdt-raw", "fdt", "ok"),
                ("fdt-raw", "memory", "0x40000000+0x2000000"),
                ("fdt-raw", "model", "qemu-virt vm fdt-raw"),
                ("fdt-raw", "cpus", "2"),
            ],
            check: no_check,
        },
        Case {
            name: "passthrough_blk_bare_metal",
            system: "passthrough-blk",
            mode: Mode::Telemetry,
            features: "",
            input: &[],
            timeout: t(60),
            pass: &["blk"],
            expect: &[
                ("blk", "slot", "0xa003e00"),
                ("blk", "intid", "79"),
                ("blk", "magic", "0x74726976"),
                ("blk", "device-id", "2"),
                ("blk", "req-status", "0"),
                ("blk", "ext2-magic", "0xef53"),
                ("blk", "label", "hvdisk"),
                ("blk", "interrupts", "2"),
            ],
            check: no_check,
        },
        Case {
            name: "passthrough_linux_reads_its_disk",
            system: "passthrough-linux",
            mode: Mode::Plain,
            features: "",
            input: &[],
            timeout: t(300),
            pass: &[],
            expect: &[],
            check: check_passthrough_linux,
        },
        Case {
            name: "linux_duo_smp_linux_beside_heartbeat",
            system: "linux-duo",
            mode: Mode::Plain,
            features: "",
            input: &[],
            timeout: t(300),
            pass: &["heartbeat"],
            expect: &[
                ("heartbeat", "watched-off-seen", "yes"),
                ("heartbeat", "vcpu1-beating", "yes"),
            ],
            check: check_linux_duo,
        },
        Case {
            name: "linux_pair_time_sliced_one_cpu",
            system: "linux-pair",
            mode: Mode::Plain,
            features: "",
            input: &[],
            timeout: t(420),
            pass: &[],
            expect: &[],
            check: check_linux_pair,
        },
        Case {
            name: "linux_shell_console_input",
            system: "linux-shell",
            mode: Mode::Plain,
            features: "",
            input: &[
                ("interactive shell", "echo typed-$((6*7))\n"),
                ("typed-42", "poweroff -f\n"),
            ],
            timeout: t(300),
            pass: &[],
            expect: &[],
            check: check_linux_shell,
        },
    ]
}

fn check_hello(v: &RunView) -> Result<()> {
    let lines = v.lines("hello");
    for w in [
        "Hello from a VM at EL1 with stage-2 translation on",
        "PSCI version 1.1",
        "hello: done",
    ] {
        if !lines.iter().any(|l| l == w) {
            bail!("VM `hello` did not print {w:?}; it printed {lines:?}");
        }
    }
    if !v.log.iter().any(|l| l.contains("vm hello: powered off")) {
        bail!("the hypervisor did not report the VM's power-off");
    }
    Ok(())
}

fn check_attacker(v: &RunView) -> Result<()> {
    let leaked: Vec<&String> = v
        .lines("attacker")
        .iter()
        .filter(|l| l.contains("LEAKED") || l.contains("ACCEPTED"))
        .collect();
    if !leaked.is_empty() {
        bail!("the attacker got through: {leaked:?}");
    }
    Ok(())
}

/// Two VMs with their own PMU on one CPU (`pmu-same-cpu`): the attacker finds its PMU in
/// its reset state, none of the victim's set-up; each gets its own back; the victim's
/// counters stood still while it did not run and never counted EL2.
const PMU_EXPECT: &[(&str, &str, &str)] = &[
    ("pmu-victim", "pmu-version-visible", "yes"),
    ("pmu-victim", "victim-pmu-kept", "yes"),
    ("pmu-attacker", "pmu-regs", "clean"),
    ("pmu-attacker", "pmu-reset-state", "yes"),
    ("pmu-attacker", "attacker-pmu-kept", "yes"),
    ("pmu-attacker", "pmu-overflow-irqs", "5"),
    ("pmu-attacker", "pmu-spurious-irqs", "0"),
];

/// What `regs-attacker` must see on the victim's CPU (guests/README.md): none of the
/// victim's register values, the reset state, hidden features hidden.
const REGS_EXPECT: &[(&str, &str, &str)] = &[
    ("regs-victim", "victim-state-kept", "yes"),
    ("regs-attacker", "attacker-state-kept", "yes"),
    ("regs-attacker", "fp-q0-q31", "clean"),
    ("regs-attacker", "fpcr-fpsr", "clean"),
    ("regs-attacker", "pauth-keys", "clean"),
    ("regs-attacker", "tpidr", "clean"),
    ("regs-attacker", "contextidr", "clean"),
    ("regs-attacker", "el1-regs", "clean"),
    ("regs-attacker", "debug-comparators", "clean"),
    ("regs-attacker", "mdscr", "clean"),
    ("regs-attacker", "id-sve", "0"),
    ("regs-attacker", "id-sme", "0"),
    ("regs-attacker", "id-mte", "0"),
    ("regs-attacker", "id-pmu", "0"),
    ("regs-attacker", "id-ras", "0"),
    ("regs-attacker", "id-amu", "0"),
    ("regs-attacker", "id-spe", "0"),
    ("regs-attacker", "id-trace", "0"),
    ("regs-attacker", "id-el1-aarch32", "0"),
    ("regs-attacker", "id-zfr0-smfr0", "0x0"),
    ("regs-attacker", "id-unallocated", "0x0"),
    ("regs-attacker", "sve-access", "undefined"),
    ("regs-attacker", "zcr-access", "undefined"),
    ("regs-attacker", "sme-smstart", "undefined"),
    ("regs-attacker", "pmu-pmcr", "undefined"),
    ("regs-attacker", "pmu-pmccntr", "undefined"),
    ("regs-attacker", "mte-tfsr", "undefined"),
    ("regs-attacker", "ras-erridr", "undefined"),
    ("regs-attacker", "amu-amcr", "undefined"),
    ("regs-attacker", "impdef-reg", "undefined"),
    ("regs-attacker", "scxtnum", "undefined"),
    ("regs-attacker", "debug-beyond-brps", "undefined"),
    ("regs-attacker", "actlr", "0x0"),
    ("regs-attacker", "set-way", "completed"),
    ("regs-attacker", "oslsr-oslm", "1"),
    ("regs-attacker", "call-count-smc64", "-1"),
    ("regs-attacker", "call-count-smc32", "positive"),
];

fn check_regs(v: &RunView) -> Result<()> {
    // TPIDR2_EL0 exists only where the CPU has SME: either undefined or clean.
    match v.result("regs-attacker", "tpidr2") {
        Some("clean") | Some("undefined") => {}
        other => bail!("regs-attacker: tpidr2 is {other:?}, want clean or undefined"),
    }
    let bad: Vec<&String> = v
        .lines("regs-attacker")
        .iter()
        .filter(|l| l.contains("LEAKED") || l.contains("ACCEPTED") || l.contains("not-reset"))
        .collect();
    if !bad.is_empty() {
        bail!("registers leaked between VMs on one CPU: {bad:?}");
    }
    Ok(())
}

/// The victim's cycle counters while it slept: counting (its own few instructions around
/// the WFI), far below the attacker's loop in between (they stood still while it did not
/// run), and the one asking to count EL2 (NSH) no further than the other — with EL2
/// counted it runs ahead by the hypervisor's work, ~17× here.
fn check_pmu(v: &RunView) -> Result<()> {
    let num = |vm: &str, key: &str| -> Result<u64> {
        v.result(vm, key)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{vm}: no numeric RESULT {key}"))
    };
    let asleep = num("pmu-victim", "asleep-cycles")?;
    let nsh = num("pmu-victim", "asleep-cycles-nsh")?;
    let others = num("pmu-attacker", "loop-cycles")?;
    if asleep == 0 {
        bail!("the victim's cycle counter did not count");
    }
    if asleep * 4 > others {
        bail!(
            "the victim's counter ran while it did not: {asleep} cycles asleep, the attacker's loop took {others}"
        );
    }
    if nsh > asleep + asleep / 4 + 5_000 {
        bail!("the victim's counter counted EL2: {nsh} cycles with NSH, {asleep} without");
    }
    Ok(())
}

fn check_linux_pair(v: &RunView) -> Result<()> {
    // Two kernels share CPU 0 in 2 ms slots: each must boot, run the workload (its
    // checksum right) and power off by itself — none crashed on the other's pointer-auth
    // keys, FP/SIMD or thread registers.
    for vm in ["linux-a", "linux-b"] {
        let lines = v.lines(vm);
        for w in ["LINUX-GUEST: init started", "LINUX-GUEST: workload done"] {
            if !lines.iter().any(|l| l.contains(w)) {
                bail!(
                    "VM `{vm}` did not print {w:?}; last lines: {:?}",
                    tail(lines)
                );
            }
        }
        if !lines
            .iter()
            .any(|l| l.starts_with("LINUX-GUEST: sha256 ok"))
        {
            bail!("VM `{vm}`: the workload's checksum is wrong or missing");
        }
        // Each kernel found the PMU of its own (`pmu = "virtual"`) and probed it.
        if !lines.iter().any(|l| l == "LINUX-GUEST: pmus 1") {
            bail!(
                "VM `{vm}` did not probe its PMU; last lines: {:?}",
                tail(lines)
            );
        }
        if !v
            .log
            .iter()
            .any(|l| l.contains(&format!("vm {vm}: powered off")))
        {
            bail!("VM `{vm}` did not power off: {:?}", v.log);
        }
    }
    Ok(())
}

fn tail(lines: &[String]) -> &[String] {
    &lines[lines.len().saturating_sub(10)..]
}

fn check_passthrough_linux(v: &RunView) -> Result<()> {
    let want = format!("LINUX-GUEST: disk file: {}", qemu::DISK_TEXT.trim_end());
    let lines = v.lines("linux");
    if !lines.iter().any(|l| l.trim() == want) {
        bail!("no `{want}` line; last lines: {:?}", tail(lines));
    }
    if !lines
        .iter()
        .any(|l| l.contains("LINUX-GUEST: powering off"))
        || v.status != Some(0)
    {
        bail!(
            "Linux did not power off cleanly (QEMU status {:?})",
            v.status
        );
    }
    Ok(())
}

fn check_linux_shell(v: &RunView) -> Result<()> {
    // 6 * 7 is computed by the shell: the line can only come from typed input.
    if !v.lines("linux").iter().any(|l| l.trim() == "typed-42") {
        bail!(
            "the shell did not answer typed input: {:?}",
            v.lines("linux").iter().rev().take(10).collect::<Vec<_>>()
        );
    }
    Ok(())
}

fn check_prompt(v: &RunView) -> Result<()> {
    // The prompt went out while the VM waited (its CPU idled), before the line ended; the
    // whole line is still one console line.
    let sent_early = v
        .partials
        .get("prompt")
        .is_some_and(|p| p.iter().any(|t| t.contains("prompt> ")));
    if !sent_early {
        bail!(
            "the prompt reached the monitor only with its line's end: {:?}",
            v.partials
        );
    }
    if !v.lines("prompt").iter().any(|l| l == "prompt> answered") {
        bail!("the line was not reassembled: {:?}", v.lines("prompt"));
    }
    Ok(())
}

fn check_debug_step(v: &RunView) -> Result<()> {
    // The steps must straddle world switches, or the case proves nothing about them.
    let n: u32 = v
        .result("step", "step-switched-out")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    if n < 3 {
        bail!(
            "the stepped task was switched out {n} times while stepping; the slots should interleave it"
        );
    }
    Ok(())
}

fn check_slots(v: &RunView) -> Result<()> {
    // Two VMs that never wait share one CPU: only the slot table lets both run, each
    // preempted at every slot boundary while the other is alive.
    for vm in ["a", "b"] {
        let n: u32 = v
            .result(vm, "preemptions")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if n < 3 {
            bail!("VM `{vm}` was preempted {n} times; the slot table should interleave both");
        }
    }
    Ok(())
}

fn check_linux_duo(v: &RunView) -> Result<()> {
    let linux = v.lines("linux");
    for w in [
        "LINUX-GUEST: init started",
        "LINUX-GUEST: cpus online 0-1",
        "LINUX-GUEST: workload done",
    ] {
        if !linux.iter().any(|l| l.contains(w)) {
            bail!("Linux did not print {w:?}");
        }
    }
    if !linux
        .iter()
        .any(|l| l.starts_with("LINUX-GUEST: sha256 ok"))
    {
        bail!("the Linux workload's checksum is wrong or missing");
    }
    // The heartbeat kept going while Linux booted and after it powered off.
    let beats = v
        .lines("heartbeat")
        .iter()
        .filter(|l| l.starts_with("heartbeat "))
        .count();
    if beats < 5 {
        bail!("only {beats} heartbeats");
    }
    let log = v.log.join("\n");
    let (linux_off, hb_off) = (
        log.find("vm linux: powered off"),
        log.find("vm heartbeat: powered off"),
    );
    match (linux_off, hb_off) {
        (Some(a), Some(b)) if a < b => Ok(()),
        _ => bail!("expected Linux to power off before the heartbeat VM: {log}"),
    }
}

fn judge(case: &Case, v: &RunView) -> Result<()> {
    if let Some(p) = &v.stream_problems {
        bail!("telemetry stream not clean: {p}");
    }
    if v.log.iter().any(|l| l.contains("FATAL")) {
        bail!("hypervisor failure: {:?}", v.log);
    }
    for vm in case.pass {
        match v.result(vm, "status") {
            Some("pass") => {}
            other => bail!("VM `{vm}` did not pass: status {other:?}"),
        }
    }
    for (vm, key, want) in case.expect {
        match v.result(vm, key) {
            Some(got) if got == *want => {}
            got => bail!("VM `{vm}`: RESULT {key} is {got:?}, expected {want:?}"),
        }
    }
    (case.check)(v)?;
    match v.status {
        Some(0) => Ok(()),
        Some(c) => bail!("QEMU exited with status {c}"),
        None => bail!("no power-off within {:?} (killed)", case.timeout),
    }
}

/// Splits plain-mode output into tagged VM lines and hypervisor lines.
fn parse_plain(out: &str) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut consoles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut log = Vec::new();
    for l in out.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some((vm, line)) = l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            consoles
                .entry(vm.to_string())
                .or_default()
                .push(line.to_string());
            continue;
        }
        if let Some(line) = l.strip_prefix("hv: ") {
            log.push(line.to_string());
        }
    }
    (consoles, log)
}

fn run_case(tc: &Toolchain, case: &Case, extra_features: &str) -> Result<()> {
    let features = case.features.split(',').chain(extra_features.split(','));
    let mut features: Vec<&str> = features.map(str::trim).filter(|f| !f.is_empty()).collect();
    features.sort();
    features.dedup();
    let mut spec = SystemSpec::new("qemu-virt", case.system, &features.join(","));
    if case.mode == Mode::Plain {
        spec = spec.plain();
    }
    firmware::fetch_payloads(&spec)?;
    let img = firmware::build_hv(tc, &spec)?;
    let view = match case.mode {
        Mode::Plain => {
            let o = qemu::run_scripted(qemu::base_command(&img), case.timeout, None, case.input)?;
            let (consoles, log) = parse_plain(&o.output);
            RunView {
                consoles,
                log,
                status: o.status,
                stream_problems: None,
                partials: BTreeMap::new(),
                elastic: Vec::new(),
                migrations: Vec::new(),
                shadow: BTreeMap::new(),
            }
        }
        Mode::Telemetry => {
            let r = monitor::decode_run(&img, case.timeout)?;
            let problems = (!r.clean()).then(|| r.summary.clone());
            RunView {
                consoles: r.consoles,
                log: r.log,
                status: r.status,
                stream_problems: problems,
                partials: r.partials,
                elastic: r.elastic,
                migrations: r.migrations,
                shadow: r.shadow,
            }
        }
    };
    judge(case, &view).map_err(|e| {
        let mut tail = Vec::new();
        for (vm, lines) in &view.consoles {
            for l in lines.iter().rev().take(6).rev() {
                tail.push(format!("[{vm}] {l}"));
            }
        }
        tail.extend(
            view.log
                .iter()
                .rev()
                .take(6)
                .rev()
                .map(|l| format!("hv: {l}")),
        );
        e.context(format!(
            "output (last lines per source):\n      {}",
            tail.join("\n      ")
        ))
    })
}

/// Runs the whole suite; prints one line per case and the totals. `features` are added
/// to every case's image (`--features lwvm`: the suite under E2H=1).
pub fn run_all(filter: Option<&str>, unit: bool, features: &str) -> Result<()> {
    let (mut passed, mut failed) = (0usize, 0usize);
    if unit {
        let (p, f) = unit_tests()?;
        passed += p;
        failed += f;
    }
    qemu::ensure_installed()?;
    let tc = Toolchain::detect_or_install()?;
    eprintln!("xtask: {tc}");
    firmware::build_guests(&tc)?;
    let selected = |name: &str| filter.is_none_or(|f| name.contains(f));
    let mut record = |name: &str, r: Result<()>| match r {
        Ok(()) => {
            println!("test qemu::{name} ... ok");
            passed += 1;
        }
        Err(e) => {
            println!("test qemu::{name} ... FAILED\n    {e:#}");
            failed += 1;
        }
    };
    for case in cases()
        .into_iter()
        .chain(lwvm_cases::cases())
        .chain(balloon_cases::cases())
        .chain(biglittle_cases::cases())
        .chain(shadow_cases::cases())
        .filter(|c| selected(c.name))
    {
        record(case.name, run_case(&tc, &case, features));
    }
    if selected("lwvm_without_vhe_refused") {
        record("lwvm_without_vhe_refused", lwvm_cases::without_vhe(&tc));
    }
    // Linux without the hypervisor: the baseline boots, and an unmodified kernel accepts
    // the device tree the configuration toolkit generates.
    if selected("linux_native_with_generated_dtb") {
        let r = crate::linux::check_generated_dtb().and_then(|b| {
            if b.output.contains("Machine model: qemu-virt vm linux") {
                Ok(())
            } else {
                bail!("the kernel did not use the generated device tree")
            }
        });
        record("linux_native_with_generated_dtb", r);
    }
    for case in itest_telemetry::cases()
        .into_iter()
        .filter(|c| selected(c.name))
    {
        let r = firmware::build_hv(
            &tc,
            &SystemSpec::new("qemu-virt", case.system, case.features),
        )
        .and_then(|img| case.run(&img));
        record(case.name, r);
    }
    // Every system of the board is built and certified (docs/CERTIFICATE.md), and the
    // checker rejects mutated images, naming the property each breaks.
    for (label, r) in crate::certify::test_cases(&tc, selected)? {
        let name = format!("certify::{label}");
        let r = r.map(|t| eprintln!("    {name}: checked in {:.0} ms", t.as_secs_f64() * 1e3));
        record(&name, r);
    }
    if selected("certify_rejects_mutations") {
        let r = mutation_case(&tc);
        record("certify_rejects_mutations", r);
    }
    if selected("experiments_smoke") {
        record("experiments_smoke", crate::experiment::smoke());
    }
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} test(s) failed");
    }
    Ok(())
}

/// Mutations of four linked images (E2H=0 with two owned SPIs; E2H=1 with an lwVM; a
/// device passed through to one of two VMs; an elastic pool of two holders).
fn mutation_case(tc: &Toolchain) -> Result<()> {
    let spec = SystemSpec::new("qemu-virt", "owned-irqs", "");
    let img = firmware::build_hv(tc, &spec)?;
    crate::certify::check_mutations(
        &img.elf,
        &[
            "stage2-output-into-another-vm",
            "el2-page-writable-and-executable",
            "gicd-mapped-into-a-vm",
            "two-vms-one-spi",
            "tables-writable-at-el2",
        ],
    )?;
    let dev = SystemSpec::new("qemu-virt", "passthrough-blk", "");
    let img = firmware::build_hv(tc, &dev)?;
    crate::certify::check_mutations(&img.elf, &["device-page-in-two-vms"])?;
    let lw = SystemSpec::new("qemu-virt", "lwvm-pingpong", "lwvm");
    let img = firmware::build_hv(tc, &lw)?;
    crate::certify::check_mutations(
        &img.elf,
        &[
            "el2-page-writable-and-executable",
            "tables-writable-at-el2",
            "gicd-mapped-into-a-vm",
        ],
    )?;
    let bl = SystemSpec::new("qemu-virt", "balloon", "balloon");
    let img = firmware::build_hv(tc, &bl)?;
    crate::certify::check_mutations(&img.elf, &["elastic-set-reaches-the-other-holder"])
}

/// Host unit tests of the workspace's host crates; returns (passed, failed). The image
/// (`hv`) and the arch glue (`hv-arch`) are among them: on the host they build against
/// hv-arch's simulated machine, where `hv`'s tests run the run loop.
fn unit_tests() -> Result<(usize, usize)> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::paths::root())
        .args(["test", "--workspace"])
        .args(guest_excludes()?)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let (mut passed, mut failed) = (0, 0);
    for l in stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: "))
    {
        passed += number_before(l, " passed");
        failed += number_before(l, " failed");
    }
    if !out.status.success() && failed == 0 {
        bail!("host unit tests did not build or run ({})", out.status);
    }
    Ok((passed, failed))
}

/// `--exclude` arguments for the firmware-only guest crates.
fn guest_excludes() -> Result<Vec<String>> {
    let mut args = vec!["--exclude".to_string(), "guest-rt".to_string()];
    for p in firmware::guest_packages()? {
        args.push("--exclude".into());
        args.push(p);
    }
    Ok(args)
}

fn number_before(s: &str, word: &str) -> usize {
    s.find(word)
        .and_then(|i| s[..i].rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
