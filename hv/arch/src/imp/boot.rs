//! Reset entry of the primary CPU and the PSCI CPU_ON entry of the secondaries.
//!
//! QEMU loads the ELF and enters `_start` at EL2 with the MMU off on the boot CPU only;
//! the others stay off until the primary starts them through PSCI CPU_ON with their CPU
//! index as context id. Both paths pick a per-CPU stack, keep the assembly minimal and
//! call `hv_main(cpu_index)` (provided by the image crate) with the MMU still off.
use core::arch::global_asm;

/// Bytes of stack per physical CPU.
pub const STACK_SIZE: usize = 64 * 1024;
/// Number of per-CPU stacks the linker script reserves (`__stacks_start..__stacks_end`).
pub const MAX_CPUS: usize = 8;

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    // Primary CPU: index 0. Zero .bss before any Rust code runs.
    ldr x1, =__bss_start
    ldr x2, =__bss_end
1:  cmp x1, x2
    b.hs 2f
    str xzr, [x1], #8
    b 1b
2:  mov x0, #0
    b hv_common_entry

    .global hv_secondary_entry
hv_secondary_entry:
    // x0 = CPU index (the CPU_ON context id).

hv_common_entry:
    // Stack: __stacks_start + (index + 1) * STACK_SIZE.
    cmp x0, #{max_cpus}
    b.hs 9f
    mov x2, #{stack_size}
    madd x1, x0, x2, x2
    ldr x3, =__stacks_start
    add x1, x1, x3
    mov sp, x1
    // The hypervisor never uses FP/SIMD itself (it is built soft-float); the world
    // switch moves the guests' registers, so FP does not trap (TFP=0). SVE and SME
    // trap (TZ, TSM: hidden from VMs). `features::init_cpu` sets the final value.
    mov x1, #0x33ff
    msr cptr_el2, x1
    ldr x1, =hv_vectors
    msr vbar_el2, x1
    isb
    bl hv_main
9:  wfe
    b 9b
"#,
    max_cpus = const MAX_CPUS,
    stack_size = const STACK_SIZE,
);

unsafe extern "C" {
    fn hv_secondary_entry();
}

/// Physical address secondaries start at (identity mapped).
pub fn secondary_entry_pa() -> u64 {
    hv_secondary_entry as *const () as usize as u64
}
