//! `hvmon replay`: a recording shown at its own pace in the live view, with pause and seek
//! (TUI: space, ←/→), or between `--from` and `--to` in plain output.
//!
//! Seeking back rebuilds the view from the start of the recording up to the new position
//! ([`crate::replay::Seek::Restart`]): what is on screen at a time is what a live view showed
//! then. In plain output, console lines before `--from` are not printed, but the figures
//! include them (the view's state at `--from`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::plain;
use super::state::LiveState;
use super::tui::{Control, Tui};
use crate::elf::Elf;
use crate::replay::{Player, Recording, Seek};
use crate::session::Session;
use crate::source::Source;
use crate::time::fmt_ns;

/// How to replay.
pub struct ReplayOptions {
    pub tui: bool,
    pub elf: Option<Elf>,
    /// Stream time to start showing at (ns since the first record).
    pub from_ns: u64,
    /// Stream time to stop at.
    pub to_ns: Option<u64>,
    /// Stream time per wall-clock time; `None`: as fast as possible.
    pub speed: Option<f64>,
    /// What ←/→ move by (ns).
    pub step_ns: u64,
    /// TUI: stay at the end until the user quits.
    pub linger: bool,
    /// Plain output: period of the stats line.
    pub stats_every: Duration,
}

/// Replays `path`; returns the session as it stood when the replay stopped.
pub fn replay(path: &Path, opts: ReplayOptions) -> Result<Session> {
    let source = Source::File(path.display().to_string());
    let rec = Recording::load(path)?;
    let now = Instant::now();
    let mut player = Player::new(rec, 0, opts.to_ns, opts.speed, now);
    let mut state = LiveState::new(opts.elf);
    // the state at --from, without printing what came before
    if let Seek::Feed(r) = player.seek(opts.from_ns, now) {
        state.feed(&player.recording().bytes()[r])?;
    }
    state.fresh.clear();
    let mut ui = if opts.tui {
        Some(Tui::start(None)?)
    } else {
        None
    };
    let result = (|| -> Result<()> {
        loop {
            let r = player.advance(Instant::now());
            let fed = !r.is_empty();
            state.feed(&player.recording().bytes()[r])?;
            if player.done() && !(opts.linger && ui.is_some()) {
                return Ok(());
            }
            match ui.as_mut() {
                Some(t) => {
                    t.set_replay(position(&player));
                    if t.tick(&mut state, &source, None)? {
                        return Ok(());
                    }
                    for c in t.take_controls() {
                        let now = Instant::now();
                        let seek = match c {
                            Control::Pause => {
                                player.toggle_pause(now);
                                continue;
                            }
                            Control::Back => player.seek_by(-(opts.step_ns as i64), now),
                            Control::Forward => player.seek_by(opts.step_ns as i64, now),
                        };
                        match seek {
                            Seek::Feed(r) => state.feed(&player.recording().bytes()[r])?,
                            Seek::Restart(r) => {
                                state = LiveState::new(state.elf.take());
                                state.feed(&player.recording().bytes()[r])?;
                            }
                        }
                    }
                }
                None => plain::tick(&mut state, opts.stats_every)?,
            }
            if !fed {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    })();
    if let Some(t) = ui.take() {
        t.stop();
    }
    state.finish();
    if !opts.tui {
        plain::tick(&mut state, Duration::MAX)?;
        plain::summary(&state)?;
    }
    result?;
    Ok(state.session)
}

/// `12.5 ms / 1.20 s ×1 (paused)`
fn position(p: &Player) -> String {
    let mut s = format!(
        "{} / {}",
        fmt_ns(p.at_ns() as f64),
        fmt_ns(p.recording().duration_ns() as f64)
    );
    if p.paused() {
        s.push_str(" (paused)");
    } else if p.done() {
        s.push_str(" (end)");
    }
    s
}
