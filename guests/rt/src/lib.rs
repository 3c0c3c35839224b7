//! A tiny runtime for bare-metal guests: the entry code, a console on the (emulated)
//! PL011, PSCI calls and the project's hypercalls.
//!
//! A guest crate provides `#[unsafe(no_mangle)] extern "C" fn guest_main() -> !`
//! (or uses [`entry!`]) and links with `-Tguest.ld`.
#![cfg_attr(target_os = "none", no_std)]

#[cfg(target_arch = "aarch64")]
pub mod arch;
#[cfg(target_arch = "aarch64")]
pub mod console;
#[cfg(target_arch = "aarch64")]
pub mod psci;

/// Declares the guest's main function.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn guest_main() -> ! {
            let f: fn() -> ! = $main;
            f()
        }
    };
}

#[cfg(all(target_os = "none", target_arch = "aarch64"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let _ = writeln!(console::Console, "guest panic: {info}");
    psci::system_off()
}
