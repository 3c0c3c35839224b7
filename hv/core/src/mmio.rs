//! Which emulated device (or emulating VM) a trapped guest access hits.
//!
//! Why: a stage-2 data abort carries only an IPA; the arch must find the device model
//! and the offset within its window before calling `read`/`write`. The toolkit emits
//! each VM's windows ([`VmDesc::mmio`](crate::sysdesc::VmDesc::mmio): `uart_ipa`,
//! `gicd_ipa`, `gicr_ipa` with the sizes below, and the ranges other VMs emulate for
//! it), sorted and disjoint, so routing is a binary search over a table built before
//! boot. An IPA in no window is a guest error: the arch injects a synchronous external
//! abort (see [`crate::trap::inject`]).
//!
//! Window sizes: PL011 4 KiB (its PrimeCell ID registers end at 0xFFC), GICD 64 KiB,
//! GICR 128 KiB per vCPU (IHI 0069, redistributor memory map without VLPI frames).

use crate::sysdesc::{MmioRoute, MmioTarget};

/// Bytes of the emulated PL011 window.
pub const UART_SIZE: u64 = 0x1000;
/// Bytes of the emulated distributor window.
pub const GICD_SIZE: u64 = 0x1_0000;
/// Bytes of a virtio-mmio transport's register window (virtio 1.2 §4.2.2: registers up
/// to 0x0fc, then the device's config space).
pub const VIRTIO_MMIO_SIZE: u64 = 0x200;
/// Bytes of one vCPU's redistributor.
pub const GICR_STRIDE: u64 = crate::vgic::redist::STRIDE;

/// The target and offset `ipa` falls in, among `routes` (sorted by base, disjoint).
///
/// A VM has a handful of windows (three devices and the ranges emulated for it): up to
/// [`LINEAR_MAX`] of them a straight pass is cheaper than halving; more are searched.
#[inline]
pub fn route(routes: &[MmioRoute], ipa: u64) -> Option<(MmioTarget, u64)> {
    let within = |r: &MmioRoute| {
        let off = ipa.wrapping_sub(r.base);
        (off < r.size).then_some((r.target, off))
    };
    if routes.len() <= LINEAR_MAX {
        return routes.iter().find_map(within);
    }
    // The last window starting at or below `ipa` is the only one that can contain it.
    let i = routes.partition_point(|r| r.base <= ipa).checked_sub(1)?;
    within(&routes[i])
}

/// Most routes [`route`] looks through one by one.
pub const LINEAR_MAX: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pl011::Pl011;
    use crate::trap::Trap;
    use crate::vgic::Vgic;

    use MmioTarget::*;

    const fn at(base: u64, size: u64, target: MmioTarget) -> MmioRoute {
        MmioRoute { base, size, target }
    }

    const MAP: &[MmioRoute] = &[
        at(0x0800_0000, GICD_SIZE, Gicd),
        at(0x080A_0000, 2 * GICR_STRIDE, Gicr),
        at(0x0900_0000, UART_SIZE, Uart),
        at(0x0A00_0000, 0x2000, Reflected(3)),
    ];

    fn r(ipa: u64) -> Option<(MmioTarget, u64)> {
        route(MAP, ipa)
    }

    #[test]
    fn routing() {
        assert_eq!(r(0x0900_0000), Some((Uart, 0)));
        assert_eq!(r(0x0900_0FFC), Some((Uart, 0xFFC)));
        assert_eq!(r(0x0900_1000), None);
        assert_eq!(r(0x0800_0004), Some((Gicd, 4)));
        assert_eq!(r(0x0800_FFE8), Some((Gicd, 0xFFE8)));
        assert_eq!(r(0x0801_0000), None, "between GICD and GICR");
        assert_eq!(r(0x080B_0100), Some((Gicr, 0x1_0100)));
        assert_eq!(r(0x080E_0000), None, "past the second vCPU");
        assert_eq!(r(0x0A00_1FFF), Some((Reflected(3), 0x1FFF)));
        assert_eq!(r(0x0A00_2000), None);
        assert_eq!(r(0), None);
        assert_eq!(r(u64::MAX), None);
        assert_eq!(route(&MAP[..2], 0x0900_0000), None, "no console");
        assert_eq!(route(&[], 0x0900_0000), None);
    }

    #[test]
    fn long_tables_are_searched() {
        extern crate std;
        let many: std::vec::Vec<MmioRoute> = (0..3 * LINEAR_MAX as u64)
            .map(|k| at(0x1000_0000 + k * 0x2000, 0x1000, Reflected(k as u16)))
            .collect();
        for (k, m) in many.iter().enumerate() {
            assert_eq!(
                route(&many, m.base + 0xffc),
                Some((Reflected(k as u16), 0xffc))
            );
            assert_eq!(route(&many, m.base + 0x1000), None, "the gap after {k}");
        }
        assert_eq!(route(&many, 0x0fff_ffff), None);
    }

    #[test]
    fn trapped_store_reaches_the_uart() {
        // str w1, [x0] with x0 = 0x0900_0000 (UARTDR), x1 = 'h'.
        let regs = [0x0900_0000u64, b'h' as u64];
        let t = Trap::decode(0x9381_0047, 0xFFFF_0000_0900_0000, 0x0009_0000);
        let Trap::DataAbort(da) = t else { panic!() };
        let acc = da.mmio().unwrap();
        let (dev, off) = route(MAP, acc.ipa).unwrap();
        assert_eq!((dev, off), (Uart, 0));
        let mut uart = Pl011::new();
        let e = uart.write(
            off,
            acc.size,
            acc.store_value(regs[acc.reg as usize]) as u32,
        );
        assert_eq!(e.tx, Some(b'h'));
        assert_eq!(t.pc_advance(0x9381_0047), 4);
    }

    #[test]
    fn trapped_load_of_gicd_typer() {
        // ldr w2, [xN] at GICD_TYPER: ISV, SAS=2, SRT=2, translation fault L3.
        let esr = 0x9382_0007;
        let Trap::DataAbort(da) = Trap::decode(esr, 0x0800_0004, 0x0008_0000) else {
            panic!()
        };
        let acc = da.mmio().unwrap();
        assert!(!acc.write && acc.reg == 2);
        let (dev, off) = route(MAP, acc.ipa).unwrap();
        assert_eq!(dev, Gicd);
        let mut g = Vgic::<2, 1>::new(&[0x8000_0000, 0x8000_0001], &[33]).unwrap();
        let v = acc.load_value(g.gicd_read(off, acc.size));
        assert_eq!(v & 0x1F, 1, "ITLinesNumber covers INTID 33");
        assert_eq!((v >> 5) & 7, 1, "two vCPUs");
    }
}
