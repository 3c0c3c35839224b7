//! Entry code and the few instructions a guest needs (HVC, WFI).
use core::arch::{asm, global_asm};

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    // x0 holds the device-tree address (0 for bare-metal guests); keep it in x19.
    mov x19, x0
    mrs x1, mpidr_el1
    and x1, x1, #0xff
    cbnz x1, 2f
    ldr x1, =__stack_top
    mov sp, x1
    // Zero .bss.
    ldr x1, =__bss_start
    ldr x2, =__bss_end
1:  cmp x1, x2
    b.hs 3f
    str xzr, [x1], #8
    b 1b
3:  mov x0, x19
    bl guest_main
2:  wfe
    b 2b
"#
);

/// Issues an SMCCC fast call through HVC with up to four arguments; returns x0..x3.
pub fn hvc(x0: u64, x1: u64, x2: u64, x3: u64) -> [u64; 4] {
    let (r0, r1, r2, r3);
    // SAFETY: HVC traps to the hypervisor, which only writes x0..x3 (SMCCC 1.1);
    // no memory is touched by the instruction itself.
    unsafe {
        asm!("hvc #0",
            inout("x0") x0 => r0, inout("x1") x1 => r1,
            inout("x2") x2 => r2, inout("x3") x3 => r3,
            options(nostack));
    }
    [r0, r1, r2, r3]
}

/// Waits for an interrupt.
pub fn wfi() {
    // SAFETY: WFI only suspends the vCPU until an interrupt is pending.
    unsafe { asm!("wfi", options(nomem, nostack)) }
}
