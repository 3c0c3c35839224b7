//! Plots of an experiment, SVG and PNG (plotters; DejaVu Sans embedded, as in hvmon):
//! - `<metric>-<mode>-hist`: a histogram per variant;
//! - `<metric>-<mode>-cdf`: the CDFs of all variants on one axis;
//! - `compare-<mode>`: median (bar) and p99 (line) of every metric per variant, and each
//!   metric's target (a labelled red line across its group) in the mode the targets judge.
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::def::Mode;
use super::stats::Stats;
use super::{Outcome, Series};

const SIZE: (u32, u32) = (1000, 650);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
}

/// Draws `f` into `<dir>/<name>.svg` and `.png`.
fn both(
    dir: &Path,
    name: &str,
    f: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    g: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    both_sized(dir, name, 1, f, g)
}

/// [`both`] for a figure of `rows` panels stacked, each of the usual height.
fn both_sized(
    dir: &Path,
    name: &str,
    rows: u32,
    f: &dyn Fn(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    g: &dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    let size = (SIZE.0, SIZE.1 * rows.max(1));
    let svg = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        f(&root)?;
        root.present().map_err(err)?;
    }
    let png = dir.join(format!("{name}.png"));
    let root = BitMapBackend::new(&png, size).into_drawing_area();
    g(&root)?;
    root.present().map_err(err)?;
    Ok(())
}

/// All plots of `o` into `dir`.
pub fn write(dir: &Path, o: &Outcome) -> Result<()> {
    // A throughput run gives one figure per boot: nothing to draw a distribution of.
    if o.def.measure != super::def::Measure::Probe {
        return Ok(());
    }
    register_font();
    std::fs::create_dir_all(dir)?;
    let mut by_metric: BTreeMap<(String, Mode), Vec<&Series>> = BTreeMap::new();
    for s in &o.series {
        by_metric
            .entry((s.metric.clone(), s.mode))
            .or_default()
            .push(s);
    }
    for ((metric, mode), series) in &by_metric {
        let base = format!("{metric}-{}", mode.name());
        both(
            dir,
            &format!("{base}-hist"),
            &|r| hist(r, metric, *mode, series),
            &|r| hist(r, metric, *mode, series),
        )?;
        both(
            dir,
            &format!("{base}-cdf"),
            &|r| cdf(r, metric, *mode, series),
            &|r| cdf(r, metric, *mode, series),
        )?;
    }
    for mode in [Mode::Deterministic, Mode::WallClock] {
        let series: Vec<&Series> = o.series.iter().filter(|s| s.mode == mode).collect();
        if !series.is_empty() {
            // Metrics of different units (instructions, µJ, counts) get a panel each: one
            // axis would flatten the small ones to nothing.
            let mut by_unit: BTreeMap<String, Vec<&Series>> = BTreeMap::new();
            for s in &series {
                let unit = o
                    .def
                    .metric
                    .iter()
                    .find(|m| m.name == s.metric)
                    .and_then(|m| m.unit.clone())
                    .unwrap_or_else(|| mode.unit().to_string());
                by_unit.entry(unit).or_default().push(s);
            }
            let groups: Vec<(String, Vec<&Series>)> = by_unit.into_iter().collect();
            let t = targets(o, mode);
            let name = format!("compare-{}", mode.name());
            both_sized(
                dir,
                &name,
                groups.len() as u32,
                &|r| compare_panels(r, &o.def.name, mode, &groups, &t),
                &|r| compare_panels(r, &o.def.name, mode, &groups, &t),
            )?;
        }
    }
    Ok(())
}

fn hist<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metric: &str,
    mode: Mode,
    series: &[&Series],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((series.len().max(1), 1));
    for (i, (area, s)) in areas.iter().zip(series).enumerate() {
        let Some(st) = Stats::of(&s.values) else {
            continue;
        };
        let (lo, hi) = (st.min, st.p99.max(st.min + 1));
        let bins = 40u64;
        let width = (hi - lo).div_ceil(bins).max(1);
        let mut counts = vec![0u64; bins as usize + 1];
        for &v in &s.values {
            let b = (v.saturating_sub(lo) / width).min(bins) as usize;
            counts[b] += 1;
        }
        let ymax = counts.iter().copied().max().unwrap_or(1).max(1);
        let caption = format!(
            "{metric} — {} ({}, {}): n={} median={:.0} p99={} max={} (last bin: ≥ p99)",
            s.label(),
            mode.name(),
            mode.unit(),
            st.count,
            st.median,
            st.p99,
            st.max
        );
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(26)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..lo + width * (bins + 1), 0u64..ymax + ymax / 10)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc("count")
            .draw()
            .map_err(err)?;
        let color = Palette99::pick(i).mix(0.7).filled();
        chart
            .draw_series(counts.iter().enumerate().map(|(b, &c)| {
                let x = lo + b as u64 * width;
                Rectangle::new([(x, 0), (x + width, c)], color)
            }))
            .map_err(err)?;
    }
    Ok(())
}

fn cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metric: &str,
    mode: Mode,
    series: &[&Series],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let lo = series
        .iter()
        .flat_map(|s| s.values.iter())
        .copied()
        .min()
        .unwrap_or(0);
    let hi = series
        .iter()
        .flat_map(|s| s.values.iter())
        .copied()
        .max()
        .unwrap_or(1)
        .max(lo + 1);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!("{metric}: CDF ({}, {})", mode.name(), mode.unit()),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(50)
        .build_cartesian_2d(lo as f64..hi as f64 * 1.02, 0f64..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(mode.unit())
        .y_desc("fraction ≤ x")
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let mut v = s.values.clone();
        v.sort_unstable();
        let n = v.len() as f64;
        let mut pts = Vec::with_capacity(v.len() * 2);
        for (k, &x) in v.iter().enumerate() {
            pts.push((x as f64, k as f64 / n));
            pts.push((x as f64, (k + 1) as f64 / n));
        }
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?
            .label(s.label())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A metric's target as a value on the plot's axis.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    metric: String,
    value: f64,
    label: String,
}

/// The targets of `o`'s metrics that judge `mode`, resolved to values: absolute ones as
/// they are, relative ones (over or times native, times another series) from the medians of
/// this outcome's series (left out when that series did not run).
fn targets(o: &Outcome, mode: Mode) -> Vec<Target> {
    let median = |pred: &dyn Fn(&Series) -> bool| {
        o.series
            .iter()
            .find(|s| s.mode == mode && pred(s))
            .and_then(|s| Stats::of(&s.values))
            .map(|s| s.median)
    };
    let mut out = Vec::new();
    for m in o.def.metric.iter().filter(|m| m.target_mode == mode) {
        let native = median(&|s| s.variant == "native" && s.metric == m.name);
        let mut push = |value: f64, label: String| {
            out.push(Target {
                metric: m.name.clone(),
                value,
                label,
            })
        };
        if let Some(t) = m.target {
            push(t, format!("target ≤ {}", num(t)));
        }
        if let Some(t) = m.at_least {
            push(t, format!("target ≥ {}", num(t)));
        }
        if let (Some(t), Some(n)) = (m.max_over_native, native) {
            push(
                n + t,
                format!("target ≤ native + {} = {}", num(t), num(n + t)),
            );
        }
        if let (Some(r), Some(n)) = (m.native_ratio, native) {
            push(n * r, format!("target ≤ {r}× native = {}", num(n * r)));
        }
        if let (Some(key), Some(r)) = (&m.ratio_to, m.max_ratio)
            && let Some(n) = median(&|s| &s.key() == key)
        {
            push(n * r, format!("target ≤ {r}× {key} = {}", num(n * r)));
        }
    }
    out
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One [`compare`] panel per unit, stacked.
fn compare_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    exp: &str,
    mode: Mode,
    groups: &[(String, Vec<&Series>)],
    targets: &[Target],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((groups.len().max(1), 1));
    for (area, (unit, series)) in panels.iter().zip(groups) {
        compare(area, exp, mode, unit, series, targets)?;
    }
    Ok(())
}

fn compare<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    exp: &str,
    mode: Mode,
    unit: &str,
    series: &[&Series],
    targets: &[Target],
) -> Result<()> {
    let mut metrics: Vec<String> = series.iter().map(|s| s.metric.clone()).collect();
    metrics.dedup();
    metrics.sort();
    metrics.dedup();
    let mut variants: Vec<String> = series.iter().map(|s| s.label()).collect();
    variants.sort();
    variants.dedup();
    let ymax = series
        .iter()
        .filter_map(|s| Stats::of(&s.values))
        .map(|s| s.p99)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let ymax = targets
        .iter()
        .filter(|t| metrics.contains(&t.metric))
        .map(|t| t.value)
        .fold(ymax, f64::max)
        * 1.15;
    let slots = metrics.len() * (variants.len() + 1);
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{exp}: median (bar) and p99 (tick) per variant — {}, {unit}",
                mode.name(),
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..slots as f64, 0f64..ymax)
        .map_err(err)?;
    let m2 = metrics.clone();
    let nv = variants.len() + 1;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(slots)
        .x_label_formatter(&move |x| {
            let i = *x as usize;
            if i.is_multiple_of(nv) {
                m2.get(i / nv).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(unit)
        .draw()
        .map_err(err)?;
    for (vi, v) in variants.iter().enumerate() {
        let color = Palette99::pick(vi).mix(0.75).filled();
        let mut bars = Vec::new();
        let mut ticks = Vec::new();
        // Each median written over its bar: variants can differ by orders of magnitude
        // (nested vs shadow paging), and a bar of 4 beside one of 1232 is invisible.
        let mut values = Vec::new();
        for (mi, m) in metrics.iter().enumerate() {
            if let Some(st) = series
                .iter()
                .find(|s| &s.label() == v && &s.metric == m)
                .and_then(|s| Stats::of(&s.values))
            {
                let x = (mi * nv + vi) as f64 + 0.1;
                bars.push(Rectangle::new([(x, 0.0), (x + 0.8, st.median)], color));
                ticks.push(PathElement::new(
                    vec![(x, st.p99 as f64), (x + 0.8, st.p99 as f64)],
                    BLACK.stroke_width(2),
                ));
                values.push(Text::new(
                    num(st.median),
                    (x + 0.4, st.median + ymax * 0.005),
                    ("sans-serif", 11)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                ));
            }
        }
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(v.clone())
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 10, y + 5)], Palette99::pick(vi).filled())
            });
        chart.draw_series(ticks).map_err(err)?;
        chart.draw_series(values).map_err(err)?;
    }
    // each target across its metric's group of bars, labelled above the line
    for t in targets {
        let Some(mi) = metrics.iter().position(|m| *m == t.metric) else {
            continue;
        };
        let (x0, x1) = ((mi * nv) as f64, (mi * nv + nv - 1) as f64);
        chart
            .draw_series([PathElement::new(
                vec![(x0, t.value), (x1, t.value)],
                RED.stroke_width(2),
            )])
            .map_err(err)?;
        chart
            .draw_series([Text::new(
                t.label.clone(),
                (x0 + 0.1, t.value + ymax * 0.01),
                ("sans-serif", 13)
                    .into_font()
                    .color(&RED)
                    .pos(Pos::new(HPos::Left, VPos::Bottom)),
            )])
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{test_outcome, test_series};
    use super::*;

    const DEF: &str = r#"
name = "exp"
description = "d"
system = "s"
[[metric]]
name = "switch"
target = 300
[[metric]]
name = "hvc"
max-over-native = 90
[[metric]]
name = "lw"
ratio-to = "exp/static/switch"
max-ratio = 0.5
"#;

    fn outcome() -> Outcome {
        let d = Mode::Deterministic;
        test_outcome(
            DEF,
            vec![
                test_series("static", d, "switch", vec![250, 260, 270]),
                test_series("static", d, "hvc", vec![150, 150, 150]),
                test_series("native", d, "hvc", vec![100, 100, 100]),
                test_series("static", d, "lw", vec![100, 110, 120]),
                test_series("static", Mode::WallClock, "switch", vec![9000]),
            ],
        )
    }

    #[test]
    fn targets_resolve_against_the_outcomes_medians() {
        let t = targets(&outcome(), Mode::Deterministic);
        let got: Vec<(&str, f64)> = t.iter().map(|t| (t.metric.as_str(), t.value)).collect();
        assert_eq!(got, [("switch", 300.0), ("hvc", 190.0), ("lw", 130.0)]);
        // the targets judge the deterministic mode only
        assert!(targets(&outcome(), Mode::WallClock).is_empty());
    }

    #[test]
    fn the_compare_plot_draws_each_target_as_a_labelled_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &outcome()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("compare-deterministic.svg")).unwrap();
        for label in [
            "target ≤ 300",
            "target ≤ native + 90 = 190",
            "target ≤ 0.5× exp/static/switch = 130",
        ] {
            assert!(svg.contains(label), "no `{label}` in the SVG");
        }
        // one red line per target
        assert_eq!(svg.matches(r##"stroke="#FF0000""##).count(), 3);
        let wall = std::fs::read_to_string(dir.path().join("compare-wall-clock.svg")).unwrap();
        assert!(!wall.contains("target"));
    }
}
