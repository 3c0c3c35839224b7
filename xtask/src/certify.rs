//! Isolation certificates of built images (hv-config's `certify`, docs/CERTIFICATE.md).
//!
//! Every image `firmware::build_hv` produces is certified before it is handed out: the
//! certificate (`certificate.json`, `certificate.md`) lands beside `hv.elf`, and an image
//! that is not certified is removed and the build fails. `cargo xtask certify <system>`
//! builds and prints one certificate; `--all` does every system of the board (the test
//! command's `certify::*` cases), and the mutation cases show the checker can fail.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use hv_config::certify::{self, Certificate, elf::Elf, mutate};

use crate::firmware::{self, SystemSpec};
use crate::paths;
use crate::toolchain::Toolchain;

/// Certifies the image at `elf`, writing the certificate beside it. A rejected image is
/// deleted (the certificate stays, to be read).
pub fn certify_image(elf: &Path) -> Result<Certificate> {
    let cert = certify::certify_file(elf).map_err(|e| anyhow::anyhow!("certify: {e}"))?;
    let dir = elf.parent().unwrap_or(Path::new("."));
    std::fs::write(dir.join("certificate.json"), cert.json())?;
    std::fs::write(dir.join("certificate.md"), cert.markdown())?;
    if !cert.holds() {
        let _ = std::fs::remove_file(elf);
        let lines: Vec<String> = cert
            .report
            .violations
            .iter()
            .take(20)
            .map(|v| format!("  {v}"))
            .collect();
        bail!(
            "{} is not certified (image removed; {}):\n{}",
            elf.display(),
            dir.join("certificate.md").display(),
            lines.join("\n")
        );
    }
    Ok(cert)
}

/// Every system description of `board`, with the features it needs (`lwvm` for lwVMs
/// and `[hypervisor] vhe`).
pub fn all_systems(board: &str) -> Result<Vec<SystemSpec>> {
    let dir = paths::root().join("boards").join(board).join("systems");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut specs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        let v: toml::Value =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        let vhe = v.get("lwvm").is_some()
            || v.get("hypervisor")
                .and_then(|h| h.get("vhe"))
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
        // Each extension a system uses needs its feature in the image.
        let mut features = Vec::new();
        if vhe {
            features.push("lwvm");
        }
        if v.get("elastic").is_some() {
            features.push("balloon");
        }
        let moves = v
            .get("vm")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|vm| vm.get("vcpus").and_then(toml::Value::as_array))
            .flatten()
            .any(|c| c.get("cpus").is_some());
        if moves {
            features.push("big-little");
        }
        let shadow = v
            .get("lwvm")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .any(|l| l.get("paging").and_then(toml::Value::as_str) == Some("shadow"));
        if shadow {
            features.push("shadow-paging");
        }
        let features = features.join(",");
        specs.push(SystemSpec::new(board, &f.to_string_lossy(), &features));
    }
    Ok(specs)
}

/// `cargo xtask certify`.
pub fn run_cli(board: &str, system: Option<&str>, features: &str) -> Result<()> {
    let specs = match system {
        Some(s) => vec![SystemSpec::new(board, s, features)],
        None => all_systems(board)?,
    };
    let tc = Toolchain::detect_or_install()?;
    firmware::build_guests(&tc)?;
    let mut failed = 0;
    let mut rows = Vec::new();
    for spec in &specs {
        firmware::fetch_payloads(spec)?;
        match firmware::build_hv_certified(&tc, spec) {
            Ok((img, c)) => {
                if specs.len() == 1 {
                    print!("{}", c.markdown());
                    println!(
                        "\ncertificate: {}",
                        img.elf.with_file_name("certificate.json").display()
                    );
                }
                if specs.len() > 1 {
                    println!("{:<28} {}", spec.label(), c.summary());
                }
                rows.push(c.elapsed);
            }
            Err(e) => {
                failed += 1;
                println!("{}: {e:#}", spec.label());
            }
        }
    }
    if let Some(max) = rows.iter().max() {
        println!(
            "{} certified, {failed} rejected or not built; slowest check {:.0} ms",
            rows.len(),
            max.as_secs_f64() * 1e3
        );
    }
    if failed > 0 {
        bail!("{failed} system(s) not certified");
    }
    Ok(())
}

/// The test command's certification of every system of every board (`boards/*/`): one
/// result per system, with the time the check took. Systems of `qemu-virt` are named as
/// they are; the others `<board>/<system>`. Only `qemu-virt` boots here (QEMU models no
/// other board, and this machine has no Rockchip hardware): for the other boards, building
/// and certifying the image is as far as the test command goes (docs/BOARDS.md).
pub fn test_cases(
    tc: &Toolchain,
    selected: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Result<Duration>)>> {
    let mut specs = Vec::new();
    for board in crate::select::boards() {
        for spec in all_systems(&board)? {
            let label = if board == "qemu-virt" {
                spec.label()
            } else {
                format!("{board}/{}", spec.label())
            };
            specs.push((label, spec));
        }
    }
    let mut out = Vec::new();
    for (label, spec) in specs {
        if !selected(&format!("certify::{label}")) {
            continue;
        }
        let r = firmware::fetch_payloads(&spec)
            .and_then(|()| firmware::build_hv_certified(tc, &spec))
            .and_then(|(img, c)| {
                descriptor_matches_plan(&spec, &img.elf)?;
                if c.elapsed > Duration::from_secs(5) {
                    bail!("certification took {:?} (target: under 5 s)", c.elapsed);
                }
                Ok(c.elapsed)
            });
        out.push((label, r));
    }
    Ok(out)
}

/// The descriptor decoded from the linked image (through its DWARF) is the one the
/// toolkit planned, field for field: the decoder reads what the emitter wrote.
fn descriptor_matches_plan(spec: &SystemSpec, elf: &Path) -> Result<()> {
    let image = Elf::parse(std::fs::read(elf)?).map_err(|e| anyhow::anyhow!(e))?;
    let decoded = certify::descriptor(&image).map_err(|e| anyhow::anyhow!(e))?;
    let board = paths::root()
        .join("boards")
        .join(&spec.board)
        .join("board.toml");
    let plan = hv_config::plan(&board, &spec.system, &firmware::guest_images_dir(), None)?;
    let (want, got) = (format!("{:#?}", plan.desc), format!("{decoded:#?}"));
    if want != got {
        let diff = want
            .lines()
            .zip(got.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("planned `{}`, decoded `{}`", a.trim(), b.trim()))
            .unwrap_or_else(|| "lengths differ".into());
        bail!("the image's descriptor is not the planned one: {diff}");
    }
    Ok(())
}

/// Each mutation of a certified image is rejected, naming the expected property; the
/// unmutated image passes. `elf` must route two SPIs to two VMs (owned-irqs).
pub fn check_mutations(elf: &Path, only: &[&str]) -> Result<()> {
    let bytes = std::fs::read(elf)?;
    let image = Elf::parse(bytes.clone()).map_err(|e| anyhow::anyhow!(e))?;
    let desc = certify::descriptor(&image).map_err(|e| anyhow::anyhow!(e))?;
    let base = certify::certify_bytes(bytes).map_err(|e| anyhow::anyhow!(e))?;
    if !base.holds() {
        bail!(
            "the unmutated image is not certified: {:?}",
            base.report.violations
        );
    }
    for m in mutate::all()
        .into_iter()
        .filter(|m| only.is_empty() || only.contains(&m.name))
    {
        let mutated = m.apply(&image, desc).map_err(|e| anyhow::anyhow!(e))?;
        let c = certify::certify_bytes(mutated).map_err(|e| anyhow::anyhow!(e))?;
        match c.report.first(m.expect) {
            Some(v) => println!("    {}: rejected: {v}", m.name),
            None => bail!(
                "mutation {} was not rejected as {} (violations: {:?})",
                m.name,
                m.expect,
                c.report
                    .violations
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
            ),
        }
    }
    Ok(())
}
