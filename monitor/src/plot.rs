//! Plots of a recording: latency histograms and a switch timeline, as SVG and PNG.
//!
//! Text is rendered with DejaVu Sans embedded in the binary (plotters' `ab_glyph` backend), so no
//! fontconfig or system fonts are needed — the plots look the same on every machine and in CI.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Result, anyhow};
use hdrhistogram::Histogram;
use hv_protocol::Event;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::info::Info;
use crate::session::{Session, Update};

/// One vCPU running on one physical CPU, in ns since the first record.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub cpu: u16,
    pub vcpu: u16,
    pub start_ns: u64,
    pub end_ns: u64,
}

const SIZE: (u32, u32) = (1000, 700);

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

/// Replays `recording` and writes `latency.{svg,png}` and `timeline.{svg,png}` into `dir`;
/// returns the files written and the replayed session (for its loss accounting).
pub fn plot(recording: &Path, dir: &Path) -> Result<(Vec<PathBuf>, Session)> {
    let mut slices = Vec::new();
    let mut open: std::collections::BTreeMap<u16, (u16, u64)> = Default::default();
    let mut t0 = None;
    let mut last = 0;
    let session = Session::replay_file(recording, |info, u| {
        if let Update::Record(h, Event::Switch { to, .. }) = u {
            let clock = info.map(Info::clock).unwrap_or(crate::time::Clock::new(0));
            let t = clock.ns(h.ts.saturating_sub(*t0.get_or_insert(h.ts)));
            last = last.max(t);
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
    })?;
    let m = &session.metrics;
    if let (Some(f), Some(l), Some(i)) = (m.first_ts, m.last_ts, session.info()) {
        last = last.max(i.clock().ns(l - f));
    }
    for (cpu, (vcpu, start)) in open {
        slices.push(Slice {
            cpu,
            vcpu,
            start_ns: start,
            end_ns: last,
        });
    }
    std::fs::create_dir_all(dir)?;
    register_font();
    let hists = [
        ("trap duration", &m.trap_ns),
        ("IRQ injection latency", &m.irq_latency_ns),
        ("wake-up (switch) latency", &m.wakeup_ns),
    ];
    let info = session.info();
    let mut written = Vec::new();
    for (name, draw) in [("latency", 0), ("timeline", 1)] {
        let svg = dir.join(format!("{name}.svg"));
        let png = dir.join(format!("{name}.png"));
        {
            let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
            match draw {
                0 => latency(&root, &hists)?,
                _ => timeline(&root, &slices, info)?,
            }
            root.present()
                .map_err(|e| anyhow!("{}: {e}", svg.display()))?;
        }
        {
            let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
            match draw {
                0 => latency(&root, &hists)?,
                _ => timeline(&root, &slices, info)?,
            }
            root.present()
                .map_err(|e| anyhow!("{}: {e}", png.display()))?;
        }
        written.extend([svg, png]);
    }
    Ok((written, session))
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plot: {e}")
}

/// Bins of a histogram on a linear axis up to its 99.9th percentile (the tail is summed into the
/// last bin, so one outlier does not squash the plot).
fn bins(h: &Histogram<u64>, n: usize) -> (u64, Vec<u64>) {
    let top = h.value_at_quantile(0.999).max(1);
    let width = top.div_ceil(n as u64).max(1);
    let mut b = vec![0u64; n];
    for v in h.iter_recorded() {
        let i = ((v.value_iterated_to() / width) as usize).min(n - 1);
        b[i] += v.count_at_value();
    }
    (width, b)
}

fn latency<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    hists: &[(&str, &Histogram<u64>)],
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((hists.len(), 1));
    for (area, (name, h)) in areas.iter().zip(hists) {
        let (width, b) = bins(h, 50);
        let ymax = b.iter().copied().max().unwrap_or(0).max(1);
        let caption = if h.is_empty() {
            format!("{name}: no samples")
        } else {
            format!(
                "{name} (ns): n={} p50={} p99={} max={}",
                h.len(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.max()
            )
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(50)
            .build_cartesian_2d(0u64..width * b.len() as u64, 0u64..ymax + ymax / 10)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("ns")
            .y_desc("count")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(b.iter().enumerate().map(|(i, &c)| {
                let x = i as u64 * width;
                Rectangle::new([(x, 0), (x + width, c)], BLUE.mix(0.6).filled())
            }))
            .map_err(err)?;
    }
    Ok(())
}

fn timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    slices: &[Slice],
    info: Option<&Info>,
) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let cpus = slices
        .iter()
        .map(|s| s.cpu)
        .max()
        .map_or(1, |c| u32::from(c) + 1);
    let end = slices.iter().map(|s| s.end_ns).max().unwrap_or(1).max(1);
    let mut chart = ChartBuilder::on(root)
        .caption("vCPU on each physical CPU", ("sans-serif", 22))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..end, (0u32..cpus).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("ns since first record")
        .y_labels(cpus as usize + 1)
        .y_label_formatter(&|c| match c {
            SegmentValue::CenterOf(c) | SegmentValue::Exact(c) => format!("cpu {c}"),
            SegmentValue::Last => String::new(),
        })
        .draw()
        .map_err(err)?;
    let label = |v: u16| info.map_or(format!("vcpu{v}"), |i| i.vcpu_label(v));
    chart
        .draw_series(slices.iter().map(|s| {
            let color = Palette99::pick(s.vcpu as usize).mix(0.8).filled();
            Rectangle::new(
                [
                    (s.start_ns, SegmentValue::Exact(u32::from(s.cpu))),
                    (s.end_ns, SegmentValue::Exact(u32::from(s.cpu) + 1)),
                ],
                color,
            )
        }))
        .map_err(err)?;
    // a legend: one entry per vCPU seen
    let mut vcpus: Vec<u16> = slices.iter().map(|s| s.vcpu).collect();
    vcpus.sort_unstable();
    vcpus.dedup();
    for v in vcpus {
        chart
            .draw_series(std::iter::empty::<Rectangle<(u64, SegmentValue<u32>)>>())
            .map_err(err)?
            .label(label(v))
            .legend(move |(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 10, y + 5)],
                    Palette99::pick(v as usize).filled(),
                )
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}
