//! The program's first instructions, the SVC gate and the counter: all of the SDK's asm.
use core::arch::{asm, global_asm};

use crate::Boot;

// The hypervisor enters here at EL0 with SP_EL0 at the top of the lwVM's memory, x0 =
// restart count, x1 = VM index. Before any Rust code can use them, x2 records whether
// every FP/SIMD register, FPSR and FPCR read zero (the program's FP state must be its
// own: nothing another VM left in the CPU). No frame to return to: clear the frame
// registers.
global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    .irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    orr v0.16b, v0.16b, v\n\().16b
    .endr
    umaxv b0, v0.16b
    fmov w2, s0
    mrs x3, fpsr
    mrs x4, fpcr
    orr x2, x2, x3
    orr x2, x2, x4
    cmp x2, #0
    cset x2, eq
    mov x29, xzr
    mov x30, xzr
    bl lwvm_sdk_start
1:  b 1b
"#
);

unsafe extern "Rust" {
    /// Defined by `entry!`.
    safe fn __lwvm_main(boot: Boot);
}

#[unsafe(no_mangle)]
extern "C" fn lwvm_sdk_start(restarts: u64, index: u64, fp_clean: u64) -> ! {
    __lwvm_main(Boot {
        restarts,
        index,
        fp_clean: fp_clean != 0,
    });
    crate::sys::exit(0)
}

/// `SVC #0` with call number `nr` and arguments x0..x5; returns x0..x3.
pub fn svc(nr: u64, a: [u64; 6]) -> [u64; 4] {
    let (r0, r1, r2, r3);
    // SAFETY: the hypervisor's system calls only read the caller's memory it names
    // (checked on its side) and write x0..x3; the other registers are preserved.
    unsafe {
        asm!(
            "svc #0",
            inlateout("x0") a[0] => r0,
            inlateout("x1") a[1] => r1,
            inlateout("x2") a[2] => r2,
            inlateout("x3") a[3] => r3,
            in("x4") a[4],
            in("x5") a[5],
            in("x8") nr,
            options(nostack),
        );
    }
    [r0, r1, r2, r3]
}

/// CNTVCT_EL0 (the hypervisor grants EL0 the counters).
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: reading the virtual counter has no side effects.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// CNTFRQ_EL0.
pub fn counter_frequency() -> u64 {
    let v: u64;
    // SAFETY: reading the counter frequency has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack)) };
    v
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("panic: {}", info.message());
    crate::println!("RESULT status fail panic");
    crate::sys::exit(101)
}
