//! Hypervisor bugs: a Rust panic or an exception taken from EL2 itself. Both print a
//! `hv: FATAL:` line and reset the machine; `cargo xtask` starts QEMU with `-no-reboot`,
//! so the run ends and the line is what tells it apart from a clean power-off.
use core::fmt::Write;

use super::linebuf::LineBuf;

fn report(args: core::fmt::Arguments) -> ! {
    let mut l = LineBuf::new();
    let _ = l.write_fmt(args);
    // The console lock may be held by the code that failed: write without it.
    super::uart::write(b"\r\nhv: FATAL: ");
    super::uart::write(l.as_bytes());
    super::uart::write(b"\r\n");
    hv_arch::firmware::system_reset()
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    report(format_args!(
        "panic on cpu {:#x}: {info}",
        hv_arch::cpu::mpidr()
    ))
}

/// Called by the vector code for an exception taken at EL2.
#[unsafe(no_mangle)]
extern "C" fn hv_fault(kind: u64, esr: u64, elr: u64, far: u64) -> ! {
    report(format_args!(
        "exception at EL2 (vector {kind}) on cpu {:#x}: ESR {esr:#x} ELR {elr:#x} FAR {far:#x}",
        hv_arch::cpu::mpidr()
    ))
}
