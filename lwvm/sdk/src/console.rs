//! Console output through the WRITE system call: `print!`, `println!` and the harness's
//! `result!` (`RESULT <key> <value>` lines). Each macro call formats into a buffer on the
//! stack and writes it in as few calls as possible; the hypervisor tags whole lines
//! with the lwVM's name.
use core::fmt::{self, Write};

/// A formatting buffer flushed through [`crate::sys::write`].
pub struct Line {
    buf: [u8; 256],
    len: usize,
}

impl Line {
    /// An empty buffer.
    pub const fn new() -> Self {
        Line {
            buf: [0; 256],
            len: 0,
        }
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) {
        let mut at = 0;
        while at < self.len {
            let n = crate::sys::write(&self.buf[at..self.len]);
            if n <= 0 {
                break;
            }
            at += n as usize;
        }
        self.len = 0;
    }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments, newline: bool) {
    let mut l = Line::new();
    let _ = l.write_fmt(args);
    if newline {
        let _ = l.write_str("\n");
    }
    l.flush();
}

/// Prints to the lwVM's console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::_print(format_args!($($arg)*), false) };
}

/// Prints a line to the lwVM's console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::_print(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::console::_print(format_args!($($arg)*), true) };
}

/// Prints `RESULT <key> <value>` (the integration tests' convention).
#[macro_export]
macro_rules! result {
    ($key:expr, $($arg:tt)*) => {
        $crate::println!("RESULT {} {}", $key, format_args!($($arg)*))
    };
}
