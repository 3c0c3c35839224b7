//! Emulated MMIO: a stage-2 data abort on a page the configuration left unmapped on
//! purpose. Today: the VM's PL011 console.
use hv_arch::context::GuestRegs;
use hv_core::trap::abort::MmioAccess;

use super::console;
use super::generated::SYSTEM;
use super::state::VMS;

/// Size of the emulated PL011's register page.
const UART_SIZE: u64 = 0x1000;

/// Emulates `acc` for VM `vm`; false if no emulated device claims the address (the
/// caller injects an abort).
pub fn handle(vm: usize, acc: MmioAccess, regs: &mut GuestRegs) -> bool {
    let desc = &SYSTEM.vms[vm];
    if desc.console && (desc.uart_ipa..desc.uart_ipa + UART_SIZE).contains(&acc.ipa) {
        let off = acc.ipa - desc.uart_ipa;
        let mut c = VMS[vm].console.lock();
        if acc.write {
            let value = acc.store_value(regs.get(acc.reg as usize)) as u32;
            let eff = c.uart.write(off, acc.size, value);
            if let Some(b) = eff.tx {
                console::put(vm, &mut c, b);
            }
        } else {
            let raw = c.uart.read(off, acc.size) as u64;
            regs.set(acc.reg as usize, acc.load_value(raw));
        }
        return true;
    }
    false
}
