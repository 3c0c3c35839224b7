//! Reads generated tables back: translation and enumeration of mappings.
//!
//! The walker knows nothing of how the tables were built; it only follows descriptors
//! the way the MMU does (4 KiB granule, start level 1, 39-bit input). Every table
//! pointer must land inside the table blob: a pointer outside it is reported, because
//! it would let a walk read memory that is not a table. This is the independent check
//! of [`crate::tables`] and, later, the isolation checker.

use crate::tables::bits;

/// A leaf mapping found by the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// Input address (VA or IPA) of the first byte.
    pub va: u64,
    /// Output (physical) address of the first byte.
    pub pa: u64,
    /// Bytes (block or page size, or more after [`coalesce`]).
    pub size: u64,
    /// Descriptor bits other than address and type.
    pub attrs: u64,
}

/// Why a walk failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    /// A table address outside the blob or misaligned.
    #[error("table at {0:#x} lies outside the table area")]
    OutsideTables(u64),
    /// A descriptor type the architecture reserves.
    #[error("reserved descriptor {desc:#x} at level {level}")]
    Reserved {
        /// The descriptor.
        desc: u64,
        /// Its level.
        level: u8,
    },
}

/// Access rights decoded from a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
}

/// Rights of a stage-2 leaf (S2AP, XN[1]).
pub fn s2_perms(attrs: u64) -> Perms {
    let ap = (attrs >> 6) & 0b11;
    Perms {
        read: ap & 0b01 != 0,
        write: ap & 0b10 != 0,
        exec: attrs & bits::XN == 0,
    }
}

/// Rights of an EL2 stage-1 leaf (AP[2] read-only, XN).
pub fn el2_perms(attrs: u64) -> Perms {
    Perms {
        read: true,
        write: attrs & (1 << 7) == 0,
        exec: attrs & bits::XN == 0,
    }
}

/// A view of a table blob loaded at `base`.
#[derive(Debug, Clone, Copy)]
pub struct Walker<'a> {
    blob: &'a [u8],
    base: u64,
}

const ATTR_MASK: u64 = !(bits::OA_MASK | 0b11);

impl<'a> Walker<'a> {
    /// Tables in `blob`, the first byte of which is at physical `base`.
    pub fn new(blob: &'a [u8], base: u64) -> Self {
        Walker { blob, base }
    }

    fn table(&self, pa: u64) -> Result<&'a [u8], WalkError> {
        let off = pa
            .checked_sub(self.base)
            .ok_or(WalkError::OutsideTables(pa))?;
        if !pa.is_multiple_of(4096) || off + 4096 > self.blob.len() as u64 {
            return Err(WalkError::OutsideTables(pa));
        }
        Ok(&self.blob[off as usize..off as usize + 4096])
    }

    fn entry(&self, table: u64, idx: u64) -> Result<u64, WalkError> {
        let t = self.table(table)?;
        let at = idx as usize * 8;
        Ok(u64::from_le_bytes(
            t[at..at + 8].try_into().unwrap_or([0; 8]),
        ))
    }

    /// Translates `va` through the regime rooted at `root`; `None` if unmapped.
    pub fn translate(&self, root: u64, va: u64) -> Result<Option<Leaf>, WalkError> {
        if va >= 1 << 39 {
            return Ok(None);
        }
        let mut table = root;
        for level in 1..=3u8 {
            let shift = 39 - 9 * u32::from(level);
            let d = self.entry(table, (va >> shift) & 0x1ff)?;
            if d & bits::VALID == 0 {
                return Ok(None);
            }
            let is_table = d & bits::TABLE_OR_PAGE != 0;
            if level == 3 && !is_table {
                return Err(WalkError::Reserved { desc: d, level });
            }
            if level < 3 && is_table {
                table = d & bits::OA_MASK;
                continue;
            }
            let size = 1u64 << shift;
            let base_va = va & !(size - 1);
            let base_pa = d & bits::OA_MASK & !(size - 1);
            return Ok(Some(Leaf {
                va: base_va,
                pa: base_pa,
                size,
                attrs: d & ATTR_MASK,
            }));
        }
        Ok(None)
    }

    /// The leaf descriptor that translates `va`: (its physical address, its value, its
    /// level); `None` if unmapped.
    pub fn descriptor(&self, root: u64, va: u64) -> Result<Option<(u64, u64, u8)>, WalkError> {
        if va >= 1 << 39 {
            return Ok(None);
        }
        let mut table = root;
        for level in 1..=3u8 {
            let idx = (va >> (39 - 9 * u32::from(level))) & 0x1ff;
            let d = self.entry(table, idx)?;
            if d & bits::VALID == 0 {
                return Ok(None);
            }
            if level < 3 && d & bits::TABLE_OR_PAGE != 0 {
                table = d & bits::OA_MASK;
                continue;
            }
            return Ok(Some((table + idx * 8, d, level)));
        }
        Ok(None)
    }

    /// Every leaf of the regime rooted at `root`, in address order.
    pub fn leaves(&self, root: u64) -> Result<Vec<Leaf>, WalkError> {
        let mut out = Vec::new();
        self.collect(root, 1, 0, &mut out)?;
        Ok(out)
    }

    fn collect(
        &self,
        table: u64,
        level: u8,
        va: u64,
        out: &mut Vec<Leaf>,
    ) -> Result<(), WalkError> {
        let shift = 39 - 9 * u32::from(level);
        for i in 0..512u64 {
            let d = self.entry(table, i)?;
            if d & bits::VALID == 0 {
                continue;
            }
            let at = va | (i << shift);
            let is_table = d & bits::TABLE_OR_PAGE != 0;
            match (level, is_table) {
                (3, false) => return Err(WalkError::Reserved { desc: d, level }),
                (1 | 2, true) => self.collect(d & bits::OA_MASK, level + 1, at, out)?,
                _ => out.push(Leaf {
                    va: at,
                    pa: d & bits::OA_MASK,
                    size: 1 << shift,
                    attrs: d & ATTR_MASK,
                }),
            }
        }
        Ok(())
    }

    /// Physical addresses of every table reachable from `root` (root included).
    pub fn tables(&self, root: u64) -> Result<Vec<u64>, WalkError> {
        let mut out = Vec::new();
        self.tables_from(root, 1, &mut out)?;
        Ok(out)
    }

    fn tables_from(&self, table: u64, level: u8, out: &mut Vec<u64>) -> Result<(), WalkError> {
        out.push(table);
        if level == 3 {
            return Ok(());
        }
        for i in 0..512 {
            let d = self.entry(table, i)?;
            if d & 0b11 == 0b11 {
                self.tables_from(d & bits::OA_MASK, level + 1, out)?;
            }
        }
        Ok(())
    }
}

/// Merges adjacent leaves that continue each other with equal attributes.
pub fn coalesce(leaves: &[Leaf]) -> Vec<Leaf> {
    let mut out: Vec<Leaf> = Vec::new();
    for l in leaves {
        match out.last_mut() {
            Some(p) if p.va + p.size == l.va && p.pa + p.size == l.pa && p.attrs == l.attrs => {
                p.size += l.size
            }
            _ => out.push(*l),
        }
    }
    out
}
