//! A minimal reader of the flattened device tree a guest is entered with (x0): enough
//! for test guests to check what the configuration toolkit generated for their VM —
//! the header, and properties found by node name. Devicetree Specification v0.4, ch. 5.
//!
//! Every access reads single bytes: guests run with the MMU off, where data accesses
//! are Device memory and an unaligned access would fault; the blob's own alignment is
//! only what the boot protocol promises (8 bytes for the header).

/// `magic` of an FDT header (big-endian at offset 0).
pub const MAGIC: u32 = 0xd00d_feed;

const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// A device tree in guest memory.
#[derive(Clone, Copy)]
pub struct Fdt {
    base: u64,
    size: u32,
    off_struct: u32,
    off_strings: u32,
}

/// One property's value: `len` bytes at `off` in the blob.
#[derive(Clone, Copy)]
pub struct Prop {
    fdt: Fdt,
    off: u32,
    /// Bytes of the value.
    pub len: u32,
}

fn byte(addr: u64) -> u8 {
    // SAFETY: callers only pass addresses inside the blob, whose bounds were checked
    // against its header's `totalsize` (the blob lies in the VM's RAM).
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

fn be32(addr: u64) -> u32 {
    u32::from_be_bytes([byte(addr), byte(addr + 1), byte(addr + 2), byte(addr + 3)])
}

impl Fdt {
    /// The tree at guest-physical `addr`, if its header is sane.
    ///
    /// # Safety
    /// `addr` must be readable memory of at least 40 bytes, and of the header's
    /// `totalsize` if its magic matches (the hypervisor passes such a blob in x0).
    pub unsafe fn at(addr: u64) -> Result<Fdt, &'static str> {
        if addr == 0 || addr % 8 != 0 {
            return Err("x0 is not an 8-byte aligned address");
        }
        if be32(addr) != MAGIC {
            return Err("no FDT magic at x0");
        }
        let f = Fdt {
            base: addr,
            size: be32(addr + 4),
            off_struct: be32(addr + 8),
            off_strings: be32(addr + 12),
        };
        if f.off_struct >= f.size || f.off_strings >= f.size {
            return Err("FDT header offsets outside totalsize");
        }
        Ok(f)
    }

    /// `totalsize` from the header.
    pub fn size(&self) -> u32 {
        self.size
    }

    fn u32_at(&self, off: u32) -> u32 {
        if off.saturating_add(4) > self.size {
            return END;
        }
        be32(self.base + off as u64)
    }

    /// Whether the NUL-terminated string at `off` is `s` (or, with `unit`, `s@…`).
    fn name_is(&self, off: u32, s: &str, unit: bool) -> bool {
        let a = self.base + off as u64;
        for (i, c) in s.bytes().enumerate() {
            if byte(a + i as u64) != c {
                return false;
            }
        }
        let next = byte(a + s.len() as u64);
        next == 0 || (unit && next == b'@')
    }

    /// Length of the NUL-terminated string at `off` (bounded by the blob).
    fn strlen(&self, off: u32) -> u32 {
        let mut n = 0;
        while off + n < self.size && byte(self.base + (off + n) as u64) != 0 {
            n += 1;
        }
        n
    }

    /// Visits every property: `f(node_name_off, depth, prop_name_off, prop)`; stops when
    /// `f` returns `true`.
    fn walk(&self, mut f: impl FnMut(u32, u32, u32, Prop) -> bool) {
        let mut off = self.off_struct;
        let mut depth = 0u32;
        let mut node = 0u32;
        loop {
            match self.u32_at(off) {
                BEGIN_NODE => {
                    node = off + 4;
                    depth += 1;
                    off = (node + self.strlen(node) + 1 + 3) & !3;
                }
                END_NODE => {
                    depth = depth.saturating_sub(1);
                    off += 4;
                }
                PROP => {
                    let len = self.u32_at(off + 4);
                    let name = self.off_strings + self.u32_at(off + 8);
                    let p = Prop {
                        fdt: *self,
                        off: off + 12,
                        len,
                    };
                    if off + 12 + len > self.size || f(node, depth, name, p) {
                        return;
                    }
                    off = (off + 12 + len + 3) & !3;
                }
                NOP => off += 4,
                _ => return,
            }
        }
    }

    /// Property `prop` of the first node called `node` or `node@<unit>` (`""` is the
    /// root).
    pub fn find(&self, node: &str, prop: &str) -> Option<Prop> {
        self.nth(node, prop, 0)
    }

    /// Property `prop` of the `n`-th node (0-based, in tree order) called `node` or
    /// `node@<unit>` that has it.
    pub fn nth(&self, node: &str, prop: &str, n: usize) -> Option<Prop> {
        let mut found = None;
        let mut seen = 0;
        self.walk(|nd, depth, name, p| {
            let node_ok = if node.is_empty() {
                depth == 1
            } else {
                self.name_is(nd, node, true)
            };
            if node_ok && self.name_is(name, prop, false) {
                if seen == n {
                    found = Some(p);
                    return true;
                }
                seen += 1;
            }
            false
        });
        found
    }
}

impl Prop {
    /// Big-endian 32-bit cell `i`.
    pub fn cell(&self, i: u32) -> Option<u32> {
        (4 * i + 4 <= self.len).then(|| be32(self.fdt.base + (self.off + 4 * i) as u64))
    }

    /// Big-endian 64-bit value made of cells `2i` and `2i + 1`.
    pub fn u64(&self, i: u32) -> Option<u64> {
        Some(((self.cell(2 * i)? as u64) << 32) | self.cell(2 * i + 1)? as u64)
    }

    /// Whether the value is the string `s` (NUL-terminated), or its first string is.
    pub fn is_str(&self, s: &str) -> bool {
        s.len() < self.len as usize && self.fdt.name_is(self.off, s, false)
    }

    /// Copies the (first) string of the value into `buf`; returns it.
    pub fn str<'a>(&self, buf: &'a mut [u8]) -> &'a str {
        let mut n = 0;
        while n < buf.len() && (n as u32) < self.len {
            let c = byte(self.fdt.base + (self.off + n as u32) as u64);
            if c == 0 {
                break;
            }
            buf[n] = c;
            n += 1;
        }
        core::str::from_utf8(&buf[..n]).unwrap_or("<not UTF-8>")
    }
}
