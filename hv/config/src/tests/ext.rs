//! The extension seam: composition of the list, a no-op extension, an extension that
//! only adds memory, and lwVM's rules reaching the diagnostics through the seam.

use super::Setup;
use crate::alloc::{Allocator, Placed};
use crate::config::Config;
use crate::error::ConfigError;
use crate::ext::{ConfigExtension, El2Region, ExtLayout, Extensions};
use crate::lwvm::Lwvm;
use crate::size::MIB2;
use crate::tables::EL2_DATA;
use crate::{EXTENSIONS, Plan};
use hv_core::sysdesc::SystemDesc;
use std::fmt::Write;

/// Implements nothing: every hook keeps its default.
struct Noop;

impl ConfigExtension for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
}

/// Adds a 2 MiB pool after everything else, maps it for the hypervisor and reports it
/// (the shape of a ballooning or shadow-paging pool).
struct Pool;

impl ConfigExtension for Pool {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn place(&self, cfg: &Config, a: &mut Allocator) -> Result<Vec<Placed>, ConfigError> {
        Ok(vec![a.alloc(
            MIB2,
            MIB2,
            "test pool".into(),
            cfg,
            "pool",
        )?])
    }

    fn el2_regions(&self, _cfg: &Config, own: &ExtLayout) -> Vec<El2Region> {
        let p = own.memory[0];
        vec![(p.base, p.size, EL2_DATA, "test pool".into())]
    }

    fn explain(&self, _d: &SystemDesc, out: &mut String) {
        let _ = writeln!(out, "\ntest pool section");
    }
}

const WITH_NOOP: &Extensions = &[&Noop, &Lwvm, &Noop];
const NONE: &Extensions = &[];
const WITH_POOL: &Extensions = &[&Lwvm, &Pool];

fn plan_with(s: &Setup, exts: &'static Extensions) -> Result<Plan, ConfigError> {
    let cfg = Config::load(&s.board(), &s.system())?;
    crate::validate::validate(&cfg, exts)?;
    let payloads = crate::payload::load_payloads(&cfg, s.dir.path(), None, exts)?;
    crate::plan_with_extensions(cfg, payloads, exts)
}

/// Everything a plan emits.
fn outputs(p: &Plan) -> (Vec<u8>, Vec<u8>, String, String, String) {
    (
        p.tables_blob.clone(),
        p.layout.store.clone(),
        crate::emit::system_rs(p),
        crate::emit::memory_x(p),
        crate::explain::explain(p),
    )
}

fn hello() -> Setup {
    let text =
        std::fs::read_to_string(super::repo().join("boards/qemu-virt/systems/hello.toml")).unwrap();
    Setup::new(&text)
}

#[test]
fn a_noop_extension_changes_nothing() {
    for s in [hello(), super::lwvm::lw_setup(super::lwvm::LW)] {
        let base = outputs(&plan_with(&s, EXTENSIONS).unwrap());
        assert_eq!(outputs(&plan_with(&s, WITH_NOOP).unwrap()), base);
    }
}

#[test]
fn an_unused_extension_changes_nothing() {
    // lwVM contributes nothing to a system without lwVMs: the same plan as no list.
    let s = hello();
    assert_eq!(
        outputs(&plan_with(&s, NONE).unwrap()),
        outputs(&plan_with(&s, EXTENSIONS).unwrap())
    );
}

#[test]
fn an_extension_adds_memory_to_the_map_and_the_report() {
    let s = super::lwvm::lw_setup(super::lwvm::LW);
    let p = plan_with(&s, WITH_POOL).unwrap();
    let pool = p.layout.ext[1].memory[0];
    // Placed after what the layout placed before it (the first lwVM's memory; the
    // second's is fixed higher up), off every other range.
    let lw_end = p.layout.ext[0].memory[0].end();
    assert!(pool.base >= lw_end, "{pool:?} before {lw_end:#x}");
    let others = p.layout.map.iter().filter(|m| m.owner != "test pool");
    assert!(
        others
            .clone()
            .all(|m| !crate::fmt::overlaps(pool.base, pool.size, m.at.base, m.at.size))
    );
    assert!(
        p.layout
            .map
            .iter()
            .any(|m| m.owner == "test pool" && m.at == pool)
    );
    let text = crate::explain::explain(&p);
    let row = format!(
        "  {:<13} {:<13}",
        crate::fmt::hex(pool.base),
        crate::fmt::hex(pool.end())
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(&row) && l.ends_with("  test pool")),
        "{text}"
    );
    assert!(text.contains("\ntest pool section\n"), "{text}");
    // The report keeps its order: the extensions' sections after the VMs, in list order.
    let (lw, pool_at, vcpus) = (
        text.find("lightweight VMs").unwrap(),
        text.find("test pool section").unwrap(),
        text.find("\nvCPUs").unwrap(),
    );
    assert!(lw < pool_at && pool_at < vcpus, "{text}");
    // Mapped for the hypervisor (privileged only), so its plan is still isolated.
    let w = crate::walk::Walker::new(&p.tables_blob, p.desc.hv.tables_base);
    let l = w
        .translate(p.desc.hv.ttbr0_el2, pool.base)
        .unwrap()
        .unwrap();
    assert_eq!(l.pa, pool.base);
    // The other outputs move only by the pool's EL2 mapping.
    assert_eq!(p.desc.vms.len(), 3);
}

#[test]
fn lwvm_rules_come_through_the_seam_and_name_file_and_field() {
    let sys = super::lwvm::LW
        .replace("cpu = 1\n", "cpu = 9\n")
        .replace("base = 0x7000_0000", "base = 0x4000_0000");
    let s = super::lwvm::lw_setup(&sys);
    let e = crate::check(&s.board(), &s.system())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sys.toml: lwvm[1].cpu: CPU 9 does not exist (the board has CPUs 0..=3)"),
        "{e}"
    );
    // Its fixed base joins the core's overlap checks.
    assert!(
        e.contains("sys.toml: lwvm[1].base: lwvm \"other\" memory 0x4000_0000..0x4020_0000 overlaps reserved"),
        "{e}"
    );
    // Without the extension in the list, none of its rules run.
    let cfg = Config::load(&s.board(), &s.system()).unwrap();
    let e = crate::validate::validate(&cfg, NONE)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(!e.contains("lwvm["), "{e}");
}
