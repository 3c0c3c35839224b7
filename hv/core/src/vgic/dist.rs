//! The virtual GIC distributor (GICD): global control, identification, SPI state and
//! routing.
//!
//! Spec: IHI 0069, the GICD register map and descriptions: GICD_CTLR (single security
//! state view: EnableGrp1 \[1\], ARE \[4\] RAO/WI, DS \[6\] RAO/WI, RWP \[31\] = 0 since writes
//! take effect at once), GICD_TYPER (ITLinesNumber from the VM's largest owned SPI,
//! CPUNumber, IDbits, no LPIs/MBIs, No1N), GICD_IIDR, GICD_TYPER2, the banked arrays
//! (register 0, i.e. INTIDs 0..31, is RAZ/WI with ARE=1: the redistributors own them),
//! `GICD_IROUTER<n>` (64-bit, or 32-bit halves) and GICD_PIDR2 (ArchRev = 3).
//!
//! Accesses: 32-bit aligned everywhere; 8-bit also in IPRIORITYR and ITARGETSR;
//! 64-bit in IROUTER. Others are refused and counted (`Vgic::bad_accesses`).

use super::Vgic;
use super::block::{self, BankWrite};

/// GICD_CTLR.
pub const CTLR: u64 = 0x0000;
/// GICD_TYPER.
pub const TYPER: u64 = 0x0004;
/// GICD_IIDR.
pub const IIDR: u64 = 0x0008;
/// GICD_TYPER2.
pub const TYPER2: u64 = 0x000C;
/// GICD_STATUSR.
pub const STATUSR: u64 = 0x0010;
/// `GICD_ITARGETSR<n>` (RAZ/WI with affinity routing).
pub const ITARGETSR: u64 = 0x0800;
/// `GICD_IROUTER<n>` for n = 32.. (the array starts at 0x6000 for n = 0).
pub const IROUTER: u64 = 0x6000;
/// GICD_PIDR2.
pub const PIDR2: u64 = 0xFFE8;
/// Size of the GICD frame.
pub const FRAME_SIZE: u64 = 0x1_0000;

/// GICD_CTLR.EnableGrp1 (single security state).
pub const CTLR_ENABLE_GRP1: u32 = 1 << 1;
/// GICD_CTLR.ARE.
pub const CTLR_ARE: u32 = 1 << 4;
/// GICD_CTLR.DS.
pub const CTLR_DS: u32 = 1 << 6;
/// GICD_IROUTER.Interrupt_Routing_Mode (1 of N; unsupported here, RAZ/WI).
pub const IROUTER_IRM: u64 = 1 << 31;
/// GICD_IROUTER affinity fields.
pub const IROUTER_AFF_MASK: u64 = 0xFF_00FF_FFFF;
/// GICD_IIDR: implementer 0x43B (Arm), product 'P'.
pub const IIDR_VALUE: u32 = 0x5000_043B;
/// GICD_PIDR2 / GICR_PIDR2: ArchRev 3 (GICv3) in bits \[7:4\].
pub const PIDR2_GICV3: u32 = 0x30;
/// GICD_TYPER.IDbits: 10 INTID bits (no LPIs).
const TYPER_IDBITS: u32 = 9 << 19;
/// GICD_TYPER.A3V: Aff3 supported.
const TYPER_A3V: u32 = 1 << 24;
/// GICD_TYPER.No1N: 1 of N routing not supported.
const TYPER_NO1N: u32 = 1 << 25;

/// GICD_TYPER of a VM with `vcpus` vCPUs (at least one) whose highest owned SPI is
/// `max_spi`: ITLinesNumber covers it, CPUNumber, IDbits, A3V, No1N.
pub const fn gicd_typer(max_spi: Option<u32>, vcpus: usize) -> u32 {
    let it_lines = match max_spi {
        Some(m) => m / 32,
        None => 0,
    };
    let cpus = ((if vcpus < 8 { vcpus } else { 8 }) as u32 - 1) << 5;
    it_lines | cpus | TYPER_IDBITS | TYPER_A3V | TYPER_NO1N
}

/// A read of the distributor frame whose value is fixed for the VM's whole life
/// (GICD_TYPER, which is `typer`, GICD_IIDR, GICD_PIDR2; word-sized), as
/// [`Vgic::gicd_read`] answers it; `None` for any other offset or size.
pub const fn gicd_constant_read(offset: u64, size: u8, typer: u32) -> Option<u64> {
    if size != 4 {
        return None;
    }
    match offset {
        TYPER => Some(typer as u64),
        IIDR => Some(IIDR_VALUE as u64),
        PIDR2 => Some(PIDR2_GICV3 as u64),
        _ => None,
    }
}

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// Whether a GICD access of `size` bytes at `offset` is architecturally allowed here.
    pub const fn gicd_access_ok(offset: u64, size: u8) -> bool {
        if offset >= FRAME_SIZE {
            return false;
        }
        match size {
            4 => offset & 3 == 0,
            8 => offset & 7 == 0 && offset >= IROUTER + 8 * 32 && offset < IROUTER + 8 * 1020,
            1 => offset >= block::off::IPRIORITYR && offset < ITARGETSR + 0x400,
            _ => false,
        }
    }

    /// GICD_TYPER as this VM sees it.
    #[inline]
    pub fn gicd_typer(&self) -> u32 {
        self.typer
    }

    /// GICD_TYPER from the vCPU count and the owned SPIs (at construction).
    pub(super) fn compute_typer(&self) -> u32 {
        gicd_typer(self.max_owned_spi(), self.vcpus)
    }

    /// Owned-SPI mask of banked register block `n` (0 = private INTIDs: none here).
    fn dist_owned(&self, n: usize) -> u32 {
        if n == 0 || n > B {
            0
        } else {
            self.owned[n - 1]
        }
    }

    /// Guest read from the distributor frame.
    pub fn gicd_read(&mut self, offset: u64, size: u8) -> u64 {
        if !Self::gicd_access_ok(offset, size) {
            self.count_bad();
            return 0;
        }
        if let Some((array, n, byte)) = block::locate(offset) {
            let owned = self.dist_owned(n);
            return match n {
                0 => 0,
                _ if n > B => 0,
                _ => self.spi[n - 1].read(array, byte, size, owned) as u64,
            };
        }
        match offset {
            CTLR => {
                let en = if self.enable_grp1 {
                    CTLR_ENABLE_GRP1
                } else {
                    0
                };
                (en | CTLR_ARE | CTLR_DS) as u64
            }
            TYPER => self.gicd_typer() as u64,
            IIDR => IIDR_VALUE as u64,
            PIDR2 => PIDR2_GICV3 as u64,
            o if (IROUTER..IROUTER + 8 * 1020).contains(&o) => {
                let intid = ((o - IROUTER) / 8) as u32;
                let r = match Self::spi_slot(intid) {
                    Some((k, _)) if self.owns(intid) => self.route[k][(intid % 32) as usize],
                    _ => 0,
                };
                match (size, o % 8) {
                    (8, _) => r,
                    (_, 0) => r & 0xFFFF_FFFF,
                    _ => r >> 32,
                }
            }
            _ => 0,
        }
    }

    /// Guest write to the distributor frame. Returns whether interrupt delivery may have
    /// changed (the arch then refills list registers and kicks the VM's other vCPUs).
    pub fn gicd_write(&mut self, offset: u64, size: u8, value: u64) -> bool {
        if !Self::gicd_access_ok(offset, size) {
            self.count_bad();
            return false;
        }
        if let Some((array, n, byte)) = block::locate(offset) {
            let owned = self.dist_owned(n);
            let r = if n == 0 || n > B {
                BankWrite {
                    changed: false,
                    denied: n != 0 && value != 0,
                }
            } else {
                self.spi[n - 1].write(array, byte, size, value as u32, owned, 0)
            };
            self.count_denied(r.denied);
            return r.changed;
        }
        match offset {
            CTLR => {
                let en = value as u32 & CTLR_ENABLE_GRP1 != 0;
                let changed = en != self.enable_grp1;
                self.enable_grp1 = en;
                changed
            }
            o if (IROUTER..IROUTER + 8 * 1020).contains(&o) => {
                let intid = ((o - IROUTER) / 8) as u32;
                let Some((k, _)) = Self::spi_slot(intid).filter(|_| self.owns(intid)) else {
                    self.count_denied(intid >= super::SPI_BASE);
                    return false;
                };
                let slot = &mut self.route[k][(intid % 32) as usize];
                let new = match (size, o % 8) {
                    (8, _) => value,
                    (_, 0) => (*slot & !0xFFFF_FFFF) | (value & 0xFFFF_FFFF),
                    _ => (*slot & 0xFFFF_FFFF) | (value << 32),
                } & IROUTER_AFF_MASK;
                let changed = *slot != new;
                *slot = new;
                changed
            }
            _ => false,
        }
    }

    /// Whether the distributor forwards Group 1 interrupts (GICD_CTLR.EnableGrp1).
    pub fn group1_enabled(&self) -> bool {
        self.enable_grp1
    }
}
