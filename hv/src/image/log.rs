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

use super::generated::SYSTEM;
use super::sync::SpinLock;

/// Serialises writers of the physical UART.
pub static UART_LOCK: SpinLock<()> = SpinLock::new(());

/// Formats into a fixed buffer (no allocation); overlong lines are cut.
pub struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuf {
            buf: [0; 256],
            len: 0,
        }
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Appends one byte; false when full.
    pub fn push(&mut self, b: u8) -> bool {
        if self.len == self.buf.len() {
            return false;
        }
        self.buf[self.len] = b;
        self.len += 1;
        true
    }

    /// Forgets the content.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            self.push(b);
        }
        Ok(())
    }
}

/// Writes `prefix` + `line` + CRLF to the physical UART as one unit.
pub fn write_line(prefix: &[u8], line: &[u8]) {
    let _g = UART_LOCK.lock();
    let base = SYSTEM.devices.uart_base;
    hv_arch::uart::write(base, prefix);
    hv_arch::uart::write(base, line);
    hv_arch::uart::write(base, b"\r\n");
}

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
    feature = "telemetry-null"
))]
fn text(line: &[u8]) {
    write_line(b"hv: ", line);
}

/// The UART carries telemetry frames: no text.
#[cfg(all(
    feature = "telemetry-uart",
    not(any(feature = "telemetry-net", feature = "telemetry-null"))
))]
fn text(_line: &[u8]) {}

/// Prints a hypervisor log line.
#[macro_export]
macro_rules! hvlog {
    ($($arg:tt)*) => { $crate::image::log::print(format_args!($($arg)*)) };
}
