//! The terminal UI: each VM's console (and the hypervisor's log) on the left; the VMs, the
//! vCPUs that moved between CPUs (big.LITTLE: the CPU each is on now and its moves; only once
//! one has moved), the exits table (`perf kvm stat` style), latencies and physical CPUs on the
//! right; a status line at the bottom. Redrawn at most 5 times a second; `q` or Esc (or Ctrl-C, which raw mode turns
//! into a key) quits. When the stream has ended the last picture stays, marked as ended.
//!
//! With an input channel (the serial port's other direction), Tab starts typing: keys go to
//! the hypervisor's console input (the first VM with a console) until Esc.
//!
//! Replaying a recording ([`Tui::set_replay`]), space pauses and resumes and ←/→ seek; the
//! keys are handed to the replay loop as [`Control`]s.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::DefaultTerminal;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Row, Table};

use super::state::{HV_LOG, LiveState};
use crate::report::ExitTable;
use crate::source::Source;
use crate::summary::{Percentiles, Summary};
use crate::time::fmt_ns;

pub struct Tui {
    terminal: DefaultTerminal,
    last_draw: Instant,
    drawn_ended: bool,
    /// The end note last drawn (redraw when it changes, e.g. QEMU's exit status arrives).
    drawn_note: Option<String>,
    input: Option<Box<dyn Write + Send>>,
    typing: bool,
    /// Replaying: the position line for the status bar.
    replay: Option<String>,
    controls: Vec<Control>,
}

/// A replay key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Back,
    Forward,
}

/// The bytes a key sends to a serial console (as a terminal would), if any.
pub fn key_bytes(k: &KeyEvent) -> Option<Vec<u8>> {
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    match k.code {
        KeyCode::Char(c) if ctrl && c.is_ascii_alphabetic() => {
            Some(vec![(c.to_ascii_lowercase() as u8) & 0x1f])
        }
        KeyCode::Char(c) => Some(c.to_string().into_bytes()),
        KeyCode::Enter => Some(vec![b'\r']),
        KeyCode::Backspace => Some(vec![0x7f]),
        KeyCode::Tab => Some(vec![b'\t']),
        _ => None,
    }
}

impl Tui {
    pub fn start(input: Option<Box<dyn Write + Send>>) -> Result<Self> {
        Ok(Tui {
            terminal: ratatui::try_init()?,
            last_draw: Instant::now() - Duration::from_secs(1),
            drawn_ended: false,
            drawn_note: None,
            input,
            typing: false,
            replay: None,
            controls: Vec::new(),
        })
    }

    /// Replay mode: `status` (position, speed, paused) is shown in the status line, and the
    /// replay keys are collected for [`Tui::take_controls`].
    pub fn set_replay(&mut self, status: String) {
        if self.replay.as_deref() != Some(status.as_str()) {
            self.replay = Some(status);
            self.last_draw = Instant::now() - Duration::from_secs(1);
        }
    }

    /// The replay keys pressed since the last call.
    pub fn take_controls(&mut self) -> Vec<Control> {
        std::mem::take(&mut self.controls)
    }

    pub fn stop(self) {
        ratatui::restore();
    }

    /// Handles keys and redraws; returns true when the user wants to quit. `ended` is set
    /// once the stream is over (what to say about it).
    pub fn tick(
        &mut self,
        state: &mut LiveState,
        source: &Source,
        ended: Option<&str>,
    ) -> Result<bool> {
        if ended.is_some() {
            self.typing = false;
        }
        let mut typed = false;
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                TermEvent::Key(k) if k.kind == KeyEventKind::Release => {}
                TermEvent::Key(k) if self.typing => {
                    if k.code == KeyCode::Esc {
                        self.typing = false;
                    } else if let (Some(bytes), Some(w)) = (key_bytes(&k), self.input.as_mut()) {
                        // a VM that stopped reading is no reason to stop the monitor
                        if w.write_all(&bytes).and_then(|_| w.flush()).is_err() {
                            self.input = None;
                            self.typing = false;
                        }
                    }
                    typed = true;
                }
                TermEvent::Key(k) => {
                    let ctrl_c =
                        k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c || matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) {
                        return Ok(true);
                    }
                    if self.replay.is_some() {
                        let c = match k.code {
                            KeyCode::Char(' ') => Some(Control::Pause),
                            KeyCode::Left => Some(Control::Back),
                            KeyCode::Right => Some(Control::Forward),
                            _ => None,
                        };
                        self.controls.extend(c);
                    }
                    if k.code == KeyCode::Tab && self.input.is_some() && ended.is_none() {
                        self.typing = true;
                        typed = true;
                    }
                }
                TermEvent::Resize(..) => self.drawn_ended = false,
                _ => {}
            }
        }
        if typed {
            self.last_draw = Instant::now() - Duration::from_secs(1);
        }
        let due = self.last_draw.elapsed() >= Duration::from_millis(200);
        let redraw = match ended {
            None => due,
            // once ended, draw again only when something changed (a resize, the note)
            Some(n) => due && (!self.drawn_ended || self.drawn_note.as_deref() != Some(n)),
        };
        if redraw {
            state.sample_rates();
            state.fresh.clear();
            let keys = match (self.typing, self.input.is_some(), &self.replay) {
                (true, _, _) => Keys::Typing,
                (false, _, Some(r)) => Keys::Replay(r),
                (false, true, None) => Keys::CanType,
                (false, false, None) => Keys::Quit,
            };
            self.terminal
                .draw(|f| draw(f, state, source, ended, keys))?;
            self.last_draw = Instant::now();
            self.drawn_ended = ended.is_some();
            self.drawn_note = ended.map(str::to_string);
        }
        Ok(false)
    }
}

/// What the status line offers.
#[derive(Clone, Copy)]
enum Keys<'a> {
    /// Replaying: the position.
    Replay(&'a str),
    Quit,
    CanType,
    Typing,
}

fn draw(
    f: &mut Frame<'_>,
    state: &LiveState,
    source: &Source,
    ended: Option<&str>,
    keys: Keys<'_>,
) {
    let [top, body, status] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let summary = Summary::of(&state.session);
    let title = match state.session.info() {
        Some(i) => format!(
            " hvmon {source} — {} CPUs, counter {} MHz — features: {} — build {:#x} ",
            i.cpus,
            i.counter_hz as f64 / 1e6,
            if i.features.is_empty() {
                "-".into()
            } else {
                i.features.join(",")
            },
            i.build_id,
        ),
        None => format!(" hvmon {source} — waiting for the hypervisor's hello "),
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
    // the tables need ~56 columns; the consoles get the rest
    let right_w = (body.width * 45 / 100)
        .max(56)
        .min(body.width.saturating_sub(20));
    let [left, right] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(right_w)]).areas(body);
    consoles(f, state, &summary, left);
    let vm_rows = state.session.info().map_or(1, |i| i.vms.len()) as u16;
    let exit_rows = summary.exits.first().map_or(1, |t| t.rows.len().max(1)) as u16;
    // the vCPUs that moved (big.LITTLE), only once one has
    let move_rows = match summary.moved_vcpus.len() {
        0 => 0,
        n => n.min(MOVE_ROWS) as u16 + 3,
    };
    let [vms, moves, exits, lat, cpus] = Layout::vertical([
        Constraint::Length(vm_rows + 3),
        Constraint::Length(move_rows),
        Constraint::Length(exit_rows + 3),
        Constraint::Length(6),
        Constraint::Min(4),
    ])
    .areas(right);
    vm_table(f, state, &summary, vms);
    if move_rows > 0 {
        move_table(f, &summary, moves);
    }
    if let Some(t) = summary.exits.first() {
        exit_table(f, t, exits);
    }
    latency_table(f, &summary, lat);
    cpu_table(f, state, cpus);
    let line = match (ended, keys) {
        (None, Keys::Typing) => Line::from(vec![
            Span::raw(" typing ").black().on_cyan(),
            Span::raw(
                " keys go to the console input (the first VM with a console) — Esc: stop typing",
            ),
        ]),
        (None, Keys::CanType) => Line::from(vec![
            Span::raw(" live ").black().on_green(),
            Span::raw(" q: quit · Tab: type into the VM console"),
        ]),
        (None, Keys::Replay(at)) => Line::from(vec![
            Span::raw(" replay ").black().on_blue(),
            Span::raw(format!(" {at} — space: pause/resume · ←/→: seek · q: quit")),
        ]),
        (None, Keys::Quit) => Line::from(vec![
            Span::raw(" live ").black().on_green(),
            Span::raw(" q: quit"),
        ]),
        (Some(note), _) => Line::from(vec![
            Span::raw(format!(" {note} ")).black().on_yellow(),
            Span::raw(" final view — q: quit"),
        ]),
    };
    f.render_widget(Paragraph::new(line), status);
}

/// A console line as the pane can show it: terminal escape sequences (a shell's cursor
/// queries, colours) and other control characters removed.
pub fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // parameters and intermediates, then one final byte
                    while let Some(&n) = chars.peek() {
                        chars.next();
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Title of a VM's pane: its name and how it is doing.
fn pane_title(state: &LiveState, summary: &Summary, vm: u16) -> String {
    let name = state.pane_name(vm);
    if vm == HV_LOG {
        return format!(" {name} ");
    }
    let exit = summary.vm_exits.iter().rfind(|x| x.vm == name);
    match exit {
        Some(x) => format!(
            " {name} — ended ({}) at {} ",
            x.reason,
            fmt_ns(x.at_ns as f64)
        ),
        None => format!(" {name} "),
    }
}

fn consoles(f: &mut Frame<'_>, state: &LiveState, summary: &Summary, area: Rect) {
    // every VM of the hello gets a pane, even before it prints; then the hypervisor's log
    let mut panes: Vec<u16> = state
        .session
        .info()
        .map(|i| (0..i.vms.len().min(8) as u16).collect())
        .unwrap_or_default();
    for &vm in state.consoles.keys() {
        if !panes.contains(&vm) && (vm == HV_LOG || panes.len() < 8) {
            panes.push(vm);
        }
    }
    if panes.is_empty() {
        f.render_widget(
            Paragraph::new("no console output yet").block(Block::bordered().title(" consoles ")),
            area,
        );
        return;
    }
    let areas = Layout::vertical(vec![Constraint::Fill(1); panes.len()]).split(area);
    for (vm, a) in panes.iter().zip(areas.iter()) {
        let partial = state.session.partial_line(*vm);
        let visible =
            (a.height.saturating_sub(2) as usize).saturating_sub(partial.is_some() as usize);
        let mut shown: Vec<Line<'_>> = match state.consoles.get(vm) {
            Some(lines) => lines
                .iter()
                .skip(lines.len().saturating_sub(visible))
                .map(|l| Line::raw(printable(l)))
                .collect(),
            None if partial.is_none() => vec![Line::raw("(nothing printed yet)").dim()],
            None => Vec::new(),
        };
        if let Some(p) = partial {
            shown.push(Line::raw(printable(&p)));
        }
        let title = pane_title(state, summary, *vm);
        f.render_widget(
            Paragraph::new(shown).block(Block::bordered().title(title.bold())),
            *a,
        );
    }
}

fn vm_table(f: &mut Frame<'_>, state: &LiveState, summary: &Summary, area: Rect) {
    let Some(info) = state.session.info() else {
        f.render_widget(Block::bordered().title(" VMs "), area);
        return;
    };
    let stat = &state.session.metrics.stat;
    let rows = info.vms.iter().enumerate().map(|(vm, name)| {
        let vcpus = info
            .vcpu_vm
            .iter()
            .filter(|&&v| usize::from(v) == vm)
            .count();
        let running: Vec<String> = state
            .session
            .metrics
            .cpus
            .iter()
            .filter(|(_, m)| m.running.and_then(|v| info.vm_of(v)) == Some(vm as u16))
            .map(|(c, _)| format!("cpu{c}"))
            .collect();
        let st = match summary.vm_exits.iter().rfind(|x| &x.vm == name) {
            Some(x) => x.reason.to_string(),
            None if !running.is_empty() => format!("on {}", running.join(",")),
            None => "waiting".into(),
        };
        let exits = stat.vms.get(vm).map_or(0, |e| e.count());
        let lines = state.consoles.get(&(vm as u16)).map_or(0, |c| c.len());
        Row::new(vec![
            name.clone(),
            vcpus.to_string(),
            st,
            exits.to_string(),
            lines.to_string(),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(6),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(vec!["VM", "vCPUs", "state", "exits", "lines"]).bold())
        .block(Block::bordered().title(" VMs "));
    f.render_widget(t, area);
}

/// Most vCPUs the moves table lists (the busiest movers).
const MOVE_ROWS: usize = 8;

/// The moves table's rows: vCPU, the CPU it is on now, its moves; the most moved first.
/// (The hello does not say which cluster a CPU is in: the CPU index only.)
fn move_rows(summary: &Summary) -> Vec<[String; 3]> {
    let mut moved: Vec<_> = summary.moved_vcpus.iter().collect();
    moved.sort_by_key(|m| (std::cmp::Reverse(m.moves), m.vcpu));
    moved
        .into_iter()
        .take(MOVE_ROWS)
        .map(|m| {
            [
                m.label.clone(),
                format!("cpu{}", m.cpu),
                m.moves.to_string(),
            ]
        })
        .collect()
}

fn move_table(f: &mut Frame<'_>, summary: &Summary, area: Rect) {
    let rows = move_rows(summary).into_iter().map(Row::new);
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    let title = format!(
        " vCPU moves: {} ({} vCPUs) ",
        summary.migrations,
        summary.moved_vcpus.len()
    );
    let t = Table::new(rows, widths)
        .header(Row::new(vec!["vCPU", "on", "moves"]).bold())
        .block(Block::bordered().title(title));
    f.render_widget(t, area);
}

fn exit_table(f: &mut Frame<'_>, t: &ExitTable, area: Rect) {
    let rows = t.rows.iter().map(|r| {
        let d = &r.time;
        Row::new(vec![
            r.reason.to_string(),
            d.count.to_string(),
            format!("{:.1}%", r.percent),
            format!("{:.1}%", r.time_percent),
            fmt_ns(d.mean_ns),
            d.p99_ns.map_or("-".into(), |v| fmt_ns(v as f64)),
            fmt_ns(d.max_ns as f64),
        ])
    });
    let widths = [
        Constraint::Min(10),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    let title = format!(
        " exits: {} · {} in the hypervisor ",
        t.exits,
        fmt_ns(t.time_ns as f64)
    );
    let table = Table::new(rows, widths)
        .header(Row::new(vec!["reason", "n", "%", "time%", "mean", "p99", "max"]).bold())
        .block(Block::bordered().title(title));
    f.render_widget(table, area);
}

fn latency_table(f: &mut Frame<'_>, summary: &Summary, area: Rect) {
    let cost = summary
        .switches
        .first()
        .map(|s| {
            s.cost
                .iter()
                .fold((0u64, 0.0f64, 0u64), |(n, sum, max), c| {
                    (
                        n + c.cost.count,
                        sum + c.cost.mean_ns * c.cost.count as f64,
                        max.max(c.cost.max_ns),
                    )
                })
        })
        .unwrap_or_default();
    let mut rows: Vec<Row<'_>> = [("irq inject", "irq"), ("wake-up", "wakeup")]
        .iter()
        .map(|(label, key)| {
            let p: &Percentiles = &summary.latency_ns[*key];
            Row::new(vec![
                label.to_string(),
                p.count.to_string(),
                if p.count == 0 {
                    "-".into()
                } else {
                    fmt_ns(p.p50 as f64)
                },
                if p.count == 0 {
                    "-".into()
                } else {
                    fmt_ns(p.p99 as f64)
                },
                if p.count == 0 {
                    "-".into()
                } else {
                    fmt_ns(p.max as f64)
                },
            ])
        })
        .collect();
    rows.insert(
        0,
        Row::new(vec![
            "vCPU switch".to_string(),
            cost.0.to_string(),
            if cost.0 == 0 {
                "-".into()
            } else {
                format!("~{}", fmt_ns(cost.1 / cost.0 as f64))
            },
            "".into(),
            if cost.0 == 0 {
                "-".into()
            } else {
                fmt_ns(cost.2 as f64)
            },
        ]),
    );
    let widths = [
        Constraint::Min(11),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(vec!["latency", "n", "p50", "p99", "max"]).bold())
        .block(Block::bordered().title(" latency "));
    f.render_widget(t, area);
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
            m.traps.iter().sum::<u64>().to_string(),
        ])
    });
    let widths = [
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    let t = Table::new(rows, widths)
        .header(Row::new(vec!["cpu", "running", "sw/s", "exits/s", "exits"]).bold())
        .block(Block::bordered().title(" physical CPUs "));
    f.render_widget(t, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_not_shown() {
        assert_eq!(printable("/ # \u{1b}[6necho hi"), "/ # echo hi");
        assert_eq!(printable("\u{1b}[1;32mok\u{1b}[0m\u{7}"), "ok");
        assert_eq!(printable("a\tb"), "a    b");
    }

    #[test]
    fn moved_vcpus_are_listed_most_moved_first() {
        use crate::summary::MovedVcpu;
        let s = crate::Session::new();
        let mut summary = Summary::of(&s);
        assert!(move_rows(&summary).is_empty());
        summary.migrations = 12;
        summary.moved_vcpus = (0..10)
            .map(|v| MovedVcpu {
                vcpu: v,
                label: format!("bl/vcpu{v}"),
                cpu: v % 4,
                moves: if v == 5 { 3 } else { 1 },
            })
            .collect();
        let rows = move_rows(&summary);
        assert_eq!(rows.len(), MOVE_ROWS);
        assert_eq!(rows[0], ["bl/vcpu5", "cpu1", "3"].map(String::from));
        assert_eq!(rows[1], ["bl/vcpu0", "cpu0", "1"].map(String::from));
    }

    #[test]
    fn keys_become_what_a_terminal_sends() {
        let k = |code, m| key_bytes(&KeyEvent::new(code, m));
        assert_eq!(
            k(KeyCode::Char('l'), KeyModifiers::NONE),
            Some(b"l".to_vec())
        );
        assert_eq!(k(KeyCode::Enter, KeyModifiers::NONE), Some(b"\r".to_vec()));
        assert_eq!(k(KeyCode::Char('c'), KeyModifiers::CONTROL), Some(vec![3]));
        assert_eq!(k(KeyCode::Backspace, KeyModifiers::NONE), Some(vec![0x7f]));
        assert_eq!(k(KeyCode::F(1), KeyModifiers::NONE), None);
    }
}
