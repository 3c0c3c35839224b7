//! Placement mechanisms of the layout: ranges, the first-fit allocator and the image
//! store. The policy (what goes where, in which order) is [`crate::layout`]'s and, for
//! their own memory, the extensions'; both place through the one [`Allocator`] so that
//! the memory map and the out-of-memory errors come out alike.

use crate::config::Config;
use crate::error::ConfigError;
use crate::fmt::{hex, overlaps, range};
use crate::size::{KIB4, align_up, human};

/// A placed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Physical base.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

impl Placed {
    /// End (exclusive).
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// A line of the memory map.
#[derive(Debug, Clone)]
pub struct MapEntry {
    /// The range.
    pub at: Placed,
    /// Who owns it.
    pub owner: String,
}

/// First-fit placement around claimed ranges.
pub struct Allocator {
    /// The board's RAM.
    pub ram: Placed,
    /// Where the next search starts (the end of the last placement).
    pub cursor: u64,
    /// Every range claimed so far, in claim order (becomes the memory map).
    pub taken: Vec<MapEntry>,
}

impl Allocator {
    /// A range of RAM claimed at a fixed base (by the board or the description).
    pub fn claim(&mut self, base: u64, size: u64, owner: String) {
        self.taken.push(MapEntry {
            at: Placed { base, size },
            owner,
        });
    }

    /// Places `size` bytes at the first `align`ed free address at or after the cursor;
    /// `owner` names the range in the map and in the out-of-memory error, which names
    /// `field` of the system description.
    pub fn alloc(
        &mut self,
        size: u64,
        align: u64,
        owner: String,
        cfg: &Config,
        field: &str,
    ) -> Result<Placed, ConfigError> {
        let oom = || {
            ConfigError::one(
                &cfg.system_file,
                field,
                format!(
                    "out of memory: {owner} needs {} but the board's RAM {} has no such free range left",
                    human(size),
                    range(self.ram.base, self.ram.size)
                ),
            )
        };
        let mut at = self.cursor;
        loop {
            at = align_up(at, align).ok_or_else(oom)?;
            if at.checked_add(size).is_none_or(|end| end > self.ram.end()) {
                return Err(oom());
            }
            match self
                .taken
                .iter()
                .find(|t| overlaps(at, size, t.at.base, t.at.size))
            {
                Some(t) => at = t.at.end(),
                None => break,
            }
        }
        let placed = Placed { base: at, size };
        self.cursor = placed.end();
        if size > 0 {
            self.taken.push(MapEntry { at: placed, owner });
        }
        Ok(placed)
    }
}

/// The pristine image store: blobs packed 4 KiB aligned, identical ones stored once.
#[derive(Debug, Default)]
pub struct Store {
    /// The store's bytes (a multiple of 4 KiB).
    pub bytes: Vec<u8>,
}

impl Store {
    /// Stores `bytes` (or finds an identical earlier blob); returns its offset.
    pub fn put(&mut self, bytes: &[u8]) -> u64 {
        let store = &mut self.bytes;
        let mut off = 0;
        while off < store.len() {
            let end = off + bytes.len();
            if end <= store.len() && &store[off..end] == bytes && !bytes.is_empty() {
                return off as u64;
            }
            off += KIB4 as usize;
        }
        let off = store.len();
        store.extend_from_slice(bytes);
        store.resize(align_up(store.len() as u64, KIB4).unwrap_or(0) as usize, 0);
        off as u64
    }
}

/// Free ranges of RAM left after the layout (for the memory map).
pub fn free_ranges(ram: Placed, map: &[MapEntry]) -> Vec<Placed> {
    let mut out = Vec::new();
    let mut at = ram.base;
    for m in map {
        if m.at.base > at {
            out.push(Placed {
                base: at,
                size: m.at.base - at,
            });
        }
        at = at.max(m.at.end());
    }
    if at < ram.end() {
        out.push(Placed {
            base: at,
            size: ram.end() - at,
        });
    }
    out
}

impl std::fmt::Display for Placed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", hex(self.base), hex(self.end()))
    }
}
