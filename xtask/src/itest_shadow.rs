//! Integration cases of shadow paging (image features `lwvm,shadow-paging`): a
//! mini-kernel lwVM that builds and edits its own stage-1 tables (`shadow-mmu`, next to a
//! full VM on another CPU), and the same under a pool too small for its working set
//! (`shadow-tiny`). The programs check every access themselves and print what they saw
//! (guests/lwvm-demo/src/bin/lw-mmu.rs, lw-mmu-tiny.rs); the cases pin each value, so a
//! failure names the check.
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Case, Mode, RunView};

/// What `lw-mmu` must see: its keys and the values a correct MMU gives.
const LW_MMU: &[(&str, &str, &str)] = &[
    ("lw-mmu", "fault-handler", "installed"),
    ("lw-mmu", "sctlr-m-at-entry-off", "ok"),
    ("lw-mmu", "regs-readback", "ok"),
    ("lw-mmu", "translation-on", "ok"),
    ("lw-mmu", "alias", "ok"),
    ("lw-mmu", "ro-read", "ok"),
    ("lw-mmu", "ro-write", "permission-l3"),
    ("lw-mmu", "ro-write-wnr", "ok"),
    ("lw-mmu", "ro-intact", "ok"),
    ("lw-mmu", "unmapped-l3", "translation-l3"),
    ("lw-mmu", "unmapped-l3-write", "translation-l3"),
    ("lw-mmu", "unmapped-write-wnr", "ok"),
    ("lw-mmu", "unmapped-l2", "translation-l2"),
    ("lw-mmu", "unmapped-l1", "translation-l1"),
    ("lw-mmu", "af-clear", "access-flag-l3"),
    ("lw-mmu", "af-set", "ok"),
    ("lw-mmu", "wp-writable", "ok"),
    ("lw-mmu", "wp-write", "permission-l3"),
    ("lw-mmu", "wp-read", "ok"),
    ("lw-mmu", "wp-lifted", "ok"),
    ("lw-mmu", "unmap", "translation-l3"),
    ("lw-mmu", "unmap-other-alias", "ok"),
    ("lw-mmu", "map-again", "ok"),
    ("lw-mmu", "bbm-before", "ok"),
    ("lw-mmu", "bbm-remaps", "200"),
    ("lw-mmu", "exec", "ok"),
    ("lw-mmu", "exec-xn", "permission-l3"),
    ("lw-mmu", "exec-xn-fetch", "ok"),
    ("lw-mmu", "exec-xn-readable", "ok"),
    ("lw-mmu", "uxntable-exec", "permission"),
    ("lw-mmu", "uxntable-read", "ok"),
    ("lw-mmu", "aptable-ro-read", "ok"),
    ("lw-mmu", "aptable-ro-write", "permission"),
    ("lw-mmu", "aptable-no-el0", "permission"),
    ("lw-mmu", "aptable-intact", "ok"),
    ("lw-mmu", "block-2m-read", "ok"),
    ("lw-mmu", "block-2m-write", "permission-l2"),
    ("lw-mmu", "oa-beyond-memory", "external"),
    ("lw-mmu", "oa-beyond-memory-write", "external"),
    ("lw-mmu", "oa-board-ram", "external"),
    ("lw-mmu", "oa-board-ram-write", "external"),
    ("lw-mmu", "oa-uart-write", "external"),
    ("lw-mmu", "oa-block-beyond", "external"),
    ("lw-mmu", "table-in-board-ram", "walk-external"),
    ("lw-mmu", "table-beyond-memory", "walk-external"),
    ("lw-mmu", "l3-table-outside", "walk-external"),
    ("lw-mmu", "low-va", "translation-l1"),
    ("lw-mmu", "low-va-write", "translation-l1"),
    ("lw-mmu", "low-va-hv-image", "translation-l1"),
    ("lw-mmu", "frame-intact", "ok"),
    ("lw-mmu", "b-isolated", "translation-l3"),
    ("lw-mmu", "b-no-alias", "translation-l2"),
    ("lw-mmu", "switches", "1000"),
    ("lw-mmu", "switch-mismatches", "0"),
    ("lw-mmu", "switch-frames", "ok"),
    ("lw-mmu", "tlbi-aside1", "ok"),
    ("lw-mmu", "tlbi-aside1is", "ok"),
    ("lw-mmu", "tlbi-vae1", "ok"),
    ("lw-mmu", "tlbi-vae1is", "ok"),
    ("lw-mmu", "tlbi-vale1", "ok"),
    ("lw-mmu", "tlbi-vale1is", "ok"),
    ("lw-mmu", "tlbi-vaae1", "ok"),
    ("lw-mmu", "tlbi-vaale1", "ok"),
    ("lw-mmu", "tlbi-vmalle1", "ok"),
    ("lw-mmu", "tlbi-vmalle1is", "ok"),
    ("lw-mmu", "rotations", "100"),
    ("lw-mmu", "rotation-mismatches", "0"),
    ("lw-mmu", "mmu-off-flat", "ok"),
    ("lw-mmu", "mmu-on-again", "ok"),
    ("lw-mmu", "checks-failed", "0"),
];

/// What `lw-mmu-tiny` must see.
const LW_MMU_TINY: &[(&str, &str, &str)] = &[
    ("lw-mmu-tiny", "pages", "64"),
    ("lw-mmu-tiny", "rounds", "16"),
    ("lw-mmu-tiny", "mismatches", "0"),
    ("lw-mmu-tiny", "probe-faults", "0"),
    ("lw-mmu-tiny", "unmapped-faults", "32"),
    ("lw-mmu-tiny", "flat-mismatches", "0"),
    ("lw-mmu-tiny", "checks-failed", "0"),
];

/// The shadow-paging cases; `itest.rs` chains them with the others.
pub(super) fn cases() -> Vec<Case> {
    let t = Duration::from_secs;
    vec![
        Case {
            name: "shadow_paging_lwvm_own_tables",
            system: "shadow-mmu",
            mode: Mode::Telemetry,
            features: "lwvm,shadow-paging",
            input: &[],
            timeout: t(180),
            pass: &["lw-mmu"],
            expect: LW_MMU,
            check: check_mmu,
        },
        Case {
            name: "shadow_paging_tiny_pool",
            system: "shadow-tiny",
            mode: Mode::Telemetry,
            features: "lwvm,shadow-paging",
            input: &[],
            timeout: t(240),
            pass: &["lw-mmu-tiny"],
            expect: LW_MMU_TINY,
            check: check_tiny,
        },
        Case {
            name: "shadow_paging_two_lwvms_and_a_vm_share_one_cpu",
            system: "shadow-two",
            mode: Mode::Telemetry,
            features: "lwvm,shadow-paging",
            input: &[],
            timeout: t(300),
            pass: &["lw-mmu", "lw-mmu-tiny"],
            expect: &[
                ("lw-mmu", "checks-failed", "0"),
                ("lw-mmu", "switch-mismatches", "0"),
                ("lw-mmu-tiny", "mismatches", "0"),
                ("lw-mmu-tiny", "flat-mismatches", "0"),
                ("lw-mmu-tiny", "checks-failed", "0"),
            ],
            check: |v| {
                check_mmu(v)?;
                check_tiny(v)
            },
        },
    ]
}

/// `lw-mmu` ended with `exit 0`, the full VM beside it ran as always, and the telemetry
/// stream accounts for what the program did: at least one `switch` per address-space
/// switch it counted, a `tlbi` per break-before-make edit and two table writes for it,
/// and a delivered fault for each of the faulting checks.
fn check_mmu(v: &RunView) -> Result<()> {
    exited_cleanly(v, "lw-mmu")?;
    super::check_hello(v)?;
    let n = |op: &str| shadow_ops(v, "lw-mmu", op);
    let switches: u64 = v.result("lw-mmu", "switches").unwrap_or("0").parse()?;
    let remaps: u64 = v.result("lw-mmu", "bbm-remaps").unwrap_or("0").parse()?;
    for (op, at_least) in [
        ("switch", switches),
        ("tlbi", remaps),
        ("table_write", 2 * remaps),
        ("guest_fault", 20),
        ("fill", 1),
    ] {
        if n(op) < at_least.max(1) {
            bail!(
                "lw-mmu: {} `{op}` records, expected at least {at_least} (all: {:?})",
                n(op),
                v.shadow
            );
        }
    }
    Ok(())
}

/// The tiny pool did run out (counted flushes) and `lw-mmu-tiny` saw right values anyway.
fn check_tiny(v: &RunView) -> Result<()> {
    exited_cleanly(v, "lw-mmu-tiny")?;
    if shadow_ops(v, "lw-mmu-tiny", "flush") == 0 {
        bail!(
            "the 16K pool never ran out: no `flush` record ({:?})",
            v.shadow
        );
    }
    Ok(())
}

/// `Shadow` records of operation `op` for lwVM `lw`.
fn shadow_ops(v: &RunView, lw: &str, op: &str) -> u64 {
    let key = (lw.to_string(), op);
    v.shadow
        .iter()
        .find(|((l, o), _)| (l.as_str(), *o) == (key.0.as_str(), key.1))
        .map_or(0, |(_, &n)| n)
}

/// The lwVM ended with `exit 0`: no fault stopped it (its own faults go to its handler;
/// one outside a probe would make it exit 102) and the hypervisor logged no fault of it.
fn exited_cleanly(v: &RunView, lw: &str) -> Result<()> {
    super::lwvm_cases::exits(v, &[lw])
}
