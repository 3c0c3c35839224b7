//! `cargo xtask test`: host unit tests, then QEMU integration tests.
//!
//! Each integration case boots a real system image under QEMU with a deadline (a hang
//! fails the case, it never stalls the run) and judges the run by what the hypervisor
//! reported: the tagged console lines and QEMU's exit status (the hypervisor powers the
//! machine off through PSCI when its last VM ends, so a clean run exits 0).
use std::process::Command;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::firmware::{self, SystemImage, SystemSpec};
use crate::qemu::{self, Outcome};
use crate::toolchain::Toolchain;

/// One QEMU integration test.
struct Case {
    name: &'static str,
    system: &'static str,
    features: &'static str,
    timeout: Duration,
    check: fn(&Outcome) -> Result<()>,
}

fn cases() -> Vec<Case> {
    vec![Case {
        name: "hello_boots_and_powers_off",
        system: "hello",
        features: "",
        timeout: Duration::from_secs(60),
        check: check_hello,
    }]
}

/// Lines the VM `vm` printed through its emulated UART (tagged `[vm] ` by the hypervisor).
pub fn vm_lines<'a>(out: &'a str, vm: &str) -> Vec<&'a str> {
    let tag = format!("[{vm}] ");
    out.lines().filter_map(|l| l.trim_end_matches('\r').strip_prefix(tag.as_str())).collect()
}

fn expect_exit_zero(o: &Outcome) -> Result<()> {
    match o.status {
        Some(0) => Ok(()),
        Some(c) => bail!("QEMU exited with status {c}"),
        None => bail!("no power-off within {:?} (killed)", o.elapsed),
    }
}

fn check_hello(o: &Outcome) -> Result<()> {
    let lines = vm_lines(&o.output, "hello");
    let want = ["Hello from a VM at EL1 with stage-2 translation on", "PSCI version 1.1", "hello: done"];
    for w in want {
        if !lines.contains(&w) {
            bail!("VM `hello` did not print {w:?}; it printed {lines:?}");
        }
    }
    if !o.output.contains("vm hello: powered off") {
        bail!("the hypervisor did not report the VM's power-off");
    }
    expect_exit_zero(o)
}

/// Runs the whole suite; prints one line per case and the totals.
pub fn run_all(filter: Option<&str>, unit: bool) -> Result<()> {
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
    for case in cases().into_iter().filter(|c| filter.is_none_or(|f| c.name.contains(f))) {
        let spec = SystemSpec::new("qemu-virt", case.system, case.features).plain();
        let result = firmware::build_hv(&tc, &spec)
            .and_then(|img| run_case(&case, &img));
        match result {
            Ok(()) => {
                println!("test qemu::{} ... ok", case.name);
                passed += 1;
            }
            Err(e) => {
                println!("test qemu::{} ... FAILED\n    {e:#}", case.name);
                failed += 1;
            }
        }
    }
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} test(s) failed");
    }
    Ok(())
}

fn run_case(case: &Case, img: &SystemImage) -> Result<()> {
    let o = qemu::run_bounded(qemu::base_command(img), case.timeout, None)?;
    (case.check)(&o).map_err(|e| {
        let tail: Vec<&str> = o.output.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        e.context(format!("last output:\n      {}", tail.join("\n      ")))
    })
}

/// Host unit tests of the workspace's host crates; returns (passed, failed).
fn unit_tests() -> Result<(usize, usize)> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(crate::paths::root())
        .args(["test", "--workspace", "--exclude", "hv", "--exclude", "hv-arch", "--exclude", "guest-hello", "--exclude", "guest-rt"])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let (mut passed, mut failed) = (0, 0);
    for l in stdout.lines().filter_map(|l| l.strip_prefix("test result: ")) {
        passed += number_before(l, " passed");
        failed += number_before(l, " failed");
    }
    if !out.status.success() && failed == 0 {
        bail!("host unit tests did not build or run ({})", out.status);
    }
    Ok((passed, failed))
}

fn number_before(s: &str, word: &str) -> usize {
    s.find(word)
        .and_then(|i| s[..i].rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
