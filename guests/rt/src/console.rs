//! Console on the PL011 at IPA 0x0900_0000. Under the hypervisor the page is not
//! mapped: every access traps and is emulated.
use core::fmt;
use core::ptr::{read_volatile, write_volatile};

const UART_BASE: usize = 0x0900_0000;
const DR: usize = 0x000;
const FR: usize = 0x018;
const FR_TXFF: u32 = 1 << 5;

/// Writes one byte, waiting while the transmit FIFO is full.
pub fn putc(b: u8) {
    // SAFETY: UART_BASE is the PL011 of the board as the guest sees it; with the MMU
    // off these are device accesses, and the registers are 32-bit wide.
    unsafe {
        while read_volatile((UART_BASE + FR) as *const u32) & FR_TXFF != 0 {}
        write_volatile((UART_BASE + DR) as *mut u32, b as u32);
    }
}

/// `core::fmt` adapter for the console.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                putc(b'\r');
            }
            putc(b);
        }
        Ok(())
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::console::Console, $($arg)*);
    }};
}
