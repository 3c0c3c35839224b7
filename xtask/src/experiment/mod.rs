//! `cargo xtask experiment <name>|all|list`: declarative experiments (one TOML file each in
//! `experiments/`), run under QEMU with probe guests, summarised into a results folder.
//!
//! For every experiment: build the probe guests with its sample count, then for every
//! variant (a set of hypervisor cargo features; skipped with a note when `hv` lacks one)
//! and every image the definition lists — `plain` (no telemetry: what the hypervisor costs
//! by itself) and `telemetry` (the default features, UART frames: what a user runs) — build
//! the hypervisor and boot it in each mode (deterministic: `-icount shift=0,sleep=off`,
//! counts are instructions; wall-clock: nanoseconds, noisy), `runs` times. A plain boot's
//! samples come from the console text; a telemetry boot's from the stream, decoded with
//! the monitor library (console lines, the probes' samples sent as markers — checked
//! against the text — and the traps and switches of each timed phase). A `native` probe is
//! also booted without the hypervisor. With `trace = true` and no telemetry image, one
//! more boot per variant uses the UART telemetry only for the traps per iteration.
//! `measure = "telemetry-throughput"` experiments boot a telemetry benchmark instead
//! ([`throughput`]).
//!
//! Results: `target/experiments/<UTC time>/` (and `target/experiments/latest`): samples
//! (CSV, JSON), `summary.md` (min, median, p99, max, count per metric, variant, image and
//! mode; the telemetry cost per trap), plots (histogram, CDF, comparison; SVG and PNG), raw
//! serial logs and recordings, the exact commands and versions. Deterministic medians are
//! compared with the committed `experiments/baseline.json`; `--check` fails on a regression
//! beyond the margin.
mod baseline;
pub mod def;
mod exec;
mod images;
mod plots;
mod probe;
mod profile;
mod report;
mod stats;
mod throughput;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::firmware::SystemSpec;
use crate::toolchain::Toolchain;
use def::{Definition, Image, Measure, Mode};
use exec::Phase;
use images::Place;

/// `cargo xtask experiment` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// An experiment (a file in experiments/), `all`, or `list`.
    pub name: String,
    /// det (`-icount shift=0,sleep=off`, instruction counts), wall (host time, noisy) or both.
    #[arg(long, default_value = "both")]
    pub mode: String,
    /// plain (no telemetry), telemetry (default features) or both; default: the
    /// definition's `images`.
    #[arg(long, default_value = "default")]
    pub image: String,
    /// Samples per boot instead of the definition's `iterations`.
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Boots per variant and mode instead of the definition's `runs`.
    #[arg(long)]
    pub runs: Option<usize>,
    /// Results folder (default target/experiments/<UTC time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit non-zero when a deterministic median is worse than the baseline by more than the margin.
    #[arg(long)]
    pub check: bool,
    /// Relative margin for --check (default: the baseline's own, else 0.05).
    #[arg(long)]
    pub margin: Option<f64>,
    /// Write the deterministic medians of this run into experiments/baseline.json.
    #[arg(long)]
    pub update_baseline: bool,
    /// No telemetry boots even where the definition asks for them.
    #[arg(long)]
    pub no_trace: bool,
    /// No plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Also profile one iteration by function (QEMU execution traces; slower).
    #[arg(long)]
    pub profile: bool,
}

/// The samples of one metric of one variant in one mode (all runs).
#[derive(Debug, Clone)]
pub struct Series {
    pub experiment: String,
    /// The variant's name (`native` for the boot without a hypervisor).
    pub variant: String,
    pub image: Image,
    pub mode: Mode,
    pub vm: String,
    pub metric: String,
    pub unit: String,
    pub values: Vec<u64>,
}

impl Series {
    /// `static`, `static+telemetry`: the variant and its image.
    pub fn label(&self) -> String {
        format!("{}{}", self.variant, self.image.suffix())
    }

    /// `experiment/label/metric`: the key in the baseline and in `ratio-to`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.experiment, self.label(), self.metric)
    }
}

/// What one experiment produced.
#[derive(Debug)]
pub struct Outcome {
    pub def: Definition,
    pub series: Vec<Series>,
    /// (variant, why) of variants not run.
    pub skipped: Vec<(String, String)>,
    /// (variant label, phases) of the traced boots (the telemetry image's first
    /// deterministic boot, or the extra `trace` boot).
    pub phases: Vec<(String, Vec<Phase>)>,
    /// (variant, what went wrong).
    pub errors: Vec<(String, String)>,
    /// Every QEMU command line run.
    pub commands: Vec<String>,
    /// Recordings of traced boots.
    pub recordings: Vec<PathBuf>,
    /// Per-iteration profiles by function (`--profile`).
    pub profiles: Vec<profile::Profile>,
}

/// Options of one invocation (also used by the benchmarks and the smoke case).
#[derive(Debug, Clone)]
pub struct Options {
    pub modes: Vec<Mode>,
    /// Images to measure instead of the definitions' (`None`: theirs).
    pub images: Option<Vec<Image>>,
    pub iterations: Option<usize>,
    pub runs: Option<usize>,
    pub trace: bool,
    pub plots: bool,
    pub place: Place,
    pub progress: bool,
    pub profile: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            modes: vec![Mode::Deterministic, Mode::WallClock],
            images: None,
            iterations: None,
            runs: None,
            trace: true,
            plots: true,
            place: Place::Isolated,
            progress: true,
            profile: false,
        }
    }
}

/// `cargo xtask experiment …`.
pub fn run_cli(a: &Args) -> Result<()> {
    if a.name == "list" {
        for d in def::all()? {
            let modes: Vec<&str> = d.modes.iter().map(|m| m.name()).collect();
            let images: Vec<&str> = d.images.iter().map(|i| i.name()).collect();
            println!(
                "{:<20} {} [{}; images {}; system {}]",
                d.name,
                d.description,
                modes.join(", "),
                images.join(", "),
                d.system
            );
        }
        return Ok(());
    }
    let defs = if a.name == "all" {
        def::all()?
    } else {
        vec![def::find(&a.name)?]
    };
    let opts = Options {
        modes: Mode::parse(&a.mode)?,
        images: Image::parse(&a.image)?,
        iterations: a.iterations,
        runs: a.runs,
        trace: !a.no_trace,
        plots: !a.no_plots,
        profile: a.profile,
        ..Options::default()
    };
    let out = a.out.clone().unwrap_or_else(default_out);
    let outcomes = run(&defs, &opts, &out)?;
    let base = baseline::Baseline::load()?;
    let margin = a.margin.or(base.as_ref().map(|b| b.margin)).unwrap_or(0.05);
    let cmp = base
        .as_ref()
        .map(|b| b.compare(&outcomes, margin))
        .unwrap_or_default();
    let summary = report::write_all(&out, &outcomes, &cmp, margin, &opts)?;
    println!("{summary}");
    println!("results: {}", out.display());
    if a.update_baseline {
        let path = baseline::Baseline::update(&outcomes, margin)?;
        println!("baseline written: {}", path.display());
    }
    let errors: usize = outcomes.iter().map(|o| o.errors.len()).sum();
    let regressions = cmp.iter().filter(|c| c.regressed).count();
    if errors > 0 {
        bail!("{errors} variant(s) failed (see above)");
    }
    if a.check && regressions > 0 {
        bail!(
            "{regressions} metric(s) regressed beyond {:.0}% of the baseline",
            margin * 100.0
        );
    }
    Ok(())
}

/// target/experiments/<UTC yyyymmdd-hhmmss>.
fn default_out() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::paths::root()
        .join("target")
        .join("experiments")
        .join(report::utc_stamp(secs))
}

/// Runs `defs`, writing raw recordings and logs under `out/<experiment>/raw/`.
pub fn run(defs: &[Definition], opts: &Options, out: &Path) -> Result<Vec<Outcome>> {
    crate::qemu::ensure_installed()?;
    let tc = Toolchain::detect_or_install()?;
    let features = def::hv_features()?;
    let boots: u64 = defs.iter().map(|d| plan_len(d, opts)).sum();
    let pb = if opts.progress {
        ProgressBar::new(boots)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} boots  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut outcomes = Vec::new();
    for d in defs {
        outcomes.push(run_one(&tc, d, opts, &features, out, &pb)?);
    }
    pb.finish_and_clear();
    Ok(outcomes)
}

/// Boots planned for `d` (for the progress bar).
fn plan_len(d: &Definition, opts: &Options) -> u64 {
    let modes = modes_of(d, opts).len() as u64;
    let runs = opts.runs.unwrap_or(d.runs) as u64;
    d.variant.len() as u64 * plan_len_variant(d, opts)
        + u64::from(d.native.is_some()) * modes * runs
}

fn plan_len_variant(d: &Definition, opts: &Options) -> u64 {
    let images = images_of(d, opts);
    images.len() as u64 * modes_of(d, opts).len() as u64 * opts.runs.unwrap_or(d.runs) as u64
        + u64::from(extra_trace(d, opts, &images))
}

fn modes_of(d: &Definition, opts: &Options) -> Vec<Mode> {
    opts.modes
        .iter()
        .copied()
        .filter(|m| d.modes.contains(m))
        .collect()
}

/// The images to measure: the definition's, or those asked for that it lists.
fn images_of(d: &Definition, opts: &Options) -> Vec<Image> {
    match &opts.images {
        Some(want) => d
            .images
            .iter()
            .copied()
            .filter(|i| want.contains(i))
            .collect(),
        None => d.images.clone(),
    }
}

/// Whether the extra telemetry boot of `trace = true` runs: only when no telemetry image is
/// measured (a measured telemetry boot gives the traps per iteration itself).
fn extra_trace(d: &Definition, opts: &Options, images: &[Image]) -> bool {
    d.trace && opts.trace && !images.contains(&Image::Telemetry)
}

/// Adds `samples` of one boot to the outcome's series.
fn add(
    o: &mut Outcome,
    variant: &str,
    image: Image,
    mode: Mode,
    samples: Vec<probe::MetricSamples>,
) {
    for s in samples {
        let unit = o
            .def
            .metric_def(&s.metric)
            .and_then(|m| m.unit.clone())
            .unwrap_or_else(|| mode.unit().to_string());
        match o.series.iter_mut().find(|x| {
            x.variant == variant
                && x.image == image
                && x.mode == mode
                && x.vm == s.vm
                && x.metric == s.metric
        }) {
            Some(x) => x.values.extend(s.values),
            None => o.series.push(Series {
                experiment: o.def.name.clone(),
                variant: variant.to_string(),
                image,
                mode,
                vm: s.vm,
                metric: s.metric,
                unit,
                values: s.values,
            }),
        }
    }
}

fn run_one(
    tc: &Toolchain,
    d: &Definition,
    opts: &Options,
    features: &[String],
    out: &Path,
    pb: &ProgressBar,
) -> Result<Outcome> {
    let iterations = opts.iterations.unwrap_or(d.iterations).clamp(1, 10_000);
    let runs = opts.runs.unwrap_or(d.runs).max(1);
    let timeout = Duration::from_secs(d.timeout);
    let raw = out.join(&d.name).join("raw");
    std::fs::create_dir_all(&raw)?;
    let mut o = Outcome {
        def: d.clone(),
        series: vec![],
        skipped: vec![],
        phases: vec![],
        errors: vec![],
        commands: vec![],
        recordings: vec![],
        profiles: vec![],
    };
    let modes = modes_of(d, opts);
    for m in &opts.modes {
        if !d.modes.contains(m) {
            let why = d
                .mode_note
                .clone()
                .unwrap_or_else(|| "not listed in the definition's modes".into());
            o.skipped.push((format!("all ({})", m.name()), why));
        }
    }
    let images = images_of(d, opts);
    if modes.is_empty() || images.is_empty() {
        if images.is_empty() {
            o.skipped.push((
                "all".into(),
                "none of the images asked for is listed".into(),
            ));
        }
        pb.inc(plan_len(d, opts));
        return Ok(o);
    }
    pb.set_message(format!("{}: building the guests", d.name));
    let guests: &[&str] = match d.measure {
        Measure::Probe => images::PROBE_PACKAGES,
        Measure::TelemetryThroughput => throughput::GUEST_PACKAGES,
    };
    pb.suspend(|| images::build_guests(tc, opts.place, guests, iterations, d.warmup, false))?;
    for v in &d.variant {
        let missing: Vec<&String> = v
            .features
            .iter()
            .filter(|f| !features.contains(f))
            .collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|f| format!("`{f}`")).collect();
            o.skipped.push((
                v.name.clone(),
                format!(
                    "the hv crate has no cargo feature {} (yet)",
                    list.join(", ")
                ),
            ));
            pb.inc(plan_len_variant(d, opts));
            continue;
        }
        let system = v.system.clone().unwrap_or_else(|| d.system.clone());
        let spec = SystemSpec::new("qemu-virt", &system, &v.features.join(","));
        if !spec.system.is_file() {
            o.skipped.push((
                v.name.clone(),
                format!("no system description {}", spec.system.display()),
            ));
            pb.inc(plan_len_variant(d, opts));
            continue;
        }
        for &image in &images {
            let label = format!("{}{}", v.name, image.suffix());
            let spec = match image {
                Image::Plain => spec.clone().plain(),
                Image::Telemetry => spec.clone(),
            };
            pb.set_message(format!("{}/{label}: building", d.name));
            let img = match pb.suspend(|| images::build_hv(tc, opts.place, &spec)) {
                Ok(i) => i,
                Err(e) => {
                    o.errors.push((label.clone(), format!("{e:#}")));
                    pb.inc(modes.len() as u64 * runs as u64);
                    continue;
                }
            };
            for &mode in &modes {
                for r in 0..runs {
                    pb.set_message(format!("{}/{label} {} run {}", d.name, mode.name(), r + 1));
                    let stem = format!("{label}-{}-run{}", mode.name(), r + 1);
                    let res = match (d.measure, image) {
                        (Measure::TelemetryThroughput, _) => {
                            throughput::boot(&img, timeout).map(|t| {
                                o.commands.push(t.command.clone());
                                (t.samples, t.log)
                            })
                        }
                        (Measure::Probe, Image::Plain) => exec::boot_plain(&img, mode, timeout)
                            .map(|b| {
                                o.commands.push(b.command.clone());
                                (b.samples, b.log)
                            }),
                        (Measure::Probe, Image::Telemetry) => {
                            let rec = raw.join(format!("{stem}.bin"));
                            exec::boot_traced(
                                &img,
                                mode,
                                timeout * 2,
                                &rec,
                                (iterations + d.warmup) as u64,
                            )
                            .map(|t| {
                                o.commands.push(format!(
                                    "{}   # telemetry image (default features), stream decoded",
                                    t.boot.command
                                ));
                                check_markers(&t, &mut o, &label);
                                // One recording and one set of phases per variant is
                                // enough: deterministic boots repeat exactly.
                                if r == 0 && mode == modes[0] {
                                    o.recordings.push(t.recording.clone());
                                    o.phases.push((label.clone(), t.phases));
                                } else {
                                    let _ = std::fs::remove_file(&t.recording);
                                }
                                (t.boot.samples, t.boot.log)
                            })
                        }
                    };
                    match res {
                        Ok((samples, log)) => {
                            std::fs::write(raw.join(format!("{stem}.log")), &log)?;
                            add(&mut o, &v.name, image, mode, samples);
                        }
                        Err(e) => o.errors.push((
                            label.clone(),
                            format!("{} run {}: {e:#}", mode.name(), r + 1),
                        )),
                    }
                    pb.inc(1);
                }
            }
        }
        if extra_trace(d, opts, &images) {
            pb.set_message(format!("{}/{}: traced boot", d.name, v.name));
            let traced = pb
                .suspend(|| images::build_hv(tc, opts.place, &spec))
                .and_then(|timg| {
                    let rec = raw.join(format!("{}-trace.bin", v.name));
                    exec::boot_traced(
                        &timg,
                        Mode::Deterministic,
                        timeout * 2,
                        &rec,
                        (iterations + d.warmup) as u64,
                    )
                });
            match traced {
                Ok(t) => {
                    o.commands.push(format!(
                        "{}   # telemetry (default features), recorded",
                        t.boot.command
                    ));
                    check_markers(&t, &mut o, &v.name);
                    o.recordings.push(t.recording.clone());
                    o.phases.push((v.name.clone(), t.phases));
                }
                Err(e) => o
                    .errors
                    .push((v.name.clone(), format!("traced boot: {e:#}"))),
            }
            pb.inc(1);
        }
    }
    if let Some(probe_name) = &d.native {
        match images::native_probe(opts.place, probe_name) {
            Ok(elf) => {
                for &mode in &modes {
                    for r in 0..runs {
                        pb.set_message(format!("{}/native {} run {}", d.name, mode.name(), r + 1));
                        match exec::boot_native(&elf, mode, timeout) {
                            Ok(b) => {
                                std::fs::write(
                                    raw.join(format!("native-{}-run{}.log", mode.name(), r + 1)),
                                    &b.log,
                                )?;
                                o.commands.push(b.command.clone());
                                add(&mut o, "native", Image::Plain, mode, b.samples);
                            }
                            Err(e) => o.errors.push((
                                "native".into(),
                                format!("{} run {}: {e:#}", mode.name(), r + 1),
                            )),
                        }
                        pb.inc(1);
                    }
                }
            }
            Err(e) => o.errors.push(("native".into(), format!("{e:#}"))),
        }
    }
    if opts.profile && d.measure == Measure::Probe && d.modes.contains(&Mode::Deterministic) {
        pb.set_message(format!("{}: profiling", d.name));
        match pb.suspend(|| profile::run(tc, d, opts.place, features, &images, &raw)) {
            Ok(p) => o.profiles = p,
            Err(e) => o.errors.push(("profile".into(), format!("{e:#}"))),
        }
    }
    for (v, e) in &o.errors {
        pb.println(format!("experiment {} / {v}: FAILED: {e}", d.name));
    }
    Ok(o)
}

/// The samples sent as markers must be the ones printed (the stream carried them whole).
fn check_markers(t: &exec::Traced, o: &mut Outcome, variant: &str) {
    let mut text: BTreeMap<(&str, &str), &Vec<u64>> = BTreeMap::new();
    for s in &t.boot.samples {
        text.insert((s.vm.as_str(), s.metric.as_str()), &s.values);
    }
    for m in &t.marker_samples {
        match text.get(&(m.vm.as_str(), m.metric.as_str())) {
            Some(v) if v.len() == m.values.len() => {}
            other => o.errors.push((
                variant.to_string(),
                format!(
                    "traced boot: {} markers of {}/{} arrived, {} printed (lost records: {})",
                    m.values.len(),
                    m.vm,
                    m.metric,
                    other.map_or(0, |v| v.len()),
                    t.lost
                ),
            )),
        }
    }
}

/// One quick deterministic run of the `hypercall` experiment (20 samples, no plots) on
/// both images: the experiments' machinery still works, and the probes' lines are still
/// read out of the telemetry stream. For the QEMU integration suite; a functional check,
/// not a timed test (no target is judged).
pub fn smoke() -> Result<()> {
    let d = def::find("hypercall")?;
    let opts = Options {
        modes: vec![Mode::Deterministic],
        images: Some(vec![Image::Plain, Image::Telemetry]),
        iterations: Some(20),
        runs: Some(1),
        trace: false,
        plots: false,
        place: Place::Shared,
        progress: false,
        profile: false,
    };
    let out = crate::paths::root()
        .join("target")
        .join("experiments")
        .join("smoke");
    let _ = std::fs::remove_dir_all(&out);
    let outcomes = run(std::slice::from_ref(&d), &opts, &out)?;
    let o = &outcomes[0];
    if let Some((v, e)) = o.errors.first() {
        bail!("variant {v}: {e}");
    }
    for image in [Image::Plain, Image::Telemetry] {
        let s = o
            .series
            .iter()
            .find(|s| s.metric == "hvc_vm_info" && s.image == image)
            .with_context(|| format!("no hvc_vm_info samples of the {} image", image.name()))?;
        if s.values.len() != 20 || s.values.contains(&0) {
            bail!(
                "hvc_vm_info ({}): expected 20 non-zero samples, got {:?}",
                image.name(),
                s.values
            );
        }
        // Deterministic: every sample of a null hypercall is the same count (without
        // telemetry; with it, a trap's cost may follow the encoded records' lengths).
        if image == Image::Plain && s.values.iter().any(|&v| v != s.values[0]) {
            bail!("hvc_vm_info under icount is not constant: {:?}", s.values);
        }
    }
    report::write_all(&out, &outcomes, &[], 0.05, &opts)?;
    Ok(())
}

/// An outcome of the definition `toml` (as an `experiments/*.toml` file would hold it) with
/// `series`, for the tests of the report and the plots.
#[cfg(test)]
pub(crate) fn test_outcome(toml: &str, series: Vec<Series>) -> Outcome {
    Outcome {
        def: toml::from_str(toml).expect("a valid definition"),
        series,
        skipped: Vec::new(),
        phases: Vec::new(),
        errors: Vec::new(),
        commands: Vec::new(),
        recordings: Vec::new(),
        profiles: Vec::new(),
    }
}

/// A series of `values` of the plain image.
#[cfg(test)]
pub(crate) fn test_series(variant: &str, mode: Mode, metric: &str, values: Vec<u64>) -> Series {
    Series {
        experiment: "exp".into(),
        variant: variant.into(),
        image: Image::Plain,
        mode,
        vm: "vm0".into(),
        metric: metric.into(),
        unit: mode.unit().into(),
        values,
    }
}
