//! What the live displays show: the session plus console scroll-back and per-second rates.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::Result;
use hv_protocol::Event;

use crate::elf::{Elf, log_text};
use crate::session::{Session, Update};

/// Scroll-back per console: lines, and bytes (whichever is reached first). Panes exist only
/// for VMs of the hello and the hypervisor log, so the scroll-back is bounded too.
const LINES: usize = 500;
const PANE_BYTES: usize = 64 * 1024;

/// Pseudo-VM id of the hypervisor's own log pane.
pub const HV_LOG: u16 = u16::MAX;

/// Per-CPU running totals (switches, traps) at a sample time.
type Totals = BTreeMap<u16, (u64, u64)>;

/// Per-CPU rates over the last second.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rates {
    pub switches: f64,
    pub traps: f64,
}

pub struct LiveState {
    pub session: Session,
    pub elf: Option<Elf>,
    /// Console lines by VM (and [`HV_LOG`]), newest last.
    pub consoles: BTreeMap<u16, VecDeque<String>>,
    /// Lines not yet printed by the plain display.
    pub fresh: Vec<(u16, String)>,
    /// Console records that ended without a newline (a prompt), by VM, in order.
    pub partial_records: Vec<(u16, String)>,
    pub rates: BTreeMap<u16, Rates>,
    last_sample: Option<(Instant, Totals)>,
    pub last_stats_line: Instant,
}

impl LiveState {
    pub fn new(elf: Option<Elf>) -> Self {
        LiveState {
            session: Session::new(),
            elf,
            consoles: BTreeMap::new(),
            fresh: Vec::new(),
            partial_records: Vec::new(),
            rates: BTreeMap::new(),
            last_sample: None,
            last_stats_line: Instant::now(),
        }
    }

    /// Decodes a chunk; fails on a refused stream or a hello that does not match the ELF.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        let mut lines = Vec::new();
        let mut hello_build = None;
        let elf = self.elf.as_ref();
        let partials = &mut self.partial_records;
        self.session.feed(chunk, |_, u| match u {
            Update::Hello(i) => hello_build = Some(i.build_id),
            Update::ConsoleLine { vm, line } => lines.push((*vm, line.to_string())),
            Update::Record(_, Event::Console { vm, bytes }) if !bytes.ends_with(b"\n") => {
                partials.push((*vm, String::from_utf8_lossy(bytes).into_owned()))
            }
            Update::Record(_, Event::Log { defmt_frame }) => {
                lines.push((HV_LOG, log_text(elf, defmt_frame)))
            }
            _ => {}
        })?;
        if let (Some(id), Some(elf)) = (hello_build, self.elf.as_ref()) {
            elf.check_build_id(id)?;
        }
        for (vm, line) in lines {
            self.push_line(vm, line);
        }
        self.sample_rates();
        Ok(())
    }

    /// Flushes unfinished console lines at the end.
    pub fn finish(&mut self) {
        let mut lines = Vec::new();
        self.session.finish(|_, u| {
            if let Update::ConsoleLine { vm, line } = u {
                lines.push((*vm, line.to_string()));
            }
        });
        for (vm, line) in lines {
            self.push_line(vm, line);
        }
    }

    fn push_line(&mut self, vm: u16, line: String) {
        let c = self.consoles.entry(vm).or_default();
        c.push_back(line.clone());
        let mut bytes: usize = c.iter().map(String::len).sum();
        while c.len() > LINES || (bytes > PANE_BYTES && c.len() > 1) {
            bytes -= c.pop_front().map_or(0, |l| l.len());
        }
        self.fresh.push((vm, line));
    }

    /// Updates [`Self::rates`] once per second from the running totals.
    pub fn sample_rates(&mut self) {
        let now = Instant::now();
        let totals: Totals = self
            .session
            .metrics
            .cpus
            .iter()
            .map(|(&c, m)| (c, (m.switches, m.traps.iter().sum())))
            .collect();
        match &self.last_sample {
            Some((t, prev)) if now - *t >= Duration::from_secs(1) => {
                let dt = (now - *t).as_secs_f64();
                for (&cpu, &(s, tr)) in &totals {
                    let (ps, pt) = prev.get(&cpu).copied().unwrap_or((0, 0));
                    let r = Rates {
                        switches: (s - ps) as f64 / dt,
                        traps: (tr - pt) as f64 / dt,
                    };
                    self.rates.insert(cpu, r);
                }
                self.last_sample = Some((now, totals));
            }
            Some(_) => {}
            None => self.last_sample = Some((now, totals)),
        }
    }

    /// Display name of a console pane.
    pub fn pane_name(&self, vm: u16) -> String {
        if vm == HV_LOG {
            return "hypervisor log".into();
        }
        self.session
            .info()
            .map_or(format!("vm{vm}"), |i| i.vm_name(vm))
    }
}
