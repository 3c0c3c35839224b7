//! Page tables as finished data at their final physical addresses: the descriptor
//! encodings and the table builder ([`Tables`]). What is mapped is decided by
//! [`crate::pagetable`] (the hypervisor's map, the VMs' stage 2) and by the extensions
//! (their own regimes); this module knows only how.
//!
//! 4 KiB granule, 39-bit input addresses, walks start at level 1 (T0SZ = 25), 2 MiB
//! blocks where input and output are both 2 MiB aligned, 4 KiB pages otherwise. All
//! tables are packed contiguously from the table area's base: the EL2 stage-1 root
//! first, its sub-tables as they are needed, then each VM's stage-2 root and tables.
//! Descriptors are little-endian u64; the hypervisor only points TTBR0_EL2/VTTBR_EL2 at
//! them. [`crate::walk`] reads them back to check what was produced.

use crate::system::Access;

/// Descriptor bits shared by both regimes.
pub mod bits {
    /// Valid.
    pub const VALID: u64 = 1;
    /// Table (levels 1-2) or page (level 3) descriptor type bit.
    pub const TABLE_OR_PAGE: u64 = 1 << 1;
    /// Access flag.
    pub const AF: u64 = 1 << 10;
    /// Inner shareable.
    pub const SH_INNER: u64 = 0b11 << 8;
    /// Execute-never (stage-1 EL2 XN; stage-2 XN[1]).
    pub const XN: u64 = 1 << 54;
    /// Stage 1: AttrIndx field.
    pub const fn attr_index(n: u64) -> u64 {
        n << 2
    }
    /// Stage 1: AP[2:1] = 0b01, read-write (AP[1] is RES1 in the EL2 regime).
    pub const AP_RW_EL2: u64 = 0b01 << 6;
    /// Stage 1: AP[2:1] = 0b11, read-only (AP[1] is RES1 in the EL2 regime).
    pub const AP_RO_EL2: u64 = 0b11 << 6;
    /// Stage 2: MemAttr = 0b1111, normal inner/outer write-back.
    pub const S2_NORMAL_WB: u64 = 0b1111 << 2;
    /// Stage 2: S2AP read-only.
    pub const S2AP_RO: u64 = 0b01 << 6;
    /// Stage 2: S2AP read-write.
    pub const S2AP_RW: u64 = 0b11 << 6;
    /// Output address bits of a descriptor (40-bit PA).
    pub const OA_MASK: u64 = 0x0000_00ff_ffff_f000;
}

/// MAIR_EL2: attr0 normal WB, attr1 Device-nGnRE, attr2 normal non-cacheable.
pub const MAIR_EL2: u64 = 0xFF | (0x04 << 8) | (0x44 << 16);
/// TCR_EL2 (E2H=0): T0SZ=25, IRGN0/ORGN0=WBWA, SH0=inner, TG0=4K, PS=40-bit, RES1 31/23.
pub const TCR_EL2: u64 =
    25 | (1 << 8) | (1 << 10) | (3 << 12) | (0b010 << 16) | (1 << 23) | (1 << 31);
/// VTCR_EL2: T0SZ=25, SL0=1 (start level 1), IRGN0/ORGN0=WBWA, SH0=inner, TG0=4K,
/// PS=40-bit (clamped: QEMU's `-cpu max` reports 52 bits, the tables cover 40), RES1 31.
pub const VTCR_EL2: u64 =
    25 | (0b01 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | (0b010 << 16) | (1 << 31);

/// EL2 leaf attributes (E2H=0 encoding; [`crate::vhe::vhe_el2_attrs`] gives the E2H=1
/// one): normal memory, read-only, executable (the hypervisor's code).
pub const EL2_CODE: u64 = bits::attr_index(0) | bits::AP_RO_EL2 | bits::SH_INNER | bits::AF;
/// EL2 leaf attributes: normal memory, read-only, execute-never (the hypervisor's
/// read-only data, the page tables, the image store).
pub const EL2_RO: u64 = EL2_CODE | bits::XN;
/// EL2 leaf attributes: normal memory, read-write, execute-never.
pub const EL2_DATA: u64 =
    bits::attr_index(0) | bits::AP_RW_EL2 | bits::SH_INNER | bits::AF | bits::XN;
/// EL2 leaf attributes: Device-nGnRE, execute-never.
pub const EL2_DEVICE: u64 = bits::attr_index(1) | bits::AP_RW_EL2 | bits::AF | bits::XN;
/// Stage-2 attributes of VM RAM: normal WB, RW, executable.
pub const S2_RAM: u64 = bits::S2_NORMAL_WB | bits::S2AP_RW | bits::SH_INNER | bits::AF;

/// Stage-2 attributes of a passed-through device page: MemAttr = 0b0001 (Device-nGnRE,
/// what a guest's own device mapping is combined with), read-write, never executable.
pub const S2_DEVICE: u64 = (0b0001 << 2) | bits::S2AP_RW | bits::AF | bits::XN;

/// Stage-2 attributes of a shared mapping: never executable.
pub fn s2_shared(access: Access) -> u64 {
    let ap = if access == Access::Rw {
        bits::S2AP_RW
    } else {
        bits::S2AP_RO
    };
    bits::S2_NORMAL_WB | ap | bits::SH_INNER | bits::AF | bits::XN
}

/// Input addresses end here.
pub const VA_LIMIT: u64 = 1 << 39;
const ENTRIES: usize = 512;

/// Counts for one translation regime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegimeStats {
    /// `"EL2"` or `"vm <name>"`.
    pub name: String,
    /// Root table's physical address.
    pub root: u64,
    /// Tables used (root included).
    pub tables: usize,
    /// 2 MiB block descriptors.
    pub blocks_2m: usize,
    /// 4 KiB page descriptors.
    pub pages_4k: usize,
}

/// All generated tables.
#[derive(Debug, Clone)]
pub struct Tables {
    /// Physical address of the first table.
    pub base: u64,
    /// The tables in address order.
    pub tables: Vec<[u64; ENTRIES]>,
    /// EL2 first, then one per VM.
    pub regimes: Vec<RegimeStats>,
}

impl Tables {
    /// Bytes the tables occupy.
    pub fn size(&self) -> u64 {
        self.tables.len() as u64 * 4096
    }

    /// The little-endian image, zero-padded to `len` bytes.
    pub fn to_bytes(&self, len: u64) -> Vec<u8> {
        let mut out: Vec<u8> = self
            .tables
            .iter()
            .flatten()
            .flat_map(|d| d.to_le_bytes())
            .collect();
        out.resize(len.max(out.len() as u64) as usize, 0);
        out
    }

    fn new_table(&mut self) -> usize {
        self.tables.push([0; ENTRIES]);
        if let Some(r) = self.regimes.last_mut() {
            r.tables += 1;
        }
        self.tables.len() - 1
    }

    fn pa(&self, idx: usize) -> u64 {
        self.base + idx as u64 * 4096
    }

    /// The sub-table under `entry` of table `idx`, created if absent.
    fn child(&mut self, idx: usize, entry: usize, va: u64) -> Result<usize, String> {
        let d = self.tables[idx][entry];
        if d == 0 {
            let c = self.new_table();
            self.tables[idx][entry] = self.pa(c) | bits::TABLE_OR_PAGE | bits::VALID;
            return Ok(c);
        }
        if d & 0b11 != 0b11 {
            return Err(format!("{va:#x} is already mapped by a block"));
        }
        Ok((((d & bits::OA_MASK) - self.base) / 4096) as usize)
    }

    /// Maps `[va, va+size)` to `pa` in the regime whose root is table `root`.
    pub fn map(
        &mut self,
        root: usize,
        va: u64,
        pa: u64,
        size: u64,
        attrs: u64,
    ) -> Result<(), String> {
        if va.checked_add(size).is_none_or(|e| e > VA_LIMIT)
            || pa.checked_add(size).is_none_or(|e| e > 1 << 40)
        {
            return Err(format!(
                "{va:#x}+{size:#x} -> {pa:#x} exceeds the 39-bit input or 40-bit output range"
            ));
        }
        if (va | pa | size) & 0xfff != 0 {
            return Err(format!("{va:#x}+{size:#x} -> {pa:#x} is not 4K aligned"));
        }
        let (mut va, mut pa, end) = (va, pa, va + size);
        while va < end {
            let l2 = self.child(root, ((va >> 30) & 0x1ff) as usize, va)?;
            let i2 = ((va >> 21) & 0x1ff) as usize;
            if va % (2 << 20) == 0 && pa % (2 << 20) == 0 && end - va >= 2 << 20 {
                if self.tables[l2][i2] != 0 {
                    return Err(format!("{va:#x} is mapped twice"));
                }
                self.tables[l2][i2] = pa | attrs | bits::VALID;
                if let Some(r) = self.regimes.last_mut() {
                    r.blocks_2m += 1;
                }
                va += 2 << 20;
                pa += 2 << 20;
            } else {
                let l3 = self.child(l2, i2, va)?;
                let i3 = ((va >> 12) & 0x1ff) as usize;
                if self.tables[l3][i3] != 0 {
                    return Err(format!("{va:#x} is mapped twice"));
                }
                self.tables[l3][i3] = pa | attrs | bits::TABLE_OR_PAGE | bits::VALID;
                if let Some(r) = self.regimes.last_mut() {
                    r.pages_4k += 1;
                }
                va += 4096;
                pa += 4096;
            }
        }
        Ok(())
    }

    /// Entry `idx` of the table at physical `table`.
    pub fn entry(&self, table: u64, idx: usize) -> u64 {
        self.tables[((table - self.base) / 4096) as usize][idx]
    }

    /// Starts the next regime called `name` with a root that is a copy of the root at
    /// physical `from`: it shares every sub-table of that regime. Only input ranges whose
    /// root entry is empty in `from` may be mapped into it (a mapping elsewhere would
    /// edit the shared sub-tables); [`Tables::map`] creates their own tables.
    pub fn start_regime_from(&mut self, name: String, from: u64) -> usize {
        let copy = self.tables[((from - self.base) / 4096) as usize];
        let root = self.start_regime(name);
        self.tables[root] = copy;
        root
    }

    /// Starts the next regime called `name` (named in the `layout` report): its root
    /// table is the next table; returns the root's index for [`Tables::map`].
    pub fn start_regime(&mut self, name: String) -> usize {
        self.regimes.push(RegimeStats {
            name,
            ..Default::default()
        });
        let root = self.new_table();
        let pa = self.pa(root);
        if let Some(r) = self.regimes.last_mut() {
            r.root = pa;
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(base: u64) -> (Tables, usize) {
        let mut t = Tables {
            base,
            tables: Vec::new(),
            regimes: Vec::new(),
        };
        let root = t.start_regime("t".into());
        (t, root)
    }

    #[test]
    fn uses_blocks_when_both_sides_are_2m_aligned() {
        let (mut t, root) = empty(0x4040_0000);
        t.map(root, 0x4000_0000, 0x4100_0000, 4 << 20, S2_RAM)
            .unwrap();
        assert_eq!(
            (
                t.regimes[0].blocks_2m,
                t.regimes[0].pages_4k,
                t.tables.len()
            ),
            (2, 0, 2)
        );
        // The L1 entry for 1 GiB points at the second table.
        assert_eq!(t.tables[0][1], 0x4040_1000 | 0b11);
        assert_eq!(t.tables[1][0], 0x4100_0000 | S2_RAM | 1);
    }

    #[test]
    fn uses_pages_when_misaligned() {
        let (mut t, root) = empty(0);
        t.map(root, 0x4000_1000, 0x5000_1000, 0x3000, EL2_DATA)
            .unwrap();
        assert_eq!(
            (
                t.regimes[0].blocks_2m,
                t.regimes[0].pages_4k,
                t.tables.len()
            ),
            (0, 3, 3)
        );
        assert_eq!(t.tables[2][1], 0x5000_1000 | EL2_DATA | 0b11);
    }

    #[test]
    fn rejects_double_mapping_and_out_of_range() {
        let (mut t, root) = empty(0);
        t.map(root, 0, 0, 2 << 20, S2_RAM).unwrap();
        assert!(
            t.map(root, 0x1000, 0, 0x1000, S2_RAM)
                .unwrap_err()
                .contains("block")
        );
        assert!(t.map(root, 1 << 39, 0, 0x1000, S2_RAM).is_err());
        assert!(t.map(root, 0x800, 0, 0x1000, S2_RAM).is_err());
    }

    #[test]
    fn register_values() {
        assert_eq!(MAIR_EL2, 0x44_04ff);
        assert_eq!(TCR_EL2, 0x8082_3519);
        assert_eq!(VTCR_EL2, 0x8002_3559);
    }
}
