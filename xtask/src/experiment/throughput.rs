//! `measure = "telemetry-throughput"`: how many telemetry events per second a transport
//! carries, and whether any was lost.
//!
//! The system's guest (guests/tmbench) issues rounds of TELEMETRY_MARKER hypercalls, each
//! one trap that the hypervisor records (`Trap`, `Hypercall`, `Marker`). One boot is fed
//! to the monitor library exactly as `cargo xtask run` would ([`monitor::decode_run`]: the
//! UART, or UDP datagrams to 127.0.0.1:7777 with `telemetry-net`), which counts what it
//! receives and what went missing:
//! - `events_per_s`: records received / the span of their own timestamps (first to last
//!   record, the hypervisor's counter: without icount, host time), rounded down;
//! - `events_lost`: records the hypervisor reported dropped (full rings) plus sequence gaps
//!   (lost in transport) plus frames that did not decode. Lossless = 0.
//!
//! Wall-clock only: under icount the rate would be one of virtual time. On a shared host the
//! rate moves with the load; the figure is indicative, printed, never a pass/fail test.
use std::time::Duration;

use anyhow::{Result, bail};

use super::exec;
use super::probe::MetricSamples;
use crate::firmware::SystemImage;
use crate::monitor::{self, DecodedRun};

/// The guest crates these experiments boot.
pub const GUEST_PACKAGES: &[&str] = &["guest-tmbench"];

/// What one boot gave.
pub struct Boot {
    pub samples: Vec<MetricSamples>,
    pub command: String,
    pub log: String,
}

/// Boots `img` once through the monitor and turns its counts into samples.
pub fn boot(img: &SystemImage, timeout: Duration) -> Result<Boot> {
    let r = decode_with_retry(img, timeout)?;
    if r.hello.is_none() || r.status != Some(0) {
        bail!(
            "the run failed (QEMU status {:?}): {}; stderr: {}",
            r.status,
            r.summary,
            r.qemu_stderr.trim()
        );
    }
    let vm = r
        .consoles
        .iter()
        .find(|(_, lines)| lines.iter().any(|l| l.contains(" calls in ")))
        .map(|(vm, _)| vm.clone());
    let Some(vm) = vm else {
        bail!(
            "no VM printed its rounds (`… calls in … ticks`): {:?}",
            r.consoles
        );
    };
    let span_s = r.span_ns as f64 / 1e9;
    if span_s <= 0.0 {
        bail!("the records span no time: {}", r.summary);
    }
    let rate = (r.records as f64 / span_s) as u64;
    let lost = r.dropped + r.seq_lost + r.decode_errors;
    let one = |metric: &str, v: u64| MetricSamples {
        vm: vm.clone(),
        metric: metric.into(),
        values: vec![v],
    };
    let command = format!(
        "{}   # as run by monitor::decode_run (for telemetry-net with its virtio-net device); no icount",
        exec::render(&crate::qemu::base_command(img))
    );
    Ok(Boot {
        samples: vec![
            one("events_per_s", rate),
            one("events_lost", lost),
            one("events", r.records),
        ],
        command,
        log: format!(
            "{}\nrecords {} in {span_s:.3} s of counter time; dropped {}, lost in transport {}, decode errors {}; {} frames\nconsoles: {:#?}\nhv log: {:#?}\n{}",
            r.summary,
            r.records,
            r.dropped,
            r.seq_lost,
            r.decode_errors,
            r.stats.frames,
            r.consoles,
            r.log,
            r.serial
        ),
    })
}

/// [`monitor::decode_run`], waiting while another run holds the UDP port (the telemetry
/// integration tests bind it too; they must not be disturbed, and neither must this).
fn decode_with_retry(img: &SystemImage, timeout: Duration) -> Result<DecodedRun> {
    const TRIES: u32 = 30;
    let mut tries = 0;
    loop {
        match monitor::decode_run(img, timeout) {
            Err(e) if format!("{e:#}").contains("cannot bind UDP") && tries < TRIES => {
                tries += 1;
                std::thread::sleep(Duration::from_secs(2));
            }
            r => return r,
        }
    }
}
