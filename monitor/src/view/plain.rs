//! Plain output for pipes and logs: `[vm] line` per console line, a stats line now and then.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::state::LiveState;
use crate::summary::{Percentiles, Summary};

/// Prints fresh console lines, and the stats line when `every` has passed.
pub fn tick(state: &mut LiveState, every: Duration) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for (vm, line) in std::mem::take(&mut state.fresh) {
        if vm == super::state::HV_LOG {
            writeln!(out, "hv: {line}")?;
        } else {
            writeln!(out, "[{}] {line}", state.pane_name(vm))?;
        }
    }
    if state.last_stats_line.elapsed() >= every {
        state.last_stats_line = Instant::now();
        writeln!(out, "{}", stats_line(state))?;
    }
    out.flush()?;
    Ok(())
}

/// The summary tables (as `hvmon summary` prints them), after the run.
pub fn summary(state: &LiveState) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    write!(out, "{}", Summary::of(&state.session).text())?;
    out.flush()?;
    Ok(())
}

/// `-- frames … | cpu0 120 switches/s 3400 exits/s | irq injection p50 … p99 …`
pub fn stats_line(state: &LiveState) -> String {
    let summary = Summary::of(&state.session);
    let mut s = format!("-- {}", summary.line());
    for (cpu, r) in &state.rates {
        s += &format!(
            " | cpu{cpu} {:.0} switches/s {:.0} exits/s",
            r.switches, r.traps
        );
    }
    let irq = Percentiles::of(&state.session.metrics.irq_latency_ns);
    if irq.count > 0 {
        s += &format!(
            " | irq injection p50 {} p99 {}",
            crate::time::fmt_ns(irq.p50 as f64),
            crate::time::fmt_ns(irq.p99 as f64)
        );
    }
    s
}
