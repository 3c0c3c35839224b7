//! Entry code (primary and secondary vCPUs) and the few instructions a guest needs.
//!
//! Every vCPU starts with: FP/SIMD enabled (CPACR_EL1.FPEN, whose reset value is
//! UNKNOWN), VBAR_EL1 pointing at the runtime's vectors ([`crate::exceptions`]) and its
//! own 64K stack chosen by MPIDR_EL1.Aff0 (vCPU index; at most [`MAX_VCPUS`]).
use core::arch::{asm, global_asm};

/// vCPUs per VM the runtime has stacks and per-vCPU state for.
pub const MAX_VCPUS: usize = 4;

global_asm!(
    r#"
    .macro rt_cpu_setup
    mov x9, #(3 << 20)
    msr cpacr_el1, x9
    ldr x9, =rt_vectors
    msr vbar_el1, x9
    isb
    .endm

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
    rt_cpu_setup
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

    // PSCI CPU_ON entry of secondary vCPUs: x0 = context id (the Rust function).
    .section .text, "ax"
    .global rt_secondary_entry
rt_secondary_entry:
    mrs x1, mpidr_el1
    and x1, x1, #0xff
    cmp x1, #{max}
    b.hs 9f
    add x1, x1, #1
    lsl x1, x1, #16
    ldr x2, =__stacks_start
    add x2, x2, x1
    mov sp, x2
    rt_cpu_setup
    bl rt_secondary_main
9:  wfe
    b 9b
"#,
    max = const MAX_VCPUS,
);

/// Issues an SMCCC fast call through HVC with up to four arguments; returns x0..x3.
pub fn hvc(x0: u64, x1: u64, x2: u64, x3: u64) -> [u64; 4] {
    hvc6([x0, x1, x2, x3, 0, 0])
}

/// Issues an SMCCC call through `hvc #0` with x0..x5; returns x0..x3.
pub fn hvc6(x: [u64; 6]) -> [u64; 4] {
    let (r0, r1, r2, r3);
    // SAFETY: HVC traps to the hypervisor, which only writes x0..x3 (SMCCC 1.1: x4..x17
    // are preserved by SMCCC 1.1 callees, but we declare them clobbered anyway);
    // no guest memory is touched by the instruction itself.
    unsafe {
        asm!("hvc #0",
            inout("x0") x[0] => r0, inout("x1") x[1] => r1,
            inout("x2") x[2] => r2, inout("x3") x[3] => r3,
            inout("x4") x[4] => _, inout("x5") x[5] => _,
            out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _,
            out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
            out("x16") _, out("x17") _,
            options(nostack));
    }
    [r0, r1, r2, r3]
}

/// Waits for an interrupt (also wakes on a pending IRQ while PSTATE.I masks it).
pub fn wfi() {
    // SAFETY: WFI only suspends the vCPU until a wake-up event.
    unsafe { asm!("wfi", options(nomem, nostack)) }
}

/// MPIDR_EL1.
pub fn mpidr() -> u64 {
    let v: u64;
    // SAFETY: reading MPIDR_EL1 has no side effect.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// MIDR_EL1 (what the hypervisor's VPIDR_EL2 says).
pub fn midr() -> u64 {
    let v: u64;
    // SAFETY: reading MIDR_EL1 has no side effect.
    unsafe { asm!("mrs {}, midr_el1", out(reg) v, options(nomem, nostack)) };
    v
}

/// This vCPU's index in its VM (MPIDR_EL1.Aff0).
pub fn cpu_index() -> usize {
    (mpidr() & 0xff) as usize
}

/// Masks IRQs (PSTATE.I = 1).
pub fn irq_mask() {
    // SAFETY: only changes PSTATE.I; the compiler barrier keeps memory accesses in order.
    unsafe { asm!("msr daifset, #2", options(nostack)) }
}

/// Unmasks IRQs (PSTATE.I = 0); a pending IRQ is taken right after.
pub fn irq_unmask() {
    // SAFETY: only changes PSTATE.I; the vector table is installed at entry, and the
    // compiler barrier keeps memory accesses in order.
    unsafe { asm!("msr daifclr, #2", "isb", options(nostack)) }
}

/// DSB SY: completes all earlier memory accesses (before signalling another agent).
pub fn dsb() {
    // SAFETY: a barrier has no effect but ordering.
    unsafe { asm!("dsb sy", options(nostack)) }
}

/// ISB.
pub fn isb() {
    // SAFETY: a barrier has no effect but ordering.
    unsafe { asm!("isb", options(nostack)) }
}
