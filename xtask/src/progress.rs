//! Quiet builds: cargo's own lines (and the warnings of the firmware's `-Zbuild-std`) are kept
//! behind one progress line, and shown in full only when the build fails.
//!
//! On a terminal the line is a spinner naming the crate being compiled; without one (CI, a
//! pipe) a single `xtask: building …` line is printed, then `… done in N s`. Set
//! `XTASK_VERBOSE=1` to see cargo's output as it comes.
use std::io::{BufRead, BufReader, IsTerminal};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// Whether cargo's output should be shown as it comes.
fn verbose() -> bool {
    std::env::var_os("XTASK_VERBOSE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether progress may redraw a line: stderr is a terminal and this is not CI.
pub fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none_or(|v| v == "false")
}

/// The progress indicator of one step: a spinner on a terminal, start/end lines otherwise.
pub struct Step {
    bar: Option<ProgressBar>,
    what: String,
    start: Instant,
}

impl Step {
    pub fn start(what: &str) -> Step {
        let bar = interactive().then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}")
                    .expect("valid template"),
            );
            b.set_prefix(what.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        if bar.is_none() {
            eprintln!("xtask: {what} …");
        }
        Step {
            bar,
            what: what.to_string(),
            start: Instant::now(),
        }
    }

    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
        }
    }

    /// Ends the step; the spinner line is cleared (a quick step leaves no trace), a slow one
    /// leaves `xtask: <what>: done in N s`.
    pub fn done(self) {
        let secs = self.start.elapsed().as_secs_f64();
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.bar.is_none() || secs >= 10.0 {
            eprintln!("xtask: {}: done in {secs:.0} s", self.what);
        }
    }

    fn fail(self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The line of cargo's output worth showing on the progress line (`Compiling core v0.0.0`).
pub fn progress_text(line: &str) -> Option<&str> {
    let t = line.trim();
    [
        "Compiling",
        "Building",
        "Updating",
        "Downloading",
        "Downloaded",
        "Locking",
    ]
    .iter()
    .any(|w| t.starts_with(w))
    .then_some(t)
}

/// Runs a build command with its output behind a progress line; on failure the output is
/// printed once and the error names `what`.
pub fn run_build(mut cmd: Command, what: &str) -> Result<()> {
    if verbose() {
        let status = cmd
            .status()
            .with_context(|| format!("starting the build of {what}"))?;
        if !status.success() {
            bail!("building {what} failed ({status})");
        }
        return Ok(());
    }
    let step = Step::start(&format!("building {what}"));
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting the build of {what}"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut output = Vec::new();
    for line in rx {
        if let Some(p) = progress_text(&line) {
            step.message(p);
        }
        output.push(line);
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait()?;
    if status.success() {
        step.done();
        return Ok(());
    }
    step.fail();
    for line in &output {
        eprintln!("{line}");
    }
    bail!("building {what} failed ({status}); cargo's output is above")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_cargo_progress_lines_only() {
        assert_eq!(
            progress_text("   Compiling core v0.0.0 (/usr/lib/rustlib/src/rust/library/core)"),
            Some("Compiling core v0.0.0 (/usr/lib/rustlib/src/rust/library/core)")
        );
        assert_eq!(
            progress_text("warning: the following packages contain code"),
            None
        );
        assert_eq!(progress_text("note: to see what the problems were"), None);
    }

    #[test]
    fn a_failing_build_is_an_error_naming_it() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo '   Compiling x'; echo 'error: boom' >&2; exit 3",
        ]);
        let e = run_build(cmd, "the test crate").unwrap_err();
        assert!(e.to_string().starts_with("building the test crate failed"));
        let mut ok = Command::new("sh");
        ok.args(["-c", "echo fine"]);
        run_build(ok, "nothing").unwrap();
    }
}
