//! Plots of a recording: latency histograms and a switch timeline, as SVG and PNG.
//!
//! - `latency`: one log-binned histogram per exit reason (service time), per switch trigger
//!   (vCPU→vCPU switch cost), and for interrupt injection and wake-up latency when the stream
//!   has them; the x axis is logarithmic, in the unit that suits the data (ns/µs/ms). A
//!   distribution whose samples are all equal (deterministic runs) is one labelled bar.
//! - `timeline`: which vCPU runs on each physical CPU over time (any number of CPUs), x in
//!   µs/ms since the first record; the legend sits beside the chart, never over the data.
//!
//! - `memory` (streams with `Elastic` records, feature `balloon`): blocks of each elastic
//!   pool held by each VM over time, one step line per (pool, VM), x as in `timeline`.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (plotters' `ab_glyph` backend), so no
//! fontconfig or system fonts are needed — the plots look the same on every machine and in CI.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Result, anyhow};
use hv_protocol::{Event, TrapKind};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::info::Info;
use crate::session::{Session, Update};
use crate::stat::{Dist, trigger_name};
use crate::time::{axis_unit, fmt_ns};

/// One vCPU running on one physical CPU, in ns since the first record.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub cpu: u16,
    pub vcpu: u16,
    pub start_ns: u64,
    pub end_ns: u64,
}

/// One histogram panel: a title and its samples as (value ns, count).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub values: Vec<(u64, u64)>,
    pub count: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
}

impl Panel {
    fn of(title: String, d: &Dist) -> Option<Panel> {
        (d.count > 0 && d.has_histogram()).then(|| Panel {
            title,
            values: d.values(),
            count: d.count,
            min_ns: d.min_ns,
            max_ns: d.max_ns,
            p50_ns: d.quantile(0.5),
            p99_ns: d.quantile(0.99),
        })
    }

    fn of_hdr(title: &str, h: &hdrhistogram::Histogram<u64>) -> Option<Panel> {
        (!h.is_empty()).then(|| Panel {
            title: title.into(),
            values: h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
            count: h.len(),
            min_ns: h.min(),
            max_ns: h.max(),
            p50_ns: Some(h.value_at_quantile(0.5)),
            p99_ns: Some(h.value_at_quantile(0.99)),
        })
    }
}

/// Log-spaced bins over the samples: (low edge, high edge, count). All samples equal: one
/// bin of ±5 % around the value.
pub fn log_bins(values: &[(u64, u64)], n: usize) -> Vec<(f64, f64, u64)> {
    let Some(lo) = values.iter().map(|v| v.0.max(1)).min() else {
        return Vec::new();
    };
    let hi = values.iter().map(|v| v.0.max(1)).max().unwrap_or(lo);
    if lo == hi {
        let total = values.iter().map(|v| v.1).sum();
        return vec![(lo as f64 * 0.95, hi as f64 * 1.05, total)];
    }
    let (l, h) = ((lo as f64).ln(), (hi as f64 * 1.0001).ln());
    let step = (h - l) / n as f64;
    let mut bins: Vec<(f64, f64, u64)> = (0..n)
        .map(|i| {
            (
                (l + step * i as f64).exp(),
                (l + step * (i + 1) as f64).exp(),
                0,
            )
        })
        .collect();
    for &(v, c) in values {
        let i = (((v.max(1) as f64).ln() - l) / step) as usize;
        bins[i.min(n - 1)].2 += c;
    }
    bins
}

const SIZE: (u32, u32) = (1100, 700);
const LEGEND_WIDTH: u32 = 230;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is valid TTF shipped by the crate; failure would be a packaging bug.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Most timeline slices kept (memory stays bounded for any recording; the timeline of a longer
/// run ends at the last slice kept, and says so).
pub const MAX_SLICES: usize = 100_000;

/// The switch timeline of a session's records (at most [`MAX_SLICES`]).
pub fn timeline_slices(recording: &Path) -> Result<(Vec<Slice>, Session)> {
    let mut slices = Vec::new();
    let mut open: std::collections::BTreeMap<u16, (u16, u64)> = Default::default();
    let mut t0 = None;
    let mut last = 0;
    let session = Session::replay_file(recording, |info, u| {
        if let Update::Record(h, e) = u {
            let clock = info.map(Info::clock).unwrap_or(crate::time::Clock::new(0));
            let t = clock.ns(h.ts.saturating_sub(*t0.get_or_insert(h.ts)));
            last = last.max(t);
            if let Event::Switch { to, .. } = e {
                if slices.len() >= MAX_SLICES {
                    return;
                }
                if let Some((vcpu, start)) = open.remove(&h.cpu) {
                    slices.push(Slice {
                        cpu: h.cpu,
                        vcpu,
                        start_ns: start,
                        end_ns: t,
                    });
                }
                if let Some(v) = to {
                    open.insert(h.cpu, (*v, t));
                }
            }
        }
    })?;
    let full = slices.len() >= MAX_SLICES;
    for (cpu, (vcpu, start)) in open {
        if full {
            break;
        }
        slices.push(Slice {
            cpu,
            vcpu,
            start_ns: start,
            end_ns: last,
        });
    }
    Ok((slices, session))
}

/// The histogram panels of a session: exits by reason, switch cost by trigger, injection and
/// wake-up latency.
pub fn panels(session: &Session) -> Vec<Panel> {
    let m = &session.metrics;
    let mut v: Vec<Panel> = TrapKind::ALL
        .iter()
        .zip(&m.stat.total.by_kind)
        .filter_map(|(k, d)| Panel::of(format!("{} exit service time", k.name()), d))
        .collect();
    v.extend(
        m.stat
            .switches
            .cost
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                Panel::of(format!("vCPU switch cost after {}", trigger_name(i)), d)
            }),
    );
    v.extend(Panel::of_hdr(
        "interrupt injection latency",
        &m.irq_latency_ns,
    ));
    v.extend(Panel::of_hdr("wake-up latency", &m.wakeup_ns));
    v
}

/// One VM's share of one elastic pool over time: (ns since the first record, blocks
/// held), a point at every change, the first at 0 with the count before the first change.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySeries {
    pub pool: u16,
    pub vm: u16,
    pub points: Vec<(u64, u32)>,
}

/// The elastic-memory series of a session, ordered by (pool, VM); the last point of each
/// is repeated at the session's last record so every line spans the run.
pub fn memory_series(session: &Session) -> Vec<MemorySeries> {
    let m = &session.metrics;
    let clock = session
        .info()
        .map(Info::clock)
        .unwrap_or(crate::time::Clock::new(0));
    let t0 = m.first_ts.unwrap_or(0);
    let ns = |ts: u64| clock.ns(ts.saturating_sub(t0));
    let mut by: std::collections::BTreeMap<(u16, u16), Vec<(u64, u32)>> = Default::default();
    for c in &m.elastic {
        let pts = by.entry((c.pool, c.vm)).or_default();
        if pts.is_empty() {
            pts.push((0, c.from));
        }
        pts.push((ns(c.ts), c.to));
    }
    let end = m.last_ts.map_or(0, ns);
    by.into_iter()
        .map(|((pool, vm), mut points)| {
            if let Some(&(t, n)) = points.last()
                && t < end
            {
                points.push((end, n));
            }
            MemorySeries { pool, vm, points }
        })
        .collect()
}

/// Which chart a file holds.
#[derive(Debug, Clone, Copy)]
enum Chart {
    Latency,
    Timeline,
    Memory,
}

/// What the charts are drawn from.
struct Data<'a> {
    panels: &'a [Panel],
    slices: &'a [Slice],
    memory: &'a [MemorySeries],
    info: Option<&'a Info>,
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: Chart, d: &Data) -> Result<()> {
    match chart {
        Chart::Latency => latency(root, d.panels),
        Chart::Timeline => timeline(root, d.slices, d.info),
        Chart::Memory => memory_chart(root, d.memory, d.info),
    }
}

/// Writes `chart` as `svg` and `png` (the same drawing on both backends).
fn write_both(svg: &Path, png: &Path, size: (u32, u32), chart: Chart, d: &Data) -> Result<()> {
    {
        let root = SVGBackend::new(svg, size).into_drawing_area();
        draw(&root, chart, d)?;
        root.present()
            .map_err(|e| anyhow!("{}: {e}", svg.display()))?;
    }
    let root = BitMapBackend::new(png, size).into_drawing_area();
    draw(&root, chart, d)?;
    root.present()
        .map_err(|e| anyhow!("{}: {e}", png.display()))?;
    Ok(())
}

/// Replays `recording` and writes `latency.{svg,png}`, `timeline.{svg,png}` and, when the
/// stream has elastic-memory records, `memory.{svg,png}` into `dir`; returns the files
/// written and the replayed session (for its loss accounting).
pub fn plot(recording: &Path, dir: &Path) -> Result<(Vec<PathBuf>, Session)> {
    let (slices, session) = timeline_slices(recording)?;
    std::fs::create_dir_all(dir)?;
    register_font();
    let panels = panels(&session);
    let memory = memory_series(&session);
    let d = Data {
        panels: &panels,
        slices: &slices,
        memory: &memory,
        info: session.info(),
    };
    let mut written = Vec::new();
    let lat_size = (SIZE.0, (200 * panels.len().max(1) as u32).clamp(300, 2400));
    let mut charts = vec![("latency", Chart::Latency), ("timeline", Chart::Timeline)];
    if !memory.is_empty() {
        charts.push(("memory", Chart::Memory));
    }
    for (name, chart) in charts {
        let svg = dir.join(format!("{name}.svg"));
        let png = dir.join(format!("{name}.png"));
        let size = match chart {
            Chart::Latency => lat_size,
            _ => SIZE,
        };
        write_both(&svg, &png, size, chart, &d)?;
        written.extend([svg, png]);
    }
    Ok((written, session))
}

/// Only the memory chart of `recording`, as `<stem>.memory.svg` and `.png` beside `stem`
/// (the experiments' recordings); nothing when the stream has no elastic records.
pub fn memory_only(recording: &Path, stem: &Path) -> Result<Vec<PathBuf>> {
    let session = Session::replay_file(recording, |_, _| {})?;
    let memory = memory_series(&session);
    if memory.is_empty() {
        return Ok(Vec::new());
    }
    register_font();
    let d = Data {
        panels: &[],
        slices: &[],
        memory: &memory,
        info: session.info(),
    };
    let svg = stem.with_extension("memory.svg");
    let png = stem.with_extension("memory.png");
    write_both(&svg, &png, SIZE, Chart::Memory, &d)?;
    Ok(vec![svg, png])
}

fn memory_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[MemorySeries],
    info: Option<&Info>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
    let end_ns = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .max()
        .unwrap_or(1)
        .max(1);
    let (div, unit) = axis_unit(end_ns as f64);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption("elastic memory held by each VM", ("sans-serif", 22))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(0u64..end_ns, 0u32..top + 1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(format!("{unit} since the first record"))
        .y_desc("blocks held")
        .x_label_formatter(&|v| format!("{:.1}", *v as f64 / div))
        .draw()
        .map_err(err)?;
    let name = |vm: u16| info.map_or(format!("vm{vm}"), |i| i.vm_name(vm));
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i);
        // a step line: hold the count until the next change
        let mut pts = Vec::with_capacity(2 * s.points.len());
        for w in s.points.windows(2) {
            pts.push(w[0]);
            pts.push((w[1].0, w[0].1));
        }
        pts.extend(s.points.last());
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(err)?;
        let y = 40 + 24 * i as i32;
        legend_area
            .draw(&Rectangle::new([(10, y), (26, y + 14)], color.filled()))
            .map_err(err)?;
        legend_area
            .draw(&Text::new(
                format!("{} (pool {})", name(s.vm), s.pool),
                (34, y),
                ("sans-serif", 16),
            ))
            .map_err(err)?;
    }
    Ok(())
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
}

fn latency<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, panels: &[Panel]) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    if panels.is_empty() {
        root.draw(&Text::new(
            "no latency samples in this recording",
            (40, 40),
            ("sans-serif", 22),
        ))
        .map_err(err)?;
        return Ok(());
    }
    let areas = root.split_evenly((panels.len(), 1));
    for (area, p) in areas.iter().zip(panels) {
        let bins = log_bins(&p.values, 40);
        let ymax = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1);
        let (x0, x1) = (
            bins.first().map_or(1.0, |b| b.0),
            bins.last().map_or(10.0, |b| b.1),
        );
        // a little room on both sides, and a decade at least so the log axis has labels
        let (x0, x1) = if x1 / x0 < 10.0 {
            let mid = (x0 * x1).sqrt();
            (mid / 3.3, mid * 3.3)
        } else {
            (x0 / 1.2, x1 * 1.2)
        };
        // the unit that reads best in the middle of the (log) axis
        let (div, unit) = axis_unit((x0 * x1).sqrt() * 10.0);
        let opt = |v: Option<u64>| v.map_or("-".into(), |n| fmt_ns(n as f64));
        let caption = if p.min_ns == p.max_ns {
            format!(
                "{}: all {} samples {}",
                p.title,
                p.count,
                fmt_ns(p.min_ns as f64)
            )
        } else {
            format!(
                "{}: n={} min {} p50 {} p99 {} max {}",
                p.title,
                p.count,
                fmt_ns(p.min_ns as f64),
                opt(p.p50_ns),
                opt(p.p99_ns),
                fmt_ns(p.max_ns as f64)
            )
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 17))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(60)
            .build_cartesian_2d((x0..x1).log_scale(), 0u64..ymax + ymax / 8 + 1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(format!("{unit} (log scale)"))
            .y_desc("samples")
            .x_label_formatter(&|v| {
                let x = v / div;
                if x >= 10.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.2}")
                }
            })
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                bins.iter()
                    .map(|&(lo, hi, c)| Rectangle::new([(lo, 0), (hi, c)], BLUE.mix(0.6).filled())),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// What the timeline draws: CPU rows, the x range and its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineAxes {
    pub cpus: u32,
    pub end_ns: u64,
    pub unit: &'static str,
    pub divisor: f64,
}

/// The axes for `slices`: every CPU that ran something gets a row (at least one).
pub fn timeline_axes(slices: &[Slice]) -> TimelineAxes {
    let cpus = slices
        .iter()
        .map(|s| s.cpu)
        .max()
        .map_or(1, |c| u32::from(c) + 1);
    let end_ns = slices.iter().map(|s| s.end_ns).max().unwrap_or(1).max(1);
    let (divisor, unit) = axis_unit(end_ns as f64);
    TimelineAxes {
        cpus,
        end_ns,
        unit,
        divisor,
    }
}

fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    slices: &[Slice],
    info: Option<&Info>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
    let ax = timeline_axes(slices);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            if slices.len() >= MAX_SLICES {
                format!("vCPU on each physical CPU (the first {MAX_SLICES} slices)")
            } else {
                "vCPU on each physical CPU".to_string()
            },
            ("sans-serif", 22),
        )
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..ax.end_ns, 0f64..f64::from(ax.cpus))
        .map_err(err)?;
    let div = ax.divisor;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(format!("{} since the first record", ax.unit))
        .x_label_formatter(&|v| {
            let x = *v as f64 / div;
            if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        })
        .draw()
        .map_err(err)?;
    // one row per CPU, cpu 0 at the top, labelled in the label area
    let row = |cpu: u16| f64::from(ax.cpus) - f64::from(cpu) - 1.0;
    for cpu in 0..ax.cpus as u16 {
        let (px, py) = chart.backend_coord(&(0, row(cpu) + 0.5));
        chart_area
            .draw(&Text::new(
                format!("cpu {cpu}"),
                (px - 55, py - 8),
                ("sans-serif", 16),
            ))
            .map_err(err)?;
    }
    let label = |v: u16| info.map_or(format!("vcpu{v}"), |i| i.vcpu_label(v));
    chart
        .draw_series(slices.iter().map(|s| {
            let color = Palette99::pick(s.vcpu as usize).mix(0.8).filled();
            let y = row(s.cpu);
            Rectangle::new(
                [
                    (s.start_ns, y + 0.1),
                    (s.end_ns.max(s.start_ns + 1), y + 0.9),
                ],
                color,
            )
        }))
        .map_err(err)?;
    // the legend: one entry per vCPU seen, beside the chart
    let mut vcpus: Vec<u16> = slices.iter().map(|s| s.vcpu).collect();
    vcpus.sort_unstable();
    vcpus.dedup();
    legend_area
        .draw(&Text::new("vCPU", (10, 40), ("sans-serif", 18)))
        .map_err(err)?;
    for (i, v) in vcpus.iter().take(30).enumerate() {
        let y = 70 + 24 * i as i32;
        legend_area
            .draw(&Rectangle::new(
                [(10, y), (26, y + 14)],
                Palette99::pick(*v as usize).mix(0.8).filled(),
            ))
            .map_err(err)?;
        legend_area
            .draw(&Text::new(label(*v), (34, y), ("sans-serif", 16)))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bins_cover_every_sample() {
        let v = [(100, 5), (1000, 3), (100_000, 1)];
        let b = log_bins(&v, 20);
        assert_eq!(b.len(), 20);
        assert_eq!(b.iter().map(|x| x.2).sum::<u64>(), 9);
        assert!(b[0].0 <= 100.0 + 1e-6 && b[19].1 >= 100_000.0);
        assert_eq!(b[0].2, 5);
        let one = log_bins(&[(504, 1000)], 20);
        assert_eq!(one.len(), 1, "deterministic: one bar");
        assert_eq!(one[0].2, 1000);
        assert!(log_bins(&[], 20).is_empty());
    }

    #[test]
    fn one_cpu_gets_a_row_and_axes_have_units() {
        let s = [Slice {
            cpu: 0,
            vcpu: 0,
            start_ns: 0,
            end_ns: 250_000,
        }];
        let ax = timeline_axes(&s);
        assert_eq!((ax.cpus, ax.unit), (1, "µs"));
        assert_eq!(timeline_axes(&[]).cpus, 1);
    }
}
