//! Experiment definitions: one TOML file per experiment in `experiments/`.
//!
//! ```toml
//! name = "hypercall"                 # = the file stem
//! description = "Null hypercall round trip, one VM on CPU 0"
//! system = "exp-hvc"                 # boards/qemu-virt/systems/<system>.toml
//! iterations = 1000                  # timed samples per boot (the probe's PROBE_ITERS)
//! warmup = 16                        # rounds dropped before them
//! runs = 1                           # boots per variant, image and mode
//! timeout = 60                       # seconds per boot
//! modes = ["deterministic", "wall-clock"]
//! images = ["plain", "telemetry"]    # which builds of every variant to measure (below)
//! telemetry-cost-target = 30         # per trap: telemetry image − plain image ≤ this
//! native = "probe-timer"             # also boot this probe ELF without the hypervisor
//! trace = true                       # with only the plain image: one telemetry boot per
//!                                    # variant for the traps per iteration
//! measure = "probe"                  # or "telemetry-throughput" (below)
//!
//! [[variant]]                        # default: one variant "static" without features
//! name = "lwvm"
//! features = ["lwvm"]                # skipped with a note when hv has no such feature
//! system = "exp-lwvm-switch"         # optional: another system for this variant
//!
//! [[metric]]                         # optional: description and targets of a metric
//! name = "hvc_vm_info"
//! description = "VM_INFO round trip"
//! target = 120                       # median must be ≤ this
//! at-least = 200000                  # median must be ≥ this
//! max-over-native = 90               # median − the native variant's median ≤ this
//! native-ratio = 2.0                 # median ≤ ratio × the native variant's median
//! ratio-to = "vm-switch/static/switch_ping_to_pong"  # median ≤ max-ratio × that median
//! max-ratio = 0.333                  # without it the ratio is only recorded (report)
//! variants = ["vm-lwvm"]             # the targets apply to these variants only
//! target-mode = "deterministic"      # the mode whose medians the targets judge
//! traps = 1                          # traps inside one sample's window (telemetry cost)
//! unit = "events/s"                  # default: the mode's (insn or ns)
//! ```
//!
//! # Images
//! Every variant (a set of cargo features) is built twice:
//! - `plain`: `--no-default-features`, no telemetry at all; the probes print text on the
//!   console. The absolute targets (`target`, `max-over-native`, …) judge this image: it
//!   is what the hypervisor costs by itself (a definition without it, such as a
//!   transport's throughput, has them judge its telemetry image).
//! - `telemetry`: the `hv` crate's default features (`telemetry-uart`, what `cargo xtask
//!   run` builds): the UART carries binary frames, so the probes' lines are read back out of
//!   the stream with the monitor library (the console lines travel in it). Its rows are
//!   named `<variant>+telemetry` (also in `experiments/baseline.json` and in `ratio-to`) and
//!   are judged by `telemetry-cost-target`: (its median − the plain median) / the metric's
//!   `traps`, what telemetry adds to one trap.
//!
//! # Measures
//! - `probe` (default): probe guests (guests/probe-bench) print samples; see `probe.rs`.
//! - `telemetry-throughput`: the system's guest (tmbench) issues bursts of hypercalls, each
//!   one trap with its records; every boot gives `events_per_s` (records received over the
//!   span of their own timestamps) and `events_lost` (dropped by full rings, lost in
//!   transport, undecodable), counted by the monitor. Wall-clock only; a variant's features
//!   choose the transport (`telemetry-net`: UDP datagrams to 127.0.0.1:7777).
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::paths;

/// How QEMU keeps time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `-icount shift=0,sleep=off -seed 1`, `dtb-randomness=off`: one count = one
    /// instruction, the same numbers on every run.
    Deterministic,
    /// No icount: nanoseconds of host time, noisy.
    WallClock,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Deterministic => "deterministic",
            Mode::WallClock => "wall-clock",
        }
    }

    /// Unit of the probes' counts in this mode.
    pub fn unit(self) -> &'static str {
        match self {
            Mode::Deterministic => "insn",
            Mode::WallClock => "ns",
        }
    }

    /// QEMU arguments of the mode.
    pub fn qemu_args(self) -> &'static [&'static str] {
        match self {
            Mode::Deterministic => &[
                "-icount",
                "shift=0,sleep=off",
                "-seed",
                "1",
                "-M",
                "dtb-randomness=off",
            ],
            Mode::WallClock => &[],
        }
    }

    pub fn parse(s: &str) -> Result<Vec<Mode>> {
        Ok(match s {
            "det" | "deterministic" => vec![Mode::Deterministic],
            "wall" | "wall-clock" => vec![Mode::WallClock],
            "both" | "all" => vec![Mode::Deterministic, Mode::WallClock],
            _ => bail!("unknown mode `{s}` (det, wall or both)"),
        })
    }
}

/// Which build of a variant a boot uses (module docs, "Images").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Image {
    /// `--no-default-features`: no telemetry.
    Plain,
    /// The default features: telemetry frames on the UART (or a variant's transport).
    Telemetry,
}

impl Image {
    pub fn name(self) -> &'static str {
        match self {
            Image::Plain => "plain",
            Image::Telemetry => "telemetry",
        }
    }

    /// Appended to the variant's name in keys and labels (`static+telemetry`): the plain
    /// image keeps the bare name, so keys recorded before images existed still match.
    pub fn suffix(self) -> &'static str {
        match self {
            Image::Plain => "",
            Image::Telemetry => "+telemetry",
        }
    }

    pub fn parse(s: &str) -> Result<Option<Vec<Image>>> {
        Ok(match s {
            "plain" => Some(vec![Image::Plain]),
            "telemetry" => Some(vec![Image::Telemetry]),
            "both" | "all" => Some(vec![Image::Plain, Image::Telemetry]),
            "" | "default" => None,
            _ => bail!("unknown image `{s}` (plain, telemetry or both)"),
        })
    }
}

/// What an experiment boots and how it reads its figures (module docs, "Measures").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    #[default]
    Probe,
    TelemetryThroughput,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Definition {
    pub name: String,
    pub description: String,
    pub system: String,
    #[serde(default = "d_iterations")]
    pub iterations: usize,
    #[serde(default = "d_warmup")]
    pub warmup: usize,
    #[serde(default = "d_runs")]
    pub runs: usize,
    #[serde(default = "d_timeout")]
    pub timeout: u64,
    #[serde(default = "d_modes")]
    pub modes: Vec<Mode>,
    /// Why a mode is missing from `modes` (printed in the report).
    #[serde(default)]
    pub mode_note: Option<String>,
    #[serde(default)]
    pub native: Option<String>,
    #[serde(default)]
    pub trace: bool,
    /// The builds measured (default: both).
    #[serde(default = "d_images")]
    pub images: Vec<Image>,
    /// Per trap: the telemetry image's median minus the plain one's, over `traps`.
    #[serde(default)]
    pub telemetry_cost_target: Option<f64>,
    #[serde(default)]
    pub measure: Measure,
    #[serde(default = "d_variants")]
    pub variant: Vec<Variant>,
    #[serde(default)]
    pub metric: Vec<MetricDef>,
    /// The file it came from.
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub system: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub at_least: Option<f64>,
    #[serde(default)]
    pub max_over_native: Option<f64>,
    #[serde(default)]
    pub native_ratio: Option<f64>,
    #[serde(default)]
    pub ratio_to: Option<String>,
    #[serde(default)]
    pub max_ratio: Option<f64>,
    /// The variants the targets apply to (default: all but `native`).
    #[serde(default)]
    pub variants: Vec<String>,
    /// The mode whose medians the targets judge (default: deterministic).
    #[serde(default = "d_target_mode")]
    pub target_mode: Mode,
    /// Traps taken inside one sample's window: divides the telemetry image's extra cost
    /// into a cost per trap. Unset: the difference is shown per sample, not judged.
    #[serde(default)]
    pub traps: Option<u32>,
    /// Unit of the samples (default: the mode's).
    #[serde(default)]
    pub unit: Option<String>,
}

fn d_iterations() -> usize {
    1000
}
fn d_warmup() -> usize {
    16
}
fn d_runs() -> usize {
    1
}
fn d_timeout() -> u64 {
    60
}
fn d_modes() -> Vec<Mode> {
    vec![Mode::Deterministic, Mode::WallClock]
}
fn d_images() -> Vec<Image> {
    vec![Image::Plain, Image::Telemetry]
}
fn d_target_mode() -> Mode {
    Mode::Deterministic
}
fn d_variants() -> Vec<Variant> {
    vec![Variant {
        name: "static".into(),
        features: vec![],
        system: None,
    }]
}

/// `experiments/`.
pub fn dir() -> PathBuf {
    paths::root().join("experiments")
}

impl Definition {
    /// Reads and checks one definition.
    pub fn load(path: &Path) -> Result<Definition> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut d: Definition =
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        d.file = path.to_path_buf();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if d.name != stem {
            bail!(
                "{}: name = \"{}\" must be the file's name (\"{stem}\")",
                path.display(),
                d.name
            );
        }
        if d.iterations == 0 || d.iterations > 10_000 {
            bail!(
                "{}: iterations must be 1..=10000 (the probes' buffer), not {}",
                path.display(),
                d.iterations
            );
        }
        if d.runs == 0 || d.modes.is_empty() || d.variant.is_empty() {
            bail!(
                "{}: runs, modes and variants must not be empty",
                path.display()
            );
        }
        let mut names: Vec<&str> = d.variant.iter().map(|v| v.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) || names.contains(&"native") {
            bail!(
                "{}: variant names must be unique and not `native` (reserved)",
                path.display()
            );
        }
        if d.images.is_empty() {
            bail!("{}: images must not be empty", path.display());
        }
        let net = |v: &Variant| v.features.iter().any(|f| f.starts_with("telemetry"));
        match d.measure {
            Measure::Probe => {
                if let Some(v) = d.variant.iter().find(|v| net(v)) {
                    bail!(
                        "{}: variant `{}`: probe experiments choose telemetry with `images` \
                         (the probes' lines are read from the UART stream), not with features",
                        path.display(),
                        v.name
                    );
                }
            }
            Measure::TelemetryThroughput => {
                if d.images != [Image::Telemetry] || d.modes != [Mode::WallClock] {
                    bail!(
                        "{}: measure = \"telemetry-throughput\" needs images = [\"telemetry\"] \
                         and modes = [\"wall-clock\"] (a rate of host time)",
                        path.display()
                    );
                }
                if d.native.is_some() || d.trace {
                    bail!(
                        "{}: measure = \"telemetry-throughput\" has no native or trace boot",
                        path.display()
                    );
                }
            }
        }
        for m in &d.metric {
            if m.max_ratio.is_some() && m.ratio_to.is_none() {
                bail!(
                    "{}: metric `{}`: max-ratio needs ratio-to",
                    path.display(),
                    m.name
                );
            }
        }
        Ok(d)
    }

    /// The definition of metric `name`, if any.
    pub fn metric_def(&self, name: &str) -> Option<&MetricDef> {
        self.metric.iter().find(|m| m.name == name)
    }
}

/// Every definition, sorted by name.
pub fn all() -> Result<Vec<Definition>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.iter().map(|p| Definition::load(p)).collect()
}

/// The definition called `name` (with a near-miss suggestion when there is none).
pub fn find(name: &str) -> Result<Definition> {
    let path = dir().join(format!("{name}.toml"));
    if path.is_file() {
        return Definition::load(&path);
    }
    let known: Vec<String> = all()?.into_iter().map(|d| d.name).collect();
    let near = known
        .iter()
        .min_by_key(|k| strsim::levenshtein(k, name))
        .filter(|k| strsim::levenshtein(k, name) <= 3);
    match near {
        Some(n) => bail!(
            "no experiment `{name}` — did you mean `{n}`? (known: {})",
            known.join(", ")
        ),
        None => bail!("no experiment `{name}` (known: {})", known.join(", ")),
    }
}

/// The cargo features the `hv` crate declares (hv/Cargo.toml `[features]`).
pub fn hv_features() -> Result<Vec<String>> {
    let path = paths::root().join("hv").join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: toml::Table = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    Ok(v.get("features")
        .and_then(|f| f.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_definitions_load() {
        let defs = all().unwrap();
        assert!(
            defs.iter().any(|d| d.name == "hypercall"),
            "{:?}",
            defs.iter().map(|d| &d.name).collect::<Vec<_>>()
        );
        for d in &defs {
            let system = paths::root()
                .join("boards/qemu-virt/systems")
                .join(format!("{}.toml", d.system));
            // A variant may name a system that does not exist yet (it is then skipped).
            assert!(
                system.is_file() || d.variant.iter().all(|v| v.system.is_some()),
                "{}: {}",
                d.name,
                d.system
            );
        }
    }

    #[test]
    fn unknown_fields_and_bad_names_are_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-exp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.toml");
        std::fs::write(
            &p,
            "name = \"x\"\ndescription = \"d\"\nsystem = \"s\"\nbogus = 1\n",
        )
        .unwrap();
        assert!(format!("{:#}", Definition::load(&p).unwrap_err()).contains("bogus"));
        std::fs::write(&p, "name = \"y\"\ndescription = \"d\"\nsystem = \"s\"\n").unwrap();
        assert!(
            Definition::load(&p)
                .unwrap_err()
                .to_string()
                .contains("file's name")
        );
        std::fs::write(&p, "name = \"x\"\ndescription = \"d\"\nsystem = \"s\"\n").unwrap();
        let d = Definition::load(&p).unwrap();
        assert_eq!(d.variant[0].name, "static");
        assert_eq!(d.modes, vec![Mode::Deterministic, Mode::WallClock]);
        assert_eq!(d.images, vec![Image::Plain, Image::Telemetry]);
        assert_eq!(d.measure, Measure::Probe);
        std::fs::write(
            &p,
            "name = \"x\"\ndescription = \"d\"\nsystem = \"s\"\n\
             [[variant]]\nname = \"v\"\nfeatures = [\"telemetry-net\"]\n",
        )
        .unwrap();
        assert!(format!("{:#}", Definition::load(&p).unwrap_err()).contains("images"));
        std::fs::write(
            &p,
            "name = \"x\"\ndescription = \"d\"\nsystem = \"s\"\nmeasure = \"telemetry-throughput\"\n",
        )
        .unwrap();
        assert!(format!("{:#}", Definition::load(&p).unwrap_err()).contains("wall-clock"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn near_misses() {
        let e = find("hypercal").unwrap_err().to_string();
        assert!(e.contains("did you mean `hypercall`?"), "{e}");
        let e = find("nonsense-name").unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(find("hypercall").is_ok());
    }
}
