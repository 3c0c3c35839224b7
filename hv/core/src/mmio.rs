//! Which emulated device a trapped guest access hits.
//!
//! Why: a stage-2 data abort carries only an IPA; the arch must find the device model
//! and the offset within its window before calling `read`/`write`. The windows come from
//! the VM's descriptor (`uart_ipa`, `gicd_ipa`, `gicr_ipa`), so routing is a pure lookup.
//! An IPA in no window is a guest error: the arch injects a synchronous external abort
//! (see [`crate::trap::inject`]).
//!
//! Window sizes: PL011 4 KiB (its PrimeCell ID registers end at 0xFFC), GICD 64 KiB,
//! GICR 128 KiB per vCPU (IHI 0069, redistributor memory map without VLPI frames).

use crate::sysdesc::VmDesc;

/// Bytes of the emulated PL011 window.
pub const UART_SIZE: u64 = 0x1000;
/// Bytes of the emulated distributor window.
pub const GICD_SIZE: u64 = 0x1_0000;
/// Bytes of one vCPU's redistributor.
pub const GICR_STRIDE: u64 = crate::vgic::redist::STRIDE;

/// An emulated device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The console PL011.
    Uart,
    /// The GIC distributor.
    Gicd,
    /// The GIC redistributors (offset from the first one).
    Gicr,
}

/// The emulated device windows of one VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceMap {
    /// PL011 base, when the VM has a console.
    pub uart: Option<u64>,
    /// GICD base.
    pub gicd: u64,
    /// GICR base.
    pub gicr: u64,
    /// Bytes of the GICR region (vCPUs × stride).
    pub gicr_size: u64,
}

impl DeviceMap {
    /// The windows of `vm`.
    pub fn from_vm(vm: &VmDesc) -> DeviceMap {
        DeviceMap {
            uart: vm.console.then_some(vm.uart_ipa),
            gicd: vm.gicd_ipa,
            gicr: vm.gicr_ipa,
            gicr_size: vm.vcpus.len() as u64 * GICR_STRIDE,
        }
    }

    /// The device and offset an IPA falls in.
    pub fn route(&self, ipa: u64) -> Option<(Device, u64)> {
        let within = |base: u64, size: u64| ipa.checked_sub(base).filter(|&o| o < size);
        if let Some(o) = self.uart.and_then(|b| within(b, UART_SIZE)) {
            return Some((Device::Uart, o));
        }
        if let Some(o) = within(self.gicd, GICD_SIZE) {
            return Some((Device::Gicd, o));
        }
        within(self.gicr, self.gicr_size).map(|o| (Device::Gicr, o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pl011::Pl011;
    use crate::trap::Trap;
    use crate::vgic::Vgic;

    const MAP: DeviceMap = DeviceMap {
        uart: Some(0x0900_0000),
        gicd: 0x0800_0000,
        gicr: 0x080A_0000,
        gicr_size: 2 * GICR_STRIDE,
    };

    #[test]
    fn routing() {
        assert_eq!(MAP.route(0x0900_0000), Some((Device::Uart, 0)));
        assert_eq!(MAP.route(0x0900_0FFC), Some((Device::Uart, 0xFFC)));
        assert_eq!(MAP.route(0x0900_1000), None);
        assert_eq!(MAP.route(0x0800_0004), Some((Device::Gicd, 4)));
        assert_eq!(MAP.route(0x0800_FFE8), Some((Device::Gicd, 0xFFE8)));
        assert_eq!(MAP.route(0x080B_0100), Some((Device::Gicr, 0x1_0100)));
        assert_eq!(MAP.route(0x080E_0000), None, "past the second vCPU");
        assert_eq!(MAP.route(0), None);
        let no_console = DeviceMap { uart: None, ..MAP };
        assert_eq!(no_console.route(0x0900_0000), None);
    }

    #[test]
    fn trapped_store_reaches_the_uart() {
        // str w1, [x0] with x0 = 0x0900_0000 (UARTDR), x1 = 'h'.
        let regs = [0x0900_0000u64, b'h' as u64];
        let t = Trap::decode(0x9381_0047, 0xFFFF_0000_0900_0000, 0x0009_0000);
        let Trap::DataAbort(da) = t else { panic!() };
        let acc = da.mmio().unwrap();
        let (dev, off) = MAP.route(acc.ipa).unwrap();
        assert_eq!((dev, off), (Device::Uart, 0));
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
        let (dev, off) = MAP.route(acc.ipa).unwrap();
        assert_eq!(dev, Device::Gicd);
        let mut g = Vgic::<2, 1>::new(&[0x8000_0000, 0x8000_0001], &[33]).unwrap();
        let v = acc.load_value(g.gicd_read(off, acc.size));
        assert_eq!(v & 0x1F, 1, "ITLinesNumber covers INTID 33");
        assert_eq!((v >> 5) & 7, 1, "two vCPUs");
    }
}
