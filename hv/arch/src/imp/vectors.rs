//! EL2 exception vectors and the guest entry/exit path.
//!
//! Model: `hv_enter_guest(regs)` pushes the hypervisor's callee-saved registers, keeps
//! `regs` in TPIDR_EL2, loads the guest's registers and ERETs. An exception from the
//! guest lands in a lower-EL vector, which saves all guest registers into `regs`, pops
//! the hypervisor frame and *returns* from `hv_enter_guest` with the vector's code. The
//! trap is then handled in ordinary Rust on the CPU's own stack.
//!
//! Before that, a synchronous exit of a class the registers' `fast` word offers is given
//! to the image's `hv_fast_hvc` / `hv_fast_sgi` / `hv_fast_dabt(regs, esr) -> u64` (on
//! the same stack, below the hypervisor frame): traps it answers completely (a constant hypercall answer, an SGI
//! write with no target, a constant distributor register) resume the guest from here,
//! without the run loop. The vector filters the classes itself (`hv_core::fast`'s
//! `OFFERED`, `SGI1R_MSR`, `hpfar_of`), so that any other trap pays a
//! few instructions (six for a class not offered).
//!
//! Exceptions taken from EL2 itself are hypervisor bugs: they go to `hv_fault`.
use core::arch::global_asm;

global_asm!(
    r#"
    .macro GUEST_EXIT code
    .balign 0x80
    stp x0, x1, [sp, #-16]!
    mov x1, #\code
    b hv_guest_exit
    .endm

    .macro HV_FAULT kind
    .balign 0x80
    mov x0, #\kind
    mrs x1, esr_el2
    mrs x2, elr_el2
    mrs x3, far_el2
    b hv_fault
    .endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global hv_vectors
hv_vectors:
    // Current EL with SP0.
    HV_FAULT 0
    HV_FAULT 1
    HV_FAULT 2
    HV_FAULT 3
    // Current EL with SPx.
    HV_FAULT 4
    HV_FAULT 5
    HV_FAULT 6
    // SError at EL2: a guest's, taken on purpose inside hv_take_serror's window (ELR in
    // it; x0/x1 are that function's scratch), or a hypervisor fault.
    .balign 0x80
    mrs x0, elr_el2
    adrp x1, hv_serror_window
    add x1, x1, :lo12:hv_serror_window
    sub x0, x0, x1
    cmp x0, #(hv_serror_window_end - hv_serror_window)
    b.hi 1f
    // Back into the window with SErrors masked again (PSTATE.A), reporting one taken.
    mrs x0, spsr_el2
    orr x0, x0, #(1 << 8)
    msr spsr_el2, x0
    mov x0, #1
    eret
1:  mov x0, #7
    mrs x1, esr_el2
    mrs x2, elr_el2
    mrs x3, far_el2
    b hv_fault
    // Lower EL, AArch64.
    GUEST_EXIT 0
    GUEST_EXIT 1
    GUEST_EXIT 2
    GUEST_EXIT 3
    // Lower EL, AArch32 (a 32-bit task at a guest's EL0): handled as the AArch64 ones.
    GUEST_EXIT 0
    GUEST_EXIT 1
    GUEST_EXIT 2
    GUEST_EXIT 3

    .text
    .global hv_enter_guest
hv_enter_guest:
    stp x29, x30, [sp, #-96]!
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    msr tpidr_el2, x0
hv_load_guest:
    // x0 = regs (also in TPIDR_EL2): load every guest register and ERET.
    ldp x1, x2, [x0, #248]
    msr elr_el2, x1
    msr spsr_el2, x2
    ldp x2, x3, [x0, #16]
    ldp x4, x5, [x0, #32]
    ldp x6, x7, [x0, #48]
    ldp x8, x9, [x0, #64]
    ldp x10, x11, [x0, #80]
    ldp x12, x13, [x0, #96]
    ldp x14, x15, [x0, #112]
    ldp x16, x17, [x0, #128]
    ldp x18, x19, [x0, #144]
    ldp x20, x21, [x0, #160]
    ldp x22, x23, [x0, #176]
    ldp x24, x25, [x0, #192]
    ldp x26, x27, [x0, #208]
    ldp x28, x29, [x0, #224]
    ldr x30, [x0, #240]
    ldp x0, x1, [x0, #0]
    eret
    dsb nsh
    isb

    // u64 hv_take_serror(void), with an SError pending (ISR_EL1.A): unmasks SErrors for a
    // moment so that it is taken here, in the window; 1 if it was, else 0.
    .global hv_take_serror
hv_take_serror:
    mov x0, #0
    msr daifclr, #4
hv_serror_window:
    isb
    nop
hv_serror_window_end:
    msr daifset, #4
    ret

hv_guest_exit:
    // sp: [guest x0, guest x1] on top of the hypervisor frame; x1 = exit code.
    mrs x0, tpidr_el2
    stp x2, x3, [x0, #16]
    stp x4, x5, [x0, #32]
    stp x6, x7, [x0, #48]
    stp x8, x9, [x0, #64]
    stp x10, x11, [x0, #80]
    stp x12, x13, [x0, #96]
    stp x14, x15, [x0, #112]
    stp x16, x17, [x0, #128]
    stp x18, x19, [x0, #144]
    stp x20, x21, [x0, #160]
    stp x22, x23, [x0, #176]
    stp x24, x25, [x0, #192]
    stp x26, x27, [x0, #208]
    stp x28, x29, [x0, #224]
    str x30, [x0, #240]
    mov x19, x1
    ldp x2, x3, [sp], #16
    stp x2, x3, [x0, #0]
    mrs x1, elr_el2
    mrs x2, spsr_el2
    stp x1, x2, [x0, #248]
    // The fast path: a synchronous exit of a class the `fast` word offers goes to the
    // image's `hv_fast_hvc` / `hv_fast_sgi` / `hv_fast_dabt(regs, esr)`, which answer
    // what they can at once (nonzero: resume the guest) or leave it to the run loop. The
    // classes are filtered here, so that a trap the path cannot answer pays only a few
    // instructions: MSR/MRS only for an MSR ICC_SGI1R_EL1 with no target, a data abort only on the page
    // `fast_page` names, an HVC of the project's range only for VM_INFO.
    cbnz x19, 2f
    ldr x2, [x0, #264]
    mrs x1, esr_el2
    ubfx x4, x1, #26, #6
    lsr x2, x2, x4
    tbz x2, #0, 2f
    mov x20, x0
    cmp x4, #0x18
    b.eq 5f
    cmp x4, #0x24
    b.eq 4f
    // HVC: a call of the project's own range (owner 6) other than VM_INFO (function 7)
    // has effects.
    ldr w5, [x0]
    ubfx w6, w5, #24, #6
    cmp w6, #6
    b.ne 6f
    and w6, w5, #0xffff
    cmp w6, #7
    b.ne 2f
6:  bl hv_fast_hvc
3:  cbz x0, 2f
    mov x0, x20
    b hv_load_guest
4:  mrs x5, hpfar_el2
    ldr x6, [x0, #272]
    cmp x5, x6
    b.ne 2f
    bl hv_fast_dabt
    b 3b
5:  and w5, w1, #0xfffffc1f
    mov w6, #0x3016
    movk w6, #0x623a, lsl #16
    cmp w5, w6
    b.ne 2f
    // ... whose target list (bits 15:0 of Rt) is empty. (Rt = 31 reads the saved ELR
    // here: XZR may go either way, the image's check reads it as zero.)
    ubfx x5, x1, #5, #5
    ldr x5, [x0, x5, lsl #3]
    tst x5, #0xffff
    b.ne 2f
    bl hv_fast_sgi
    b 3b
2:  // Back to the run loop: return from `hv_enter_guest` with the exit code.
    mov x0, x19
    ldp x19, x20, [sp, #16]
    ldp x21, x22, [sp, #32]
    ldp x23, x24, [sp, #48]
    ldp x25, x26, [sp, #64]
    ldp x27, x28, [sp, #80]
    ldp x29, x30, [sp], #96
    ret
"#
);

// The layout the assembly relies on.
const _: () = {
    use super::context::GuestRegs;
    assert!(core::mem::offset_of!(GuestRegs, elr) == 248);
    assert!(core::mem::offset_of!(GuestRegs, spsr) == 256);
    assert!(core::mem::offset_of!(GuestRegs, fast) == 264);
    assert!(core::mem::offset_of!(GuestRegs, fast_page) == 272);
    // The constants the filter spells out.
    assert!(hv_core::hypercall::fid::VM_INFO == 0xc600_0007);
    assert!(hv_core::hypercall::fid::VM_INFO >> 24 & 0x3f == 6);
    assert!(hv_core::fast::SGI1R_MSR == 0x623a_3016);
    // Exactly three classes: the branches below take what is neither 0x18 nor 0x24 as HVC.
    assert!(hv_core::fast::OFFERED == (1 << 0x16) | (1 << 0x18) | (1 << 0x24));
};
