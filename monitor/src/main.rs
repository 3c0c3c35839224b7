//! `hvmon` command line. The work happens in the library; this file only maps arguments to it.
//!
//! Exit status: 0 when the session was clean, 3 when records were lost or frames damaged (so
//! test scripts notice), 1 on errors (unreadable source, refused stream, ELF mismatch).

use std::io::IsTerminal;
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
    about = "Monitor for the hypervisor's telemetry stream"
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
        source: Source,
        /// Also record the raw bytes to this file.
        #[arg(short = 'o', long)]
        record: Option<PathBuf>,
        /// Plain line output even on a terminal.
        #[arg(long)]
        plain: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Record the raw stream to a file (replayable by every other subcommand).
    Record {
        source: Source,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Show the live view while recording.
        #[arg(long)]
        live: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Convert a recording to CSV, JSON lines or a Perfetto/Chrome trace.
    Export {
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
        recording: PathBuf,
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// JSON summary of a recording (stdout, or -o FILE).
    Summary {
        recording: PathBuf,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
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
    /// Seconds between stats lines in plain output.
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
            common,
        } => {
            let opts = LiveOptions {
                record,
                tui: !plain && std::io::stdout().is_terminal(),
                quiet: false,
                elf: common.elf()?,
                stats_every: Duration::from_secs(common.stats_every),
            };
            Ok(Some(Summary::of(&view::run(&source, opts)?)))
        }
        Cmd::Record {
            source,
            output,
            live,
            common,
        } => {
            let opts = LiveOptions {
                record: Some(output),
                tui: live && std::io::stdout().is_terminal(),
                quiet: !live,
                elf: common.elf()?,
                stats_every: Duration::from_secs(common.stats_every),
            };
            Ok(Some(Summary::of(&view::run(&source, opts)?)))
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
            for p in plot::plot(&recording, &output)? {
                print_or_pipe_closed(&p.display().to_string())?;
            }
            Ok(None)
        }
        Cmd::Summary {
            recording,
            output,
            common,
        } => {
            let elf = common.elf()?;
            check_recording(&recording, elf.as_ref())?;
            let session = Session::replay_file(&recording, |_, _| {})?;
            let summary = Summary::of(&session);
            let json = serde_json::to_string_pretty(&summary)?;
            match output {
                Some(p) => std::fs::write(&p, json + "\n")
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print_or_pipe_closed(&json)?,
            }
            Ok(Some(summary))
        }
    }
}
