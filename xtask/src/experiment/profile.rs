//! Where one iteration's instructions go, by function: `cargo xtask experiment <name>
//! --profile`.
//!
//! Differential execution profiles: the variant's image (each of the images the run
//! measures: plain, telemetry) is booted twice under
//! `-icount` with QEMU's execution trace (`-d in_asm,exec,nochain`), with probes built for
//! `N1` and `N2` timed rounds that print nothing (`PROBE_QUIET`); everything but the rounds
//! (boot, set-up, power-off) is the same in both runs, so (profile(N2) − profile(N1)) /
//! (N2 − N1) is the profile of exactly one iteration. Instructions are counted per
//! translation block (sizes from `in_asm`, executions from `exec`), named with the
//! hypervisor ELF's symbols (`nm -C`); guest code is one line. A block cut short by an
//! exception (a trapped load) counts whole: a few instructions of error per trap.
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::def::{Definition, Image, Mode};
use super::exec;
use super::images::{self, Place};
use crate::firmware::SystemSpec;
use crate::toolchain::Toolchain;

const N1: usize = 10;
const N2: usize = 60;

/// One iteration's instructions by function, largest first, and their total.
#[derive(Debug)]
pub struct Profile {
    pub variant: String,
    pub total: f64,
    pub rows: Vec<(String, f64)>,
}

/// Profiles every runnable variant of `d`, once per image in `images`.
pub fn run(
    tc: &Toolchain,
    d: &Definition,
    place: Place,
    features: &[String],
    images: &[Image],
    dir: &Path,
) -> Result<Vec<Profile>> {
    let mut out = Vec::new();
    for v in &d.variant {
        if v.features.iter().any(|f| !features.contains(f)) {
            continue;
        }
        let system = v.system.clone().unwrap_or_else(|| d.system.clone());
        let spec = SystemSpec::new("qemu-virt", &system, &v.features.join(","));
        if !spec.system.is_file() {
            continue;
        }
        for &image in images {
            let spec = match image {
                Image::Plain => spec.clone().plain(),
                Image::Telemetry => spec.clone(),
            };
            let name = format!("{}{}", v.name, image.suffix());
            out.push(profile_one(tc, d, place, &spec, &name, dir)?);
        }
    }
    Ok(out)
}

/// One image's profile.
fn profile_one(
    tc: &Toolchain,
    d: &Definition,
    place: Place,
    spec: &SystemSpec,
    name: &str,
    dir: &Path,
) -> Result<Profile> {
    {
        let mut per_n = Vec::new();
        for n in [N1, N2] {
            images::build_probes(tc, place, n, d.warmup, true)?;
            let img = images::build_hv(tc, place, spec)?;
            let log = dir.join(format!("trace-{name}-{n}.log"));
            let mut cmd = exec::machine(&img.elf, true, Mode::Deterministic);
            cmd.args(["-d", "in_asm,exec,nochain", "-D"]).arg(&log);
            let o = crate::qemu::run_bounded(cmd, Duration::from_secs(d.timeout * 4), None)?;
            if o.status != Some(0) {
                bail!(
                    "profiling {} / {}: the traced boot failed ({:?}):\n{}",
                    d.name,
                    name,
                    o.status,
                    o.output
                );
            }
            per_n.push(count(&log, &img.elf)?);
            // `XTASK_PROFILE_KEEP=1` keeps the traces (for a look below function level).
            if std::env::var_os("XTASK_PROFILE_KEEP").is_none() {
                let _ = std::fs::remove_file(&log);
            }
        }
        let k = (N2 - N1) as f64;
        let mut rows: Vec<(String, f64)> = per_n[1]
            .iter()
            .map(|(f, &b)| {
                (
                    f.clone(),
                    (b as f64 - per_n[0].get(f).copied().unwrap_or(0) as f64) / k,
                )
            })
            .filter(|(_, x)| x.abs() >= 0.5)
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        let total = rows.iter().map(|r| r.1).sum();
        Ok(Profile {
            variant: name.to_string(),
            total,
            rows,
        })
    }
}

/// Instructions executed per function in a QEMU trace.
fn count(log: &Path, elf: &Path) -> Result<HashMap<String, u64>> {
    let nm = Command::new("nm")
        .args(["-C", "--defined-only"])
        .arg(elf)
        .output()
        .context("running nm")?;
    let mut syms: Vec<(u64, String)> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, ' ');
            let (a, t, n) = (p.next()?, p.next()?, p.next()?);
            if !matches!(t, "t" | "T" | "w" | "W") {
                return None;
            }
            Some((u64::from_str_radix(a, 16).ok()?, short(n)))
        })
        .collect();
    syms.sort();
    let (lo, hi) = (
        syms.first().map_or(0, |s| s.0),
        syms.last().map_or(0, |s| s.0 + 0x1000),
    );
    let name = |pc: u64| -> String {
        if pc < lo || pc >= hi {
            return "(guest code)".into();
        }
        let i = syms.partition_point(|s| s.0 <= pc);
        if i == 0 {
            "?".into()
        } else {
            syms[i - 1].1.clone()
        }
    };
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut pending: Option<(u64, u64)> = None;
    let mut in_block = false;
    let f = std::io::BufReader::new(
        std::fs::File::open(log).with_context(|| format!("{}", log.display()))?,
    );
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
                    .and_then(|p| u64::from_str_radix(p, 16).ok())
            })
            .unwrap_or(0);
        if let Some((start, n)) = pending.take()
            && start == pc
        {
            sizes.insert(host.clone(), n);
        }
        let n = sizes.get(&host).copied().unwrap_or(1);
        let fname = names.entry(pc).or_insert_with(|| name(pc));
        *counts.entry(fname.clone()).or_default() += n;
    }
    Ok(counts)
}

/// A demangled symbol without its hash and generic noise: `hv::image::run::run_cpu`.
fn short(n: &str) -> String {
    let n = n.trim();
    let n = match n.rfind("::h") {
        Some(i) if n[i + 3..].chars().all(|c| c.is_ascii_hexdigit()) && n.len() - i == 19 => {
            &n[..i]
        }
        _ => n,
    };
    if n.len() > 90 {
        format!(
            "{}…",
            &n[..n.char_indices().nth(89).map_or(n.len(), |c| c.0)]
        )
    } else {
        n.to_string()
    }
}

/// The profile as a Markdown list (top `k` lines).
pub fn markdown(p: &Profile, k: usize) -> String {
    let mut s = format!(
        "Instructions of one iteration by function (`{}`, differential exec-trace profile, {:.0} in all):\n\n| instructions | share | function |\n|---:|---:|---|\n",
        p.variant, p.total
    );
    for (f, n) in p.rows.iter().take(k) {
        s.push_str(&format!(
            "| {n:.0} | {:.1}% | `{f}` |\n",
            n * 100.0 / p.total.max(1.0)
        ));
    }
    let rest: f64 = p.rows.iter().skip(k).map(|r| r.1).sum();
    if rest.abs() >= 0.5 {
        s.push_str(&format!(
            "| {rest:.0} | {:.1}% | (the rest) |\n",
            rest * 100.0 / p.total.max(1.0)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn symbols_are_shortened() {
        assert_eq!(
            super::short("hv::image::run::run_cpu::h0123456789abcdef"),
            "hv::image::run::run_cpu"
        );
        assert_eq!(super::short("memset"), "memset");
    }
}
