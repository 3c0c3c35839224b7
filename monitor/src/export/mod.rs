//! Exports of a recording: CSV and JSON lines (one row per record) and Perfetto / Chrome trace JSON.

pub mod csv;
pub mod jsonl;
pub mod perfetto;
pub mod row;

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::elf::Elf;
use crate::info::Info;
use crate::session::{Session, Update};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
    Perfetto,
}

/// A consumer of a session's updates that writes one export format.
pub trait Exporter {
    fn update(&mut self, info: Option<&Info>, u: &Update<'_>) -> Result<()>;
    fn finish(&mut self, s: &Session) -> Result<()>;
}

/// Exports `recording` into `out`; returns the replayed session (for its summary).
pub fn export(
    recording: &Path,
    format: Format,
    elf: Option<&Elf>,
    out: &mut dyn Write,
) -> Result<Session> {
    let mut exp: Box<dyn Exporter + '_> = match format {
        Format::Csv => Box::new(csv::Csv::new(out, elf)?),
        Format::Jsonl => Box::new(jsonl::Jsonl::new(out, elf)),
        Format::Perfetto => Box::new(perfetto::Perfetto::new(out, elf)),
    };
    let mut first_err = None;
    let session = Session::replay_file(recording, |info, u| {
        if first_err.is_none() {
            first_err = exp.update(info, u).err();
        }
    })?;
    if let Some(e) = first_err {
        return Err(e);
    }
    exp.finish(&session)?;
    Ok(session)
}
