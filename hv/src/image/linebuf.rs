//! A line of bytes in a fixed buffer (no allocation): console lines and log lines.
use core::fmt::{self, Write};

/// Bytes a line holds at most; longer lines are cut (log) or sent in pieces (console).
pub const LINE_MAX: usize = 256;

/// Formats into a fixed buffer; overlong lines are cut.
pub struct LineBuf(heapless::Vec<u8, LINE_MAX>);

impl LineBuf {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuf(heapless::Vec::new())
    }

    /// The bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Appends one byte; false when full.
    pub fn push(&mut self, b: u8) -> bool {
        self.0.push(b).is_ok()
    }

    /// Forgets the content.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
