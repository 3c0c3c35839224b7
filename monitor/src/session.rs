//! A session: one byte stream decoded into records, metrics and console lines.
//!
//! Every consumer (live view, exporters, summary, plots) goes through [`Session::feed`], so they all
//! see the same frames and the same loss accounting.
//!
//! A record whose vCPU or VM id the hello does not have is counted ([`Session::invalid_ids`])
//! and dropped here, so nothing downstream keys a table by an id the hello did not declare:
//! every table of the monitor is bounded by the hello (and the hello by [`crate::info`]'s
//! limits).

use hv_protocol::{Decoded, Event, Header, Mismatch, Stats, StreamDecoder};

use crate::console::Consoles;
use crate::info::Info;
use crate::metrics::Metrics;

/// What a consumer of [`Session::feed`] is told.
#[derive(Debug)]
pub enum Update<'a> {
    /// A hello (connection start); [`Session::info`] already holds it.
    Hello(&'a Info),
    /// One record; the session's metrics already include it.
    Record(&'a Header, &'a Event<'a>),
    /// A complete console line of a VM.
    ConsoleLine { vm: u16, line: &'a str },
    /// A record of an event kind newer than this monitor (skipped).
    Unknown { header: Header, tag: u32 },
}

#[derive(Debug, Default)]
pub struct Session {
    decoder: StreamDecoder,
    info: Option<Info>,
    pub metrics: Metrics,
    consoles: Consoles,
    invalid_ids: u64,
}

impl Session {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn info(&self) -> Option<&Info> {
        self.info.as_ref()
    }

    pub fn stats(&self) -> &Stats {
        self.decoder.stats()
    }

    /// The console line VM `vm` has started but not finished (e.g. a shell prompt).
    pub fn partial_line(&self, vm: u16) -> Option<String> {
        self.consoles.partial(vm)
    }

    /// Records dropped because they named a vCPU or VM the hello does not have.
    pub fn invalid_ids(&self) -> u64 {
        self.invalid_ids
    }

    /// Feeds a chunk of the stream; `on` gets the current hello (if any) with each update. An
    /// incompatible hello ends the session with the mismatch.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on: impl FnMut(Option<&Info>, &Update<'_>),
    ) -> Result<(), Mismatch> {
        let Session {
            decoder,
            info,
            metrics,
            consoles,
            invalid_ids,
        } = self;
        decoder.feed(chunk, |item| match item {
            Decoded::Hello(h) => {
                let i = info.insert(Info::from_hello(&h));
                metrics.hello(i);
                on(Some(i), &Update::Hello(i));
            }
            Decoded::Record(h, e) => {
                // the decoder hands on records only after a hello
                let Some(info) = info.as_ref() else { return };
                if !info.ids_valid(h.cpu, &e) {
                    *invalid_ids += 1;
                    return;
                }
                metrics.record(info, &h, &e);
                on(Some(info), &Update::Record(&h, &e));
                if let Event::Console { vm, bytes } = e {
                    consoles.push(vm, bytes, |vm, line| {
                        on(Some(info), &Update::ConsoleLine { vm, line })
                    });
                }
            }
            Decoded::Unknown { header, tag } => on(info.as_ref(), &Update::Unknown { header, tag }),
        })
    }

    /// Ends the session: flushes unfinished console lines.
    pub fn finish(&mut self, mut on: impl FnMut(Option<&Info>, &Update<'_>)) {
        self.decoder.finish();
        let info = self.info.as_ref();
        self.consoles
            .flush(|vm, line| on(info, &Update::ConsoleLine { vm, line }));
    }

    /// Reads `reader` to the end, feeding everything.
    pub fn feed_reader(
        &mut self,
        mut reader: impl std::io::Read,
        mut on: impl FnMut(Option<&Info>, &Update<'_>),
    ) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            self.feed(&buf[..n], &mut on)?;
        }
        self.finish(on);
        Ok(())
    }

    /// Replays a recording file.
    pub fn replay_file(
        path: &std::path::Path,
        on: impl FnMut(Option<&Info>, &Update<'_>),
    ) -> anyhow::Result<Session> {
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open recording {}: {e}", path.display()))?;
        let mut s = Session::new();
        s.feed_reader(std::io::BufReader::new(file), on)?;
        Ok(s)
    }

    /// The first hello of a recording (reads only as far as needed).
    pub fn peek_hello(path: &std::path::Path) -> anyhow::Result<Option<Info>> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("cannot open recording {}: {e}", path.display()))?;
        let mut s = Session::new();
        let mut buf = vec![0u8; 4096];
        while s.info.is_none() {
            let n = std::io::Read::read(&mut file, &mut buf)?;
            if n == 0 {
                break;
            }
            s.feed(&buf[..n], |_, _| {})?;
        }
        Ok(s.info)
    }
}
