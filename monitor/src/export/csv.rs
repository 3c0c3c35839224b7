//! CSV: one row per record, the columns of [`super::row::COLUMNS`], empty cells where a field does
//! not apply. RFC 4180 quoting by the `csv` crate (only where needed); console text keeps its
//! bytes (lossy UTF-8).

use std::io::Write;

use anyhow::Result;

use super::Exporter;
use super::row::{COLUMNS, Row};
use crate::elf::Elf;
use crate::info::Info;
use crate::session::{Session, Update};

pub struct Csv<'a> {
    out: csv::Writer<&'a mut dyn Write>,
    elf: Option<&'a Elf>,
    t0: Option<u64>,
}

impl<'a> Csv<'a> {
    pub fn new(out: &'a mut dyn Write, elf: Option<&'a Elf>) -> Result<Self> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(COLUMNS)?;
        Ok(Csv { out, elf, t0: None })
    }
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Exporter for Csv<'_> {
    fn update(&mut self, info: Option<&Info>, u: &Update<'_>) -> Result<()> {
        if let Update::Record(h, e) = u {
            let t0 = *self.t0.get_or_insert(h.ts);
            let v = serde_json::to_value(Row::of(info, t0, self.elf, h, e))?;
            self.out
                .write_record(COLUMNS.iter().map(|c| cell(&v[*c])))?;
        }
        Ok(())
    }

    fn finish(&mut self, _: &Session) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
