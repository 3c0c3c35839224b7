//! JSON lines: one object per record (fields that do not apply are left out), preceded by one
//! `{"hello": …}` line per connection so a reader knows the frequency and the names.

use std::io::Write;

use anyhow::Result;

use super::Exporter;
use super::row::Row;
use crate::elf::Elf;
use crate::info::Info;
use crate::session::{Session, Update};

pub struct Jsonl<'a> {
    out: &'a mut dyn Write,
    elf: Option<&'a Elf>,
    t0: Option<u64>,
}

impl<'a> Jsonl<'a> {
    pub fn new(out: &'a mut dyn Write, elf: Option<&'a Elf>) -> Self {
        Jsonl { out, elf, t0: None }
    }
}

impl Exporter for Jsonl<'_> {
    fn update(&mut self, info: Option<&Info>, u: &Update<'_>) -> Result<()> {
        match u {
            Update::Hello(i) => {
                serde_json::to_writer(&mut *self.out, &serde_json::json!({ "hello": i }))?;
                writeln!(self.out)?;
            }
            Update::Record(h, e) => {
                let t0 = *self.t0.get_or_insert(h.ts);
                serde_json::to_writer(&mut *self.out, &Row::of(info, t0, self.elf, h, e))?;
                writeln!(self.out)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, _: &Session) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
