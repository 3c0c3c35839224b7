//! The results folder: tables (Markdown, CSV, JSON), the traced boots' exports, plots, and
//! the exact commands and versions.
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::Result;
use serde::Serialize;

use super::baseline::Comparison;
use super::def::{Image, Mode};
use super::stats::{Stats, num};
use super::{Options, Outcome, Series, plots};
use crate::paths;

/// One line of the results table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub experiment: String,
    pub variant: String,
    /// `plain`, `telemetry`, or `-` for the boot without a hypervisor.
    pub image: String,
    pub mode: Mode,
    pub vm: String,
    pub metric: String,
    pub unit: String,
    #[serde(flatten)]
    pub stats: Stats,
    /// The target and whether the median meets it (deterministic runs only).
    pub target: Option<String>,
    pub met: Option<bool>,
}

/// `yyyymmdd-hhmmss` (UTC) of a Unix time.
pub fn utc_stamp(secs: u64) -> String {
    let t = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn first_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .current_dir(paths::root())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}

/// `QEMU emulator version …`.
pub fn qemu_version() -> String {
    first_line(crate::qemu::QEMU, &["--version"])
}

/// The commit, with `+dirty` when the tree has changes.
pub fn revision() -> String {
    let rev = first_line("git", &["rev-parse", "--short=12", "HEAD"]);
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(paths::root())
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if dirty { format!("{rev}+dirty") } else { rev }
}

/// What a telemetry image adds to a metric: its median minus the plain image's.
#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub experiment: String,
    pub variant: String,
    pub vm: String,
    pub metric: String,
    pub plain: f64,
    pub telemetry: f64,
    /// `telemetry − plain`, per sample.
    pub difference: f64,
    /// Traps inside one sample's window (the metric's `traps`).
    pub traps: Option<u32>,
    /// `difference / traps`.
    pub per_trap: Option<f64>,
    /// Traps per iteration the stream counted in the metric's timed phase, when it has one
    /// of its own (a cross-check of `traps`; the phase also holds traps outside the window).
    pub stream_traps: Option<f64>,
    pub target: Option<f64>,
    pub met: Option<bool>,
}

fn median(s: &Series) -> Option<f64> {
    Stats::of(&s.values).map(|s| s.median)
}

/// The telemetry cost of every deterministic metric measured on both images.
pub fn costs(outcomes: &[Outcome]) -> Vec<Cost> {
    let mut out = Vec::new();
    for o in outcomes {
        for t in o
            .series
            .iter()
            .filter(|s| s.image == Image::Telemetry && s.mode == Mode::Deterministic)
        {
            let Some(p) = o.series.iter().find(|p| {
                p.image == Image::Plain
                    && p.variant == t.variant
                    && p.mode == t.mode
                    && p.vm == t.vm
                    && p.metric == t.metric
            }) else {
                continue;
            };
            let (Some(tm), Some(pm)) = (median(t), median(p)) else {
                continue;
            };
            let def = o.def.metric_def(&t.metric);
            let traps = def.and_then(|m| m.traps).filter(|&n| n > 0);
            let difference = tm - pm;
            let per_trap = traps.map(|n| difference / f64::from(n));
            let target = o.def.telemetry_cost_target.filter(|_| per_trap.is_some());
            let stream_traps = o
                .phases
                .iter()
                .filter(|(label, _)| *label == t.label())
                .flat_map(|(_, ph)| ph)
                .find(|ph| ph.metric == t.metric && ph.vm == t.vm)
                .map(|ph| ph.traps.values().sum::<u64>() as f64 / ph.rounds.max(1) as f64);
            out.push(Cost {
                experiment: t.experiment.clone(),
                variant: t.variant.clone(),
                vm: t.vm.clone(),
                metric: t.metric.clone(),
                plain: pm,
                telemetry: tm,
                difference,
                traps,
                per_trap,
                stream_traps,
                target,
                met: target.zip(per_trap).map(|(t, c)| c <= t),
            });
        }
    }
    out
}

/// The Markdown table of the telemetry costs.
pub fn cost_table(costs: &[Cost]) -> String {
    let mut t = String::from(
        "| experiment | variant | metric | plain | telemetry | difference | traps | per trap | stream traps/iter | target |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for c in costs {
        let target = match (c.target, c.met) {
            (Some(x), Some(true)) => format!("≤ {} ✓", num(x)),
            (Some(x), Some(false)) => format!("≤ {} **missed**", num(x)),
            _ => String::new(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {}{} | {} | {} | {} | {target} |",
            c.experiment,
            c.variant,
            c.metric,
            num(c.plain),
            num(c.telemetry),
            if c.difference >= 0.0 { "+" } else { "" },
            num(c.difference),
            c.traps.map_or("-".into(), |n| n.to_string()),
            c.per_trap.map_or("-".into(), |x| format!("{x:+.0}")),
            c.stream_traps.map_or("-".into(), |x| format!("{x:.2}")),
        );
    }
    t
}

fn rows(outcomes: &[Outcome]) -> Vec<Row> {
    let all: Vec<&Series> = outcomes.iter().flat_map(|o| &o.series).collect();
    let median_of = |key: &str, mode: Mode| {
        all.iter()
            .find(|s| s.key() == key && s.mode == mode)
            .and_then(|s| Stats::of(&s.values))
            .map(|s| s.median)
    };
    let costs = costs(outcomes);
    let mut out = Vec::new();
    for o in outcomes {
        for s in &o.series {
            let Some(stats) = Stats::of(&s.values) else {
                continue;
            };
            let (mut target, mut met) = (None, None);
            let native = s.variant == "native";
            // The absolute targets judge the hypervisor by itself: the plain image (or the
            // telemetry image where that is all a definition measures: a transport's rate).
            let sole = !o.def.images.contains(&Image::Plain);
            let judged = |m: &super::def::MetricDef| {
                s.mode == m.target_mode
                    && (s.image == Image::Plain || sole)
                    && if m.variants.is_empty() {
                        !native
                    } else {
                        m.variants.contains(&s.variant)
                    }
            };
            let native_median =
                || median_of(&format!("{}/native/{}", s.experiment, s.metric), s.mode);
            let mut parts = Vec::new();
            let mut recorded = Vec::new();
            let mut ok = true;
            if let Some(m) = o.def.metric_def(&s.metric).filter(|m| judged(m)) {
                if let Some(t) = m.target {
                    parts.push(format!("≤ {}", num(t)));
                    ok &= stats.median <= t;
                }
                if let Some(t) = m.at_least {
                    parts.push(format!("≥ {}", num(t)));
                    ok &= stats.median >= t;
                }
                if let Some(t) = m.max_over_native {
                    match native_median() {
                        Some(n) => {
                            let x = stats.median - n;
                            parts.push(format!("≤ {} over native ({})", num(t), num(x)));
                            ok &= x <= t;
                        }
                        None => parts.push(format!("≤ {} over native (no native run)", num(t))),
                    }
                }
                if let Some(r) = m.native_ratio {
                    match native_median() {
                        Some(n) if n > 0.0 => {
                            let x = stats.median / n;
                            parts.push(format!("≤ {r}× native ({x:.1}×)"));
                            ok &= x <= r;
                        }
                        _ => parts.push(format!("≤ {r}× native (no native run)")),
                    }
                }
                if let (Some(key), Some(r), false) = (
                    &m.ratio_to,
                    m.max_ratio,
                    m.ratio_to.as_deref() == Some(s.key().as_str()),
                ) {
                    match median_of(key, s.mode) {
                        Some(n) if n > 0.0 => {
                            let x = stats.median / n;
                            parts.push(format!("≤ {r}× {key} ({x:.2}×)"));
                            ok &= x <= r;
                        }
                        _ => parts.push(format!("≤ {r}× {key} (not run)")),
                    }
                }
                // `ratio-to` without `max-ratio`: the ratio is recorded, not judged.
                if let (Some(key), None, false) = (
                    &m.ratio_to,
                    m.max_ratio,
                    m.ratio_to.as_deref() == Some(s.key().as_str()),
                ) && let Some(n) = median_of(key, s.mode).filter(|n| *n > 0.0)
                {
                    recorded.push(format!("{:.2}× {key}", stats.median / n));
                }
            }
            // The telemetry image: what it adds per trap.
            if s.image == Image::Telemetry
                && let Some(c) = costs.iter().find(|c| {
                    c.experiment == s.experiment
                        && c.variant == s.variant
                        && c.vm == s.vm
                        && c.metric == s.metric
                        && s.mode == Mode::Deterministic
                })
                && let (Some(t), Some(x)) = (c.target, c.per_trap)
            {
                parts.push(format!("telemetry ≤ +{} per trap ({x:+.0})", num(t)));
                ok &= x <= t;
            }
            if !parts.is_empty() {
                met = Some(ok);
            }
            parts.extend(recorded);
            if !parts.is_empty() {
                target = Some(parts.join("; "));
            }
            out.push(Row {
                experiment: s.experiment.clone(),
                variant: s.variant.clone(),
                image: if native {
                    "-".into()
                } else {
                    s.image.name().into()
                },
                mode: s.mode,
                vm: s.vm.clone(),
                metric: s.metric.clone(),
                unit: s.unit.clone(),
                stats,
                target,
                met,
            });
        }
    }
    out
}

/// The Markdown results table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| experiment | variant | image | mode | metric | unit | count | min | median | p99 | max | target |\n\
         |---|---|---|---|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let target = match (&r.target, r.met) {
            (Some(t), Some(true)) => format!("{t} ✓"),
            (Some(t), Some(false)) => format!("{t} **missed**"),
            (Some(t), None) => t.clone(),
            _ => String::new(),
        };
        let mode = match r.mode {
            Mode::Deterministic => "det",
            Mode::WallClock => "wall (noisy)",
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {mode} | {} | {} | {} | {} | {} | {} | {} | {target} |",
            r.experiment,
            r.variant,
            r.image,
            r.metric,
            r.unit,
            r.stats.count,
            r.stats.min,
            num(r.stats.median),
            r.stats.p99,
            r.stats.max
        );
    }
    t
}

fn phases_md(o: &Outcome) -> String {
    let mut s = String::new();
    for (variant, phases) in &o.phases {
        for p in phases {
            let per = |n: u64| n as f64 / p.rounds.max(1) as f64;
            let traps: Vec<String> = p
                .traps
                .iter()
                .map(|(k, n)| format!("{k} {:.2}", per(*n)))
                .collect();
            let durs: Vec<String> = p
                .trap_mean_insn
                .iter()
                .map(|(k, d)| format!("{k} ~{d:.0}"))
                .collect();
            let inj = if p.injected > 0 {
                format!("; vIRQ injections {:.2}", per(p.injected))
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "- `{variant}` {} (markers of {}): per iteration: traps {}; switches {:.2}{inj}. \
                 Mean trap duration with telemetry on (≈insn, 16-insn ticks): {}",
                p.metric,
                p.vm,
                if traps.is_empty() {
                    "none".into()
                } else {
                    traps.join(", ")
                },
                per(p.switches),
                if durs.is_empty() {
                    "-".into()
                } else {
                    durs.join(", ")
                },
            );
        }
    }
    s
}

/// An experiment's part of the report (`with_table`: its own rows first).
fn section(o: &Outcome, rows: &[Row], with_table: bool) -> String {
    let mut s = format!("## {}\n\n{}\n\n", o.def.name, o.def.description);
    let mine: Vec<Row> = rows
        .iter()
        .filter(|r| r.experiment == o.def.name)
        .cloned()
        .collect();
    if with_table && !mine.is_empty() {
        s.push_str(&table(&mine));
        s.push('\n');
    }
    let descs: Vec<String> = o
        .def
        .metric
        .iter()
        .filter_map(|m| {
            m.description
                .as_ref()
                .map(|d| format!("- `{}`: {d}", m.name))
        })
        .collect();
    if !descs.is_empty() {
        s.push_str(&descs.join("\n"));
        s.push_str("\n\n");
    }
    let c = costs(std::slice::from_ref(o));
    if !c.is_empty() {
        s.push_str("Telemetry cost (deterministic; default telemetry image − image without telemetry):\n\n");
        s.push_str(&cost_table(&c));
        s.push('\n');
    }
    for p in &o.profiles {
        s.push_str(&super::profile::markdown(p, 15));
        s.push('\n');
    }
    let ph = phases_md(o);
    if !ph.is_empty() {
        s.push_str("Telemetry of the timed phases (the telemetry image's deterministic boot, or the traced boot):\n\n");
        s.push_str(&ph);
        s.push('\n');
    }
    for (v, why) in &o.skipped {
        let _ = writeln!(s, "- skipped `{v}`: {why}");
    }
    for (v, e) in &o.errors {
        let _ = writeln!(s, "- **failed** `{v}`: {}", e.lines().next().unwrap_or(""));
    }
    s
}

/// Writes everything; returns what to print: the table, skipped and failed variants, the
/// baseline comparison (`summary.md` has the details).
pub fn write_all(
    out: &Path,
    outcomes: &[Outcome],
    cmp: &[Comparison],
    margin: f64,
    opts: &Options,
) -> Result<String> {
    std::fs::create_dir_all(out)?;
    let rows = rows(outcomes);
    let qemu = qemu_version();
    let rev = revision();
    let modes: Vec<&str> = opts.modes.iter().map(|m| m.name()).collect();
    let mut md = format!(
        "# Experiment results\n\ncommit `{rev}`, {qemu}, modes: {}.\n\n\
         Deterministic (`det`): QEMU `-icount shift=0,sleep=off -seed 1`, `dtb-randomness=off`; the probes count \
         with PMCCNTR_EL0, which QEMU runs at 1 GHz of its virtual clock, so one count is one emulated instruction \
         (summed over all CPUs while more than one runs). Wall-clock (`wall`): nanoseconds of QEMU's virtual clock \
         without icount — host time, noisy, indicative only. Images: `plain` is built without telemetry \
         (`--no-default-features`: what the hypervisor costs by itself; the absolute targets judge it), \
         `telemetry` with the default features (frames on the UART, what `cargo xtask run` builds; the \
         probes' lines are read from the stream), `-` is the probe without a hypervisor. Targets marked \
         \"over native\" subtract the native median.\n\n",
        modes.join(", ")
    );
    md.push_str(&table(&rows));
    md.push('\n');
    let mut console = table(&rows);
    let costs = costs(outcomes);
    if !costs.is_empty() {
        let t = cost_table(&costs);
        md.push_str(
            "## Telemetry cost (deterministic)\n\nDefault telemetry image minus the image without \
             telemetry, medians; `traps` is the number of traps inside one sample's window (the \
             metric's definition), `per trap` the difference divided by it; `stream traps/iter` \
             what the telemetry stream counted per iteration of the metric's timed phase (all \
             its traps, also those outside the timed window).\n\n",
        );
        md.push_str(&t);
        md.push('\n');
        console
            .push_str("\ntelemetry cost (telemetry image − plain image, deterministic medians):\n");
        console.push_str(&t);
    }
    for o in outcomes {
        let dir = out.join(&o.def.name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("report.md"),
            format!("# {}\n\n{}", o.def.name, section(o, &rows, true)),
        )?;
        md.push_str(&section(o, &rows, false));
        md.push('\n');
        for (v, why) in &o.skipped {
            let _ = writeln!(console, "{}: skipped `{v}`: {why}", o.def.name);
        }
        for (v, e) in &o.errors {
            let _ = writeln!(
                console,
                "{}: FAILED `{v}`: {}",
                o.def.name,
                e.lines().next().unwrap_or("")
            );
        }
        write_samples(&dir, o)?;
        export_recordings(o)?;
        if opts.plots {
            plots::write(&dir.join("plots"), o)?;
        }
    }
    if !cmp.is_empty() {
        let _ = writeln!(
            md,
            "## Against experiments/baseline.json (margin {:.0}%)\n",
            margin * 100.0
        );
        md.push_str("| metric | baseline | now | change |\n|---|---:|---:|---|\n");
        for c in cmp {
            let flag = if c.regressed {
                " **regression**"
            } else if c.improved {
                " (better)"
            } else {
                ""
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:+.1}%{flag} |",
                c.key,
                num(c.base),
                num(c.now),
                c.change * 100.0
            );
        }
        md.push('\n');
        let regressions: Vec<&Comparison> = cmp.iter().filter(|c| c.regressed).collect();
        let _ = writeln!(
            console,
            "baseline: {} metrics compared, {} regressed",
            cmp.len(),
            regressions.len()
        );
        for c in regressions {
            let _ = writeln!(
                console,
                "  REGRESSION {}: {} → {} ({:+.1}%)",
                c.key,
                num(c.base),
                num(c.now),
                c.change * 100.0
            );
        }
    }
    std::fs::write(out.join("summary.md"), &md)?;
    let json = serde_json::json!({
        "commit": rev,
        "qemu": qemu,
        "rows": rows,
        "telemetry_cost": costs,
        "baseline": cmp,
        "phases": outcomes.iter().map(|o| (o.def.name.clone(), &o.phases)).collect::<std::collections::BTreeMap<_, _>>(),
        "skipped": outcomes.iter().map(|o| (o.def.name.clone(), &o.skipped)).collect::<std::collections::BTreeMap<_, _>>(),
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    write_commands(out, outcomes, &rev, &qemu)?;
    let latest = out.parent().map(|p| p.join("latest"));
    if let (Some(latest), Some(name)) = (latest, out.file_name()) {
        let _ = std::fs::remove_file(&latest);
        let _ = std::os::unix::fs::symlink(name, &latest);
    }
    Ok(console)
}

fn write_samples(dir: &Path, o: &Outcome) -> Result<()> {
    let mut csv = csv::Writer::from_path(dir.join("samples.csv"))?;
    csv.write_record([
        "experiment",
        "variant",
        "image",
        "mode",
        "vm",
        "metric",
        "unit",
        "index",
        "value",
    ])?;
    for s in &o.series {
        for (i, v) in s.values.iter().enumerate() {
            let (i, v) = (i.to_string(), v.to_string());
            csv.write_record([
                s.experiment.as_str(),
                &s.variant,
                s.image.name(),
                s.mode.name(),
                &s.vm,
                &s.metric,
                &s.unit,
                &i,
                &v,
            ])?;
        }
    }
    csv.flush()?;
    let json: Vec<_> = o
        .series
        .iter()
        .map(|s| serde_json::json!({"variant": s.variant, "image": s.image, "mode": s.mode, "vm": s.vm, "metric": s.metric, "unit": s.unit, "values": s.values}))
        .collect();
    std::fs::write(
        dir.join("samples.json"),
        serde_json::to_string(&json)? + "\n",
    )?;
    Ok(())
}

/// CSV, JSON lines and Perfetto exports of each recording, next to it (hvmon's exporters),
/// and, for a stream with elastic-memory records, the chart of each VM's blocks over time.
fn export_recordings(o: &Outcome) -> Result<()> {
    use hvmon::export::{Format, export};
    for rec in &o.recordings {
        hvmon::plot::memory_only(rec, rec)?;
        for (f, ext) in [
            (Format::Csv, "csv"),
            (Format::Jsonl, "jsonl"),
            (Format::Perfetto, "perfetto.json"),
        ] {
            let path = rec.with_extension(ext);
            let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            export(rec, f, None, &mut file)?;
        }
    }
    Ok(())
}

fn write_commands(out: &Path, outcomes: &[Outcome], rev: &str, qemu: &str) -> Result<()> {
    let mut s = format!(
        "# Reproduce: cargo xtask experiment <name>|all [--mode det|wall|both]\n\
         # commit {rev}\n# {qemu}\n# host: {} ({} CPUs)\n# xtask args: {:?}\n\n",
        first_line("uname", &["-srm"]),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::args().skip(1).collect::<Vec<_>>()
    );
    for o in outcomes {
        let _ = writeln!(
            s,
            "## {} ({}; probes built with PROBE_ITERS/PROBE_WARMUP from the definition)",
            o.def.name,
            o.def
                .file
                .strip_prefix(paths::root())
                .unwrap_or(&o.def.file)
                .display()
        );
        let mut seen = std::collections::BTreeSet::new();
        for c in &o.commands {
            if seen.insert(c) {
                let _ = writeln!(s, "{c}");
            }
        }
        s.push('\n');
    }
    std::fs::write(out.join("commands.txt"), s)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        assert_eq!(utc_stamp(951_782_400 + 3661), "20000229-010101");
        assert_eq!(utc_stamp(1_700_000_000), "20231114-221320");
    }

    #[test]
    fn samples_csv_quotes_what_needs_it() {
        use super::super::{Mode, test_outcome, test_series};
        let o = test_outcome(
            "name = \"exp\"\ndescription = \"d\"\nsystem = \"s\"",
            vec![test_series("a,\"b\"", Mode::Deterministic, "m", vec![7, 8])],
        );
        let dir = tempfile::tempdir().unwrap();
        write_samples(dir.path(), &o).unwrap();
        let mut r = csv::Reader::from_path(dir.path().join("samples.csv")).unwrap();
        assert_eq!(r.headers().unwrap().get(1), Some("variant"));
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get(1), Some("a,\"b\""));
        assert_eq!(rows[1].get(7), Some("1"));
        assert_eq!(rows[1].get(8), Some("8"));
    }
}
