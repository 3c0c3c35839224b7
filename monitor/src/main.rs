//! `hvmon` command line. The work happens in the library; this file only maps arguments to it.
//!
//! Exit status: 0 when the session was clean, 3 when records were lost or frames damaged (so
//! test scripts notice), 1 on errors (unreadable source, refused stream, ELF mismatch).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hvmon::elf::Elf;
use hvmon::export::{self, Format};
use hvmon::source::Source;
use hvmon::view::{self, LiveOptions};
use hvmon::{Session, Summary, plot};

#[derive(Parser)]
#[command(
    name = "hvmon",
    version,
    about = "Monitor for the hypervisor's telemetry stream",
    long_about = "Monitor for the hypervisor's telemetry stream: live view, recordings, \
                  summaries, exports and plots.\n\n\
                  `cargo xtask run` starts it for you. To use it on its own: \
                  `cargo xtask hvmon <command>` (or `cargo run -p hvmon -- <command>`) from the \
                  repository, or install it with \
                  `cargo install --path monitor` (then `hvmon <command>`).\n\n\
                  Exit status: 0 when the stream was complete, 3 when records were lost or \
                  frames undecodable (the last line says what), 1 on errors.",
    after_help = "A recording is the raw byte stream as it came (`cargo xtask run --record \
                  FILE`, `hvmon record`, `hvmon live -o FILE`)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show a live stream: TUI on a terminal, plain lines otherwise.
    ///
    /// SOURCE: serial:/dev/X[@baud], tcp:HOST:PORT, tcp-listen:ADDR:PORT, unix:/path,
    /// udp:ADDR:PORT, a recording path (or file:PATH), or - for stdin.
    Live {
        /// Where the stream comes from (see above).
        #[arg(value_name = "SOURCE")]
        source: Source,
        /// Also record the raw bytes to this file.
        #[arg(short = 'o', long)]
        record: Option<PathBuf>,
        /// Plain line output even on a terminal.
        #[arg(long)]
        plain: bool,
        /// Leave the TUI as soon as the stream ends (by default it stays until `q`).
        #[arg(long)]
        exit_at_end: bool,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Record the raw stream to a file (replayable by every other subcommand).
    Record {
        /// Where the stream comes from: the same forms as for `live`.
        #[arg(value_name = "SOURCE")]
        source: Source,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Show the live view while recording.
        #[arg(long)]
        live: bool,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        view: LiveArgs,
    },
    /// Replay a recording at the pace it was recorded: the live view, with pause and seek.
    ///
    /// TUI keys: space pauses and resumes, ←/→ move by `--step`, q quits. Without a terminal
    /// (or with `--plain`) the part between `--from` and `--to` is printed as plain lines,
    /// as fast as it decodes unless `--speed` is given, then the summary tables. Times are
    /// stream time since the first record: `1.5s`, `200ms`, `30us`.
    Replay {
        /// A recording (see `export`).
        recording: PathBuf,
        /// Start at this stream time (what came before is decoded, not shown).
        #[arg(long, value_parser = hvmon::replay::parse_time, default_value = "0")]
        from: u64,
        /// Stop at this stream time.
        #[arg(long, value_parser = hvmon::replay::parse_time)]
        to: Option<u64>,
        /// Stream seconds per second (0: as fast as possible). Default: 1 in the TUI, 0 in
        /// plain output.
        #[arg(long)]
        speed: Option<f64>,
        /// What ←/→ seek by.
        #[arg(long, value_parser = hvmon::replay::parse_time, default_value = "1s")]
        step: u64,
        /// Plain line output even on a terminal.
        #[arg(long)]
        plain: bool,
        /// Leave the TUI at the end of the replay (by default it stays until `q`).
        #[arg(long)]
        exit_at_end: bool,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        live: LiveArgs,
    },
    /// Convert a recording to CSV, JSON lines or a Perfetto/Chrome trace.
    Export {
        /// A recording (the raw stream saved by `record`, `live -o` or `cargo xtask run --record`).
        recording: PathBuf,
        #[arg(long, value_enum)]
        format: Format,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Latency histograms and a switch timeline (SVG and PNG) into a directory.
    Plot {
        /// A recording (see `export`).
        recording: PathBuf,
        /// Directory to write the plots into (created if missing).
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// `perf kvm stat`-style report of a recording: exits by reason with count, %, time %
    /// and min/mean/p50/p99/max service time, per VM and per vCPU; switches by reason and
    /// trigger with their cost. `--json` for the same as JSON.
    #[command(visible_alias = "stat")]
    Summary {
        /// A recording (see `export`).
        recording: PathBuf,
        /// Write to this file instead of stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// JSON (every table and counter) instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(clap::Args)]
struct Common {
    /// The hypervisor ELF: its `.hv_build_id` must match the stream's hello; its defmt table
    /// decodes log frames (shown as hex without it).
    #[arg(long)]
    elf: Option<PathBuf>,
}

/// Options of the live displays.
#[derive(clap::Args)]
struct LiveArgs {
    /// Seconds between stats lines in plain output (no TUI).
    #[arg(long, default_value_t = 5)]
    stats_every: u64,
}

impl Common {
    fn elf(&self) -> Result<Option<Elf>> {
        self.elf
            .as_ref()
            .map(|p| Elf::load(&p.to_string_lossy()))
            .transpose()
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(summary) => {
            let Some(s) = summary else {
                return ExitCode::SUCCESS;
            };
            eprintln!("hvmon: {}", s.line());
            if s.clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            }
        }
        Err(e) => {
            eprintln!("hvmon: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Checks a recording's hello against the ELF before anything is written.
fn check_recording(recording: &std::path::Path, elf: Option<&Elf>) -> Result<()> {
    if let (Some(elf), Some(info)) = (elf, Session::peek_hello(recording)?) {
        elf.check_build_id(info.build_id)?;
    }
    Ok(())
}

/// Prints a line; a closed pipe (`hvmon summary rec | head`) is not an error.
fn print_or_pipe_closed(line: &str) -> Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

fn run(cli: Cli) -> Result<Option<Summary>> {
    match cli.cmd {
        Cmd::Live {
            source,
            record,
            plain,
            exit_at_end,
            common,
            live,
        } => {
            let tui = !plain && view::can_show_tui();
            let opts = LiveOptions {
                record,
                tui,
                quiet: false,
                elf: common.elf()?,
                stats_every: Duration::from_secs(live.stats_every),
                linger: tui && !exit_at_end,
                end_note: None,
                summary_at_end: !tui,
                input: None,
            };
            Ok(Some(Summary::of(&view::run(&source, opts)?)))
        }
        Cmd::Record {
            source,
            output,
            live,
            common,
            view: v,
        } => {
            let opts = LiveOptions {
                record: Some(output),
                tui: live && view::can_show_tui(),
                quiet: !live,
                elf: common.elf()?,
                stats_every: Duration::from_secs(v.stats_every),
                linger: false,
                end_note: None,
                summary_at_end: false,
                input: None,
            };
            Ok(Some(Summary::of(&view::run(&source, opts)?)))
        }
        Cmd::Replay {
            recording,
            from,
            to,
            speed,
            step,
            plain,
            exit_at_end,
            common,
            live,
        } => {
            let elf = common.elf()?;
            check_recording(&recording, elf.as_ref())?;
            let tui = !plain && view::can_show_tui();
            let speed = speed.unwrap_or(if tui { 1.0 } else { 0.0 });
            let opts = view::replay::ReplayOptions {
                tui,
                elf,
                from_ns: from,
                to_ns: to,
                speed: (speed > 0.0).then_some(speed),
                step_ns: step.max(1),
                linger: !exit_at_end,
                stats_every: Duration::from_secs(live.stats_every),
            };
            Ok(Some(Summary::of(&view::replay::replay(&recording, opts)?)))
        }
        Cmd::Export {
            recording,
            format,
            output,
            common,
        } => {
            let elf = common.elf()?;
            check_recording(&recording, elf.as_ref())?;
            let file = std::fs::File::create(&output)
                .with_context(|| format!("cannot create {}", output.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let session = export::export(&recording, format, elf.as_ref(), &mut out)?;
            Ok(Some(Summary::of(&session)))
        }
        Cmd::Plot { recording, output } => {
            let (paths, session) = plot::plot(&recording, &output)?;
            for p in paths {
                print_or_pipe_closed(&p.display().to_string())?;
            }
            Ok(Some(Summary::of(&session)))
        }
        Cmd::Summary {
            recording,
            output,
            json,
            common,
        } => {
            let elf = common.elf()?;
            check_recording(&recording, elf.as_ref())?;
            let session = Session::replay_file(&recording, |_, _| {})?;
            let summary = Summary::of(&session);
            let text = if json {
                serde_json::to_string_pretty(&summary)? + "\n"
            } else {
                summary.text()
            };
            match output {
                Some(p) => std::fs::write(&p, text)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print_or_pipe_closed(text.trim_end())?,
            }
            Ok(Some(summary))
        }
    }
}
