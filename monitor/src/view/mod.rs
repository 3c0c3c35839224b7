//! A live session: read a source, optionally record the raw bytes, show what happens.
//!
//! The source is read on its own thread (sources block in `read`), chunks come over a channel,
//! and the main thread decodes, records and displays — so a slow terminal never makes the reader
//! miss bytes on a serial line. With a terminal on stdout the display is a TUI ([`tui`]), without
//! one it is plain lines ([`plain`]): console lines tagged `[vm] …` and a periodic stats line.
//!
//! When the stream ends the TUI keeps its last picture, marked as ended, until the user
//! presses `q` ([`LiveOptions::linger`]); plain output ends with the summary tables.

pub mod plain;
pub mod replay;
pub mod state;
pub mod tui;

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::elf::Elf;
use crate::session::Session;
use crate::source::Source;

pub use state::LiveState;

/// How to run a live session.
pub struct LiveOptions {
    /// Write every byte received to this file (a recording for `hvmon export` and friends).
    pub record: Option<PathBuf>,
    /// Show the TUI (otherwise plain lines).
    pub tui: bool,
    /// Show nothing but the end summary (recording only).
    pub quiet: bool,
    pub elf: Option<Elf>,
    /// Period of the plain mode's stats line.
    pub stats_every: Duration,
    /// TUI: stay on screen after the stream ended, until the user quits.
    pub linger: bool,
    /// What the TUI shows when the stream ended (e.g. QEMU's exit status), set by the caller.
    pub end_note: Option<Arc<Mutex<Option<String>>>>,
    /// Plain output: print the summary tables at the end.
    pub summary_at_end: bool,
    /// Where keys typed in the TUI go (the serial port's other direction), if anywhere.
    pub input: Option<Box<dyn Write + Send>>,
}

/// Whether a TUI can be shown: stdout is a terminal and this is not CI. (Keys are read from
/// the controlling terminal, so stdin may be the stream: `synth | hvmon live -`.)
pub fn can_show_tui() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v == "false" || v == "0")
}

/// What the reader thread sends.
enum Chunk {
    Data(Vec<u8>),
    End(Option<std::io::Error>),
}

/// Runs until the source ends, the user quits (q / Ctrl-C) or the stream is refused.
pub fn run(source: &Source, opts: LiveOptions) -> Result<Session> {
    run_reader(source, source.open()?, opts)
}

/// [`run`] with the source already open as `reader` (e.g. a UDP socket bound before the
/// hypervisor starts sending, whose reader ends when the run does); `source` names it.
pub fn run_reader(
    source: &Source,
    mut reader: Box<dyn Read + Send>,
    mut opts: LiveOptions,
) -> Result<Session> {
    let (tx, rx) = mpsc::sync_channel::<Chunk>(1024);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break tx.send(Chunk::End(None)).ok(),
                Ok(n) => {
                    if tx.send(Chunk::Data(buf[..n].to_vec())).is_err() {
                        break None;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break tx.send(Chunk::End(Some(e))).ok(),
            };
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    if !opts.tui {
        let stop = stop.clone();
        // A second Ctrl-C while stopping is ignored; the loop checks the flag every 100 ms.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let mut file = match &opts.record {
        Some(p) => Some(File::create(p).with_context(|| format!("cannot create {}", p.display()))?),
        None => None,
    };
    let mut state = LiveState::new(opts.elf);
    let mut ui = if opts.tui {
        Some(tui::Tui::start(opts.input.take())?)
    } else {
        None
    };
    let mut ended: Option<String> = None;
    let result = (|| -> Result<()> {
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            if ended.is_some() {
                // the stream is over: keep the picture until the user leaves
                std::thread::sleep(Duration::from_millis(50));
            } else {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(Chunk::Data(d)) => {
                        if let Some(f) = file.as_mut() {
                            f.write_all(&d)?;
                        }
                        state.feed(&d)?;
                    }
                    Ok(Chunk::End(None)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                        if !(opts.tui && opts.linger) {
                            return Ok(());
                        }
                        state.finish();
                        ended = Some("stream ended".into());
                    }
                    Ok(Chunk::End(Some(e))) => {
                        return Err(e).context(format!("reading {source}"));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
            }
            if let (Some(e), Some(n)) = (
                ended.as_mut(),
                opts.end_note
                    .as_ref()
                    .and_then(|note| note.lock().ok().and_then(|n| n.clone())),
            ) {
                *e = n;
            }
            let quit = match ui.as_mut() {
                Some(t) => t.tick(&mut state, source, ended.as_deref())?,
                None if !opts.quiet => {
                    plain::tick(&mut state, opts.stats_every)?;
                    false
                }
                None => false,
            };
            if quit {
                return Ok(());
            }
        }
    })();
    if let Some(t) = ui.take() {
        t.stop();
    }
    if let Some(f) = file.as_mut() {
        f.flush()?;
    }
    state.finish();
    if !opts.tui && !opts.quiet {
        plain::tick(&mut state, Duration::MAX)?;
        if opts.summary_at_end {
            plain::summary(&state)?;
        }
    }
    result?;
    Ok(state.session)
}
