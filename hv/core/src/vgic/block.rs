//! State of 32 consecutive interrupts and the "banked" register window shared by the
//! distributor (GICD, SPIs) and the redistributor's SGI_base frame (GICR, SGIs/PPIs).
//!
//! Why: IHI 0069 lays out IGROUPR, ISENABLER/ICENABLER, ISPENDR/ICPENDR,
//! ISACTIVER/ICACTIVER, IPRIORITYR, ICFGR and IGRPMODR at the same offsets in GICD
//! (register n covers INTIDs 32n..) and in GICR SGI_base (register 0 only). One
//! implementation on a [`Block`] serves both. Spec: IHI 0069, the GICD_* and
//! GICR_* (SGI_base) register descriptions, "Interrupt grouping" (only Non-secure Group 1 is offered:
//! IGROUPR is RAO/WI, IGRPMODR RAZ/WI), "Interrupt prioritization" (5 implemented priority bits).
//!
//! Pending state keeps two sources apart, as the GIC does: a latch (edges, ISPENDR
//! writes) and the line level of level-sensitive interrupts. ICPENDR only clears the
//! latch, so a level interrupt whose line is still high stays pending (IHI 0069, "Interrupt lifecycle").

/// Offsets of the banked register arrays, relative to GICD or to GICR SGI_base.
pub mod off {
    /// `IGROUPR<n>`.
    pub const IGROUPR: u64 = 0x080;
    /// `ISENABLER<n>`.
    pub const ISENABLER: u64 = 0x100;
    /// `ICENABLER<n>`.
    pub const ICENABLER: u64 = 0x180;
    /// `ISPENDR<n>`.
    pub const ISPENDR: u64 = 0x200;
    /// `ICPENDR<n>`.
    pub const ICPENDR: u64 = 0x280;
    /// `ISACTIVER<n>`.
    pub const ISACTIVER: u64 = 0x300;
    /// `ICACTIVER<n>`.
    pub const ICACTIVER: u64 = 0x380;
    /// `IPRIORITYR<n>` (one byte per INTID).
    pub const IPRIORITYR: u64 = 0x400;
    /// `ICFGR<n>` (two bits per INTID).
    pub const ICFGR: u64 = 0xC00;
    /// `IGRPMODR<n>`.
    pub const IGRPMODR: u64 = 0xD00;
    /// End of the banked window (NSACR at 0xE00 and beyond are not banked state).
    pub const END: u64 = 0xE00;
}

/// Implemented priority bits: the upper five (IHI 0069 4.8; ICH_VTR_EL2.PRIbits ≥ 5).
pub const PRIORITY_MASK: u8 = 0xF8;

/// State of 32 interrupts (INTIDs `32 * n .. 32 * n + 31`), one bit per interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Enabled (ISENABLER).
    pub enabled: u32,
    /// Pending latch: edges and ISPENDR writes.
    pub latch: u32,
    /// Line level (level-sensitive sources only).
    pub line: u32,
    /// Active.
    pub active: u32,
    /// Edge-triggered (ICFGR field 0b10) rather than level-sensitive.
    pub edge: u32,
    /// Priority per interrupt (lower is more urgent).
    pub priority: [u8; 32],
    /// Physical INTID of a hardware-forwarded interrupt (0 = purely virtual).
    pub hw: [u16; 32],
}

impl Default for Block {
    fn default() -> Self {
        Block::new()
    }
}

/// The outcome of a write to the banked window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BankWrite {
    /// Something that can change delivery (enable, pending, active, priority) changed.
    pub changed: bool,
    /// The write tried to touch interrupts the VM does not own.
    pub denied: bool,
}

impl Block {
    /// Reset state: everything disabled, idle, level-sensitive, priority 0.
    pub const fn new() -> Block {
        Block {
            enabled: 0,
            latch: 0,
            line: 0,
            active: 0,
            edge: 0,
            priority: [0; 32],
            hw: [0; 32],
        }
    }

    /// Reset state of a redistributor's SGI/PPI block: SGIs are edge-triggered.
    pub const fn new_private() -> Block {
        let mut b = Block::new();
        b.edge = 0xFFFF;
        b
    }

    /// Pending bits: the latch, plus the line of level-sensitive interrupts.
    pub const fn pending(&self) -> u32 {
        self.latch | (self.line & !self.edge)
    }

    /// Reads the banked register at `reg_off` (offset relative to the register array
    /// base, e.g. `off::ISENABLER + 4`), `index` being the register's index within this
    /// block (0 for 1-bit registers, 0..8 words for IPRIORITYR, 0..2 for ICFGR).
    /// `owned` masks what the VM may see. `size` is 1 (IPRIORITYR only) or 4.
    pub fn read(&self, array: u64, byte: u64, size: u8, owned: u32) -> u32 {
        match array {
            off::IGROUPR => owned,
            off::ISENABLER | off::ICENABLER => self.enabled & owned,
            off::ISPENDR | off::ICPENDR => self.pending() & owned,
            off::ISACTIVER | off::ICACTIVER => self.active & owned,
            off::IPRIORITYR => {
                let mut v = 0u32;
                for i in 0..size as u64 {
                    let n = (byte + i) as usize;
                    if owned & (1 << n) != 0 {
                        v |= (self.priority[n] as u32) << (8 * i);
                    }
                }
                v
            }
            off::ICFGR => {
                let half = (byte / 4) as u32 * 16;
                let mut v = 0u32;
                for i in 0..16 {
                    let bit = 1 << (half + i);
                    if owned & bit != 0 && self.edge & bit != 0 {
                        v |= 2 << (2 * i);
                    }
                }
                v
            }
            _ => 0,
        }
    }

    /// Writes the banked register (see [`Block::read`]); `fixed_edge` are interrupts
    /// whose configuration is read-only (SGIs).
    pub fn write(
        &mut self,
        array: u64,
        byte: u64,
        size: u8,
        value: u32,
        owned: u32,
        fixed_edge: u32,
    ) -> BankWrite {
        let mut r = BankWrite::default();
        let v = value & owned;
        match array {
            off::IGROUPR | off::IGRPMODR => {
                // Group 1 Non-secure only: IGROUPR RAO/WI, IGRPMODR RAZ/WI.
                r.denied = value & !owned != 0;
            }
            off::ISENABLER => {
                r.denied = value & !owned != 0;
                r.changed = v & !self.enabled != 0;
                self.enabled |= v;
            }
            off::ICENABLER => {
                r.denied = value & !owned != 0;
                r.changed = v & self.enabled != 0;
                self.enabled &= !v;
            }
            off::ISPENDR => {
                r.denied = value & !owned != 0;
                r.changed = v & !self.latch != 0;
                self.latch |= v;
            }
            off::ICPENDR => {
                r.denied = value & !owned != 0;
                r.changed = v & self.latch != 0;
                self.latch &= !v;
            }
            off::ISACTIVER => {
                r.denied = value & !owned != 0;
                r.changed = v & !self.active != 0;
                self.active |= v;
            }
            off::ICACTIVER => {
                r.denied = value & !owned != 0;
                r.changed = v & self.active != 0;
                self.active &= !v;
            }
            off::IPRIORITYR => {
                for i in 0..size as u64 {
                    let n = (byte + i) as usize;
                    let p = (value >> (8 * i)) as u8 & PRIORITY_MASK;
                    if owned & (1 << n) == 0 {
                        r.denied |= p != 0;
                    } else if self.priority[n] != p {
                        self.priority[n] = p;
                        r.changed = true;
                    }
                }
            }
            off::ICFGR => {
                let half = (byte / 4) as u32 * 16;
                for i in 0..16 {
                    let bit = 1 << (half + i);
                    let edge = value & (2 << (2 * i)) != 0;
                    if owned & bit == 0 {
                        r.denied |= edge;
                    } else if fixed_edge & bit == 0 {
                        if edge {
                            self.edge |= bit;
                        } else {
                            self.edge &= !bit;
                        }
                    }
                }
            }
            _ => {}
        }
        r
    }
}

/// Splits an offset inside the banked window into (array base, block index, byte offset
/// within the block's part of the array). `None` outside the window.
pub const fn locate(offset: u64) -> Option<(u64, usize, u64)> {
    match offset {
        off::IGROUPR..off::IPRIORITYR => {
            let array = offset & !0x7F;
            Some((array, ((offset - array) / 4) as usize, 0))
        }
        off::IPRIORITYR..0x800 => {
            let rel = offset - off::IPRIORITYR;
            Some((off::IPRIORITYR, (rel / 32) as usize, rel % 32))
        }
        off::ICFGR..off::IGRPMODR => {
            let rel = offset - off::ICFGR;
            Some((off::ICFGR, (rel / 8) as usize, rel % 8))
        }
        off::IGRPMODR..0xD80 => Some((off::IGRPMODR, ((offset - off::IGRPMODR) / 4) as usize, 0)),
        _ => None,
    }
}
