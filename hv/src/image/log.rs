//! The hypervisor's own log lines (`hvlog!`).
//!
//! As text (`hv: …` on the physical UART, whole lines under one lock so that lines from
//! different CPUs and VMs do not interleave) unless the UART carries telemetry frames
//! (`telemetry-uart` without `telemetry-net`/`telemetry-null`); with any telemetry feature each line also goes
//! out as a defmt frame in a `Log` record (see `telemetry`). The formatting is `core::fmt`
//! into a fixed buffer, then one defmt `{=str}` frame, so every existing `hvlog!` call keeps
//! working; new code may call `defmt::info!` directly (telemetry builds) for deferred
//! formatting.
use core::fmt::{self, Write};

use super::linebuf::LineBuf;

/// Logs one line: as text and/or as a telemetry record (see the module docs).
pub fn print(args: fmt::Arguments) {
    let mut l = LineBuf::new();
    let _ = l.write_fmt(args);
    text(l.as_bytes());
    super::telemetry::log_line(l.as_bytes());
}

/// Prints one `hv: …` line.
#[cfg(any(
    not(feature = "telemetry-uart"),
    feature = "telemetry-net",
    feature = "telemetry-null",
    not(target_os = "none")
))]
fn text(line: &[u8]) {
    super::textout::write_line(b"hv: ", line);
}

/// The UART carries telemetry frames: no text.
#[cfg(all(
    feature = "telemetry-uart",
    not(any(feature = "telemetry-net", feature = "telemetry-null")),
    target_os = "none"
))]
fn text(_line: &[u8]) {}

/// Prints a hypervisor log line.
#[macro_export]
macro_rules! hvlog {
    ($($arg:tt)*) => { $crate::image::log::print(format_args!($($arg)*)) };
}
