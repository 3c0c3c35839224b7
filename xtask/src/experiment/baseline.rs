//! The committed baseline (`experiments/baseline.json`): deterministic medians by
//! `experiment/variant/metric`. Deterministic counts repeat exactly for the same code and
//! QEMU, so any change is the code's (or QEMU's: its version is stored with them).
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::def::Mode;
use super::stats::Stats;
use super::{Outcome, def};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub note: String,
    /// Relative margin `--check` allows by default.
    pub margin: f64,
    /// QEMU the numbers were taken with.
    pub qemu: String,
    pub metrics: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub median: f64,
    pub p99: u64,
    pub unit: String,
}

/// One metric against the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub key: String,
    pub base: f64,
    pub now: f64,
    /// (now − base) / base.
    pub change: f64,
    pub regressed: bool,
    pub improved: bool,
}

fn path() -> PathBuf {
    def::dir().join("baseline.json")
}

impl Baseline {
    /// The committed baseline, if there is one.
    pub fn load() -> Result<Option<Baseline>> {
        let p = path();
        if !p.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p)?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("{}", p.display()))?,
        ))
    }

    /// Deterministic medians of `outcomes` against the baseline; worse by more than `margin`
    /// (and by more than one instruction) is a regression.
    pub fn compare(&self, outcomes: &[Outcome], margin: f64) -> Vec<Comparison> {
        let mut out = Vec::new();
        for s in outcomes
            .iter()
            .flat_map(|o| &o.series)
            .filter(|s| s.mode == Mode::Deterministic)
        {
            let (Some(b), Some(st)) = (self.metrics.get(&s.key()), Stats::of(&s.values)) else {
                continue;
            };
            let change = if b.median > 0.0 {
                (st.median - b.median) / b.median
            } else {
                0.0
            };
            let diff = st.median - b.median;
            out.push(Comparison {
                key: s.key(),
                base: b.median,
                now: st.median,
                change,
                regressed: change > margin && diff > 1.0,
                improved: change < -margin && diff < -1.0,
            });
        }
        out
    }

    /// Writes the deterministic medians of `outcomes` into the baseline (other keys kept).
    pub fn update(outcomes: &[Outcome], margin: f64) -> Result<PathBuf> {
        let mut b = Baseline::load()?.unwrap_or(Baseline {
            note: String::new(),
            margin,
            qemu: String::new(),
            metrics: BTreeMap::new(),
        });
        b.note = "Deterministic medians (QEMU -icount shift=0,sleep=off: instructions) of `cargo xtask \
                  experiment all --mode det`; `--check` flags a median worse by more than `margin`. \
                  Update with `cargo xtask experiment all --mode det --update-baseline`."
            .into();
        b.margin = margin;
        b.qemu = super::report::qemu_version();
        for s in outcomes
            .iter()
            .flat_map(|o| &o.series)
            .filter(|s| s.mode == Mode::Deterministic)
        {
            if let Some(st) = Stats::of(&s.values) {
                b.metrics.insert(
                    s.key(),
                    Entry {
                        median: st.median,
                        p99: st.p99,
                        unit: Mode::Deterministic.unit().into(),
                    },
                );
            }
        }
        let p = path();
        std::fs::write(&p, serde_json::to_string_pretty(&b)? + "\n")?;
        Ok(p)
    }
}
