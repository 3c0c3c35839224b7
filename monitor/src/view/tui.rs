//! The terminal UI: consoles on the left, per-CPU rates, latencies and stream health on the right.
//! Redrawn at most 5 times a second; `q` or Esc (or Ctrl-C, which raw mode turns into a key) quits.

use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyModifiers};
use hv_protocol::TrapKind;
use ratatui::DefaultTerminal;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::state::LiveState;
use crate::source::Source;
use crate::summary::{Percentiles, Summary};

pub struct Tui {
    terminal: DefaultTerminal,
    last_draw: Instant,
}

impl Tui {
    pub fn start() -> Result<Self> {
        Ok(Tui {
            terminal: ratatui::try_init()?,
            last_draw: Instant::now() - Duration::from_secs(1),
        })
    }

    pub fn stop(self) {
        ratatui::restore();
    }

    /// Handles keys and redraws; returns true when the user wants to quit.
    pub fn tick(&mut self, state: &mut LiveState, source: &Source) -> Result<bool> {
        while event::poll(Duration::ZERO)? {
            if let TermEvent::Key(k) = event::read()? {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                    return Ok(true);
                }
            }
        }
        if self.last_draw.elapsed() >= Duration::from_millis(200) {
            state.sample_rates();
            state.fresh.clear();
            self.terminal.draw(|f| draw(f, state, source))?;
            self.last_draw = Instant::now();
        }
        Ok(false)
    }
}

fn draw(f: &mut Frame<'_>, state: &LiveState, source: &Source) {
    let [top, body] = Layout::vertical([Constraint::Length(3), Constraint::Min(5)]).areas(f.area());
    let summary = Summary::of(&state.session);
    let title = match state.session.info() {
        Some(i) => format!(
            " hvmon {source} — build {:#x} config {:#x} — {} cpus @ {} Hz — features: {} ",
            i.build_id,
            i.config_id,
            i.cpus,
            i.counter_hz,
            i.features.join(",")
        ),
        None => format!(" hvmon {source} — waiting for hello "),
    };
    let health = if summary.clean() {
        Color::Green
    } else {
        Color::Yellow
    };
    f.render_widget(
        Paragraph::new(summary.line())
            .style(Style::new().fg(health))
            .block(Block::bordered().title(title)),
        top,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(body);
    consoles(f, state, left);
    let [cpus, lat, traps] = Layout::vertical([
        Constraint::Percentage(35),
        Constraint::Length(6),
        Constraint::Min(4),
    ])
    .areas(right);
    cpu_table(f, state, cpus);
    latency_table(f, state, lat);
    trap_table(f, &summary, traps);
}

fn consoles(f: &mut Frame<'_>, state: &LiveState, area: Rect) {
    let panes: Vec<u16> = state.consoles.keys().copied().collect();
    if panes.is_empty() {
        f.render_widget(
            Paragraph::new("no console output yet").block(Block::bordered().title(" consoles ")),
            area,
        );
        return;
    }
    let areas = Layout::vertical(vec![Constraint::Fill(1); panes.len()]).split(area);
    for (vm, a) in panes.iter().zip(areas.iter()) {
        let lines = &state.consoles[vm];
        let visible = a.height.saturating_sub(2) as usize;
        let shown: Vec<Line<'_>> = lines
            .iter()
            .skip(lines.len().saturating_sub(visible))
            .map(|l| Line::raw(l.as_str()))
            .collect();
        let title = format!(" {} ", state.pane_name(*vm));
        f.render_widget(
            Paragraph::new(shown).block(Block::bordered().title(title.bold())),
            *a,
        );
    }
}

fn cpu_table(f: &mut Frame<'_>, state: &LiveState, area: Rect) {
    let info = state.session.info();
    let rows = state.session.metrics.cpus.iter().map(|(cpu, m)| {
        let r = state.rates.get(cpu).copied().unwrap_or_default();
        let running = m.running.map_or("idle".to_string(), |v| {
            info.map_or(format!("vcpu{v}"), |i| i.vcpu_label(v))
        });
        Row::new(vec![
            format!("cpu{cpu}"),
            running,
            format!("{:.0}", r.switches),
            format!("{:.0}", r.traps),
            m.injected.to_string(),
        ])
    });
    let widths = [
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(vec!["cpu", "running", "sw/s", "traps/s", "injected"]).bold())
        .block(Block::bordered().title(" physical CPUs "));
    f.render_widget(t, area);
}

fn latency_table(f: &mut Frame<'_>, state: &LiveState, area: Rect) {
    let m = &state.session.metrics;
    let rows = [
        ("trap", &m.trap_ns),
        ("irq", &m.irq_latency_ns),
        ("wake-up", &m.wakeup_ns),
    ]
    .map(|(n, h)| {
        let p = Percentiles::of(h);
        Row::new(vec![
            n.to_string(),
            p.count.to_string(),
            p.p50.to_string(),
            p.p90.to_string(),
            p.p99.to_string(),
            p.max.to_string(),
        ])
    });
    let widths = [
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(vec!["ns", "n", "p50", "p90", "p99", "max"]).bold())
        .block(Block::bordered().title(" latency "));
    f.render_widget(t, area);
}

fn trap_table(f: &mut Frame<'_>, summary: &Summary, area: Rect) {
    let rows = TrapKind::ALL.iter().map(|k| {
        Row::new(vec![
            k.name().to_string(),
            summary
                .traps_by_kind
                .get(k.name())
                .copied()
                .unwrap_or(0)
                .to_string(),
        ])
    });
    let t = Table::new(rows, [Constraint::Fill(1), Constraint::Fill(1)])
        .header(Row::new(vec!["trap", "count"]).bold())
        .block(Block::bordered().title(" traps "));
    f.render_widget(t, area);
}
