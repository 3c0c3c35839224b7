//! Reassembles each VM's console bytes into lines (events may split a line anywhere).

use std::collections::BTreeMap;

/// Longest line kept before it is cut (a guest printing without newlines must not grow memory).
const MAX_LINE: usize = 4096;

#[derive(Debug, Default)]
pub struct Consoles {
    partial: BTreeMap<u16, Vec<u8>>,
}

impl Consoles {
    /// Adds `bytes` of VM `vm`; calls `on_line` for each completed line (without the newline,
    /// `\r` dropped, invalid UTF-8 replaced).
    pub fn push(&mut self, vm: u16, bytes: &[u8], mut on_line: impl FnMut(u16, &str)) {
        let buf = self.partial.entry(vm).or_default();
        for &b in bytes {
            match b {
                b'\n' => {
                    on_line(vm, &String::from_utf8_lossy(buf));
                    buf.clear();
                }
                b'\r' => {}
                _ => {
                    buf.push(b);
                    if buf.len() >= MAX_LINE {
                        on_line(vm, &String::from_utf8_lossy(buf));
                        buf.clear();
                    }
                }
            }
        }
    }

    /// The unfinished line of VM `vm` (a prompt waiting for input), if any.
    pub fn partial(&self, vm: u16) -> Option<String> {
        self.partial
            .get(&vm)
            .filter(|b| !b.is_empty())
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Flushes unfinished lines (end of a session).
    pub fn flush(&mut self, mut on_line: impl FnMut(u16, &str)) {
        for (&vm, buf) in self.partial.iter_mut() {
            if !buf.is_empty() {
                on_line(vm, &String::from_utf8_lossy(buf));
                buf.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_split_lines() {
        let mut c = Consoles::default();
        let mut lines = Vec::new();
        c.push(0, b"hel", |vm, l| lines.push((vm, l.to_owned())));
        c.push(1, b"x\r\n", |vm, l| lines.push((vm, l.to_owned())));
        c.push(0, b"lo\nrest", |vm, l| lines.push((vm, l.to_owned())));
        c.flush(|vm, l| lines.push((vm, l.to_owned())));
        assert_eq!(
            lines,
            [(1, "x".into()), (0, "hello".into()), (0, "rest".into())]
        );
    }
}
