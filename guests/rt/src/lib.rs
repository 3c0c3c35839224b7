//! A tiny runtime for bare-metal guests: the entry code (primary and secondary vCPUs),
//! EL1 exception vectors, a console on the (emulated) PL011, a GICv3 driver, the
//! virtual timer, PSCI calls, the project's hypercalls, fault probes and the `RESULT`
//! convention of the test guests.
//!
//! A guest crate provides `#[unsafe(no_mangle)] extern "C" fn guest_main() -> !`
//! (or uses [`entry!`]) and links with `-Tguest.ld`. Guests run with the MMU off, so
//! the runtime avoids exclusive accesses: shared counters have a single writer.
#![cfg_attr(target_os = "none", no_std)]

#[cfg(target_arch = "aarch64")]
pub mod arch;
#[cfg(target_arch = "aarch64")]
pub mod console;
#[cfg(target_arch = "aarch64")]
pub mod exceptions;
#[cfg(target_arch = "aarch64")]
pub mod fdt;
#[cfg(target_arch = "aarch64")]
pub mod gic;
#[cfg(target_arch = "aarch64")]
pub mod hypercall;
#[cfg(target_arch = "aarch64")]
pub mod irq;
#[cfg(target_arch = "aarch64")]
pub mod probe;
#[cfg(target_arch = "aarch64")]
pub mod psci;
#[cfg(target_arch = "aarch64")]
pub mod ptimer;
#[cfg(target_arch = "aarch64")]
pub mod result;
#[cfg(target_arch = "aarch64")]
pub mod smp;
pub mod timer;

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
    let _ = writeln!(console::Console, "RESULT status fail panic");
    psci::system_off()
}
