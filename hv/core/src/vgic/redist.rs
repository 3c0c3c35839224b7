//! The virtual GIC redistributors (GICR): one pair of 64 KiB frames per vCPU, RD_base
//! (identification, power) then SGI_base (the vCPU's SGIs and PPIs).
//!
//! Spec: IHI 0069, GICR_* descriptions: GICR_CTLR (no LPIs: RAZ/WI), GICR_IIDR, GICR_TYPER (Affinity_Value
//! \[63:32\] = Aff3.Aff2.Aff1.Aff0, Processor_Number \[23:8\], Last \[4\] on the final frame,
//! no PLPIS/VLPIS), GICR_WAKER (ProcessorSleep \[1\] RW, ChildrenAsleep \[2\] RO following it
//! at once), GICR_PIDR2; in SGI_base the banked register 0 of each array (IGROUPR0,
//! ISENABLER0 … IGRPMODR0, IPRIORITYR0-7, ICFGR0/1). Frames are laid out contiguously
//! with a stride of 128 KiB (two frames, no VLPI frames), per the redistributor memory map.
//!
//! Note: like QEMU and KVM, ProcessorSleep does not gate delivery; the handshake only
//! lets drivers that wait for ChildrenAsleep to clear make progress.

use super::Vgic;
use super::block;
use super::dist::{IIDR_VALUE, PIDR2_GICV3};

/// Bytes between two vCPUs' redistributors.
pub const STRIDE: u64 = 0x2_0000;
/// Offset of SGI_base within a redistributor.
pub const SGI_BASE: u64 = 0x1_0000;
/// GICR_CTLR.
pub const CTLR: u64 = 0x0000;
/// GICR_IIDR.
pub const IIDR: u64 = 0x0004;
/// GICR_TYPER (64-bit).
pub const TYPER: u64 = 0x0008;
/// GICR_WAKER.
pub const WAKER: u64 = 0x0014;
/// GICR_PIDR2.
pub const PIDR2: u64 = 0xFFE8;
/// GICR_WAKER.ProcessorSleep.
pub const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
/// GICR_WAKER.ChildrenAsleep.
pub const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// GICR_TYPER.Last.
pub const TYPER_LAST: u64 = 1 << 4;

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// Bytes of the whole redistributor region of this VM.
    pub fn gicr_region_size(&self) -> u64 {
        self.vcpus as u64 * STRIDE
    }

    /// Whether a GICR access of `size` bytes at `offset` (from the region base) is one
    /// the model serves.
    pub fn gicr_access_ok(&self, offset: u64, size: u8) -> bool {
        if offset >= self.gicr_region_size() {
            return false;
        }
        let f = offset % STRIDE;
        match size {
            4 => f & 3 == 0,
            8 => f & 7 == 0 && f < SGI_BASE,
            1 => (SGI_BASE + block::off::IPRIORITYR..SGI_BASE + block::off::IPRIORITYR + 32)
                .contains(&f),
            _ => false,
        }
    }

    /// GICR_TYPER of a vCPU.
    pub fn gicr_typer(&self, vcpu: usize) -> u64 {
        let m = self.mpidr[vcpu];
        let aff = (m & 0xFF_FFFF) | ((m >> 8) & 0xFF00_0000);
        let last = if vcpu + 1 == self.vcpus {
            TYPER_LAST
        } else {
            0
        };
        (aff << 32) | ((vcpu as u64 & 0xFFFF) << 8) | last
    }

    /// Guest read from the redistributor region.
    pub fn gicr_read(&mut self, offset: u64, size: u8) -> u64 {
        if !self.gicr_access_ok(offset, size) {
            self.count_bad();
            return 0;
        }
        let vcpu = (offset / STRIDE) as usize;
        let f = offset % STRIDE;
        if f >= SGI_BASE {
            return match block::locate(f - SGI_BASE) {
                Some((array, 0, byte)) => self.private[vcpu].read(array, byte, size, !0) as u64,
                _ => 0,
            };
        }
        let typer = self.gicr_typer(vcpu);
        match (f, size) {
            (IIDR, _) => IIDR_VALUE as u64,
            (TYPER, 8) => typer,
            (TYPER, _) => typer & 0xFFFF_FFFF,
            (0x000C, _) => typer >> 32,
            (WAKER, _) if self.sleep[vcpu] => {
                (WAKER_PROCESSOR_SLEEP | WAKER_CHILDREN_ASLEEP) as u64
            }
            (PIDR2, _) => PIDR2_GICV3 as u64,
            _ => 0,
        }
    }

    /// Guest write to the redistributor region. Returns the vCPU whose deliverable
    /// interrupts may have changed.
    pub fn gicr_write(&mut self, offset: u64, size: u8, value: u64) -> Option<usize> {
        if !self.gicr_access_ok(offset, size) {
            self.count_bad();
            return None;
        }
        let vcpu = (offset / STRIDE) as usize;
        let f = offset % STRIDE;
        if f >= SGI_BASE {
            let Some((array, 0, byte)) = block::locate(f - SGI_BASE) else {
                return None;
            };
            let r = self.private[vcpu].write(array, byte, size, value as u32, !0, 0xFFFF);
            return r.changed.then_some(vcpu);
        }
        if f == WAKER {
            self.sleep[vcpu] = value as u32 & WAKER_PROCESSOR_SLEEP != 0;
        }
        None
    }

    /// GICR_WAKER.ProcessorSleep of a vCPU.
    pub fn processor_sleep(&self, vcpu: usize) -> bool {
        self.sleep[vcpu]
    }
}
