//! The EL1 exception vector table and its Rust handlers.
//!
//! - IRQs: acknowledged through ICC_IAR1_EL1 and handed to the hook set by
//!   [`crate::irq::set_handler`] (default: count per vCPU and INTID), then EOIed.
//! - Synchronous exceptions: if the vCPU armed "expect a fault" ([`catch`]), the
//!   exception's ESR_EL1/FAR_EL1 are recorded and the faulting instruction is skipped
//!   (ELR_EL1 += 4: every A64 instruction is 4 bytes). Otherwise the guest prints the
//!   syndrome, `RESULT status fail unexpected-exception` and powers off.
//! - IRQs taken from EL0 (AArch64 or AArch32): handled as above.
//! - Synchronous exceptions from EL0: handed to the hook set by [`set_el0_handler`] (a
//!   guest that runs EL0 code), otherwise unexpected.
//! - FIQ and SError: reported like an unexpected synchronous exception.
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::arch::{MAX_VCPUS, cpu_index};

global_asm!(
    r#"
    .macro rt_vec kind
    .balign 0x80
    sub sp, sp, #(22 * 8)
    stp x0, x1, [sp]
    mov x0, #\kind
    b rt_exc_common
    .endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global rt_vectors
rt_vectors:
    rt_vec 0
    rt_vec 1
    rt_vec 2
    rt_vec 3
    rt_vec 4
    rt_vec 5
    rt_vec 6
    rt_vec 7
    rt_vec 8
    rt_vec 9
    rt_vec 10
    rt_vec 11
    rt_vec 12
    rt_vec 13
    rt_vec 14
    rt_vec 15

rt_exc_common:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x29, [sp, #144]
    str x30, [sp, #160]
    bl rt_exception
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x29, [sp, #144]
    ldr x30, [sp, #160]
    ldp x0, x1, [sp]
    add sp, sp, #(22 * 8)
    eret
    .section .text, "ax"
"#
);

/// A synchronous exception caught by [`catch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// ESR_EL1.
    pub esr: u64,
    /// FAR_EL1 (meaningful for aborts).
    pub far: u64,
}

impl Fault {
    /// ESR_EL1.EC.
    pub fn ec(&self) -> u32 {
        ((self.esr >> 26) & 0x3f) as u32
    }
    /// ESR_EL1.ISS[5:0]: DFSC/IFSC of an abort.
    pub fn fsc(&self) -> u32 {
        (self.esr & 0x3f) as u32
    }
    /// ISS.WnR of a data abort.
    pub fn is_write(&self) -> bool {
        self.esr & (1 << 6) != 0
    }
    /// EC 0x24/0x25: data abort.
    pub fn is_data_abort(&self) -> bool {
        matches!(self.ec(), 0x24 | 0x25)
    }
    /// DFSC 0b0011xx: permission fault (any level).
    pub fn is_permission(&self) -> bool {
        self.fsc() & 0x3c == 0x0c
    }
    /// DFSC 0b0001xx: translation fault (any level).
    pub fn is_translation(&self) -> bool {
        self.fsc() & 0x3c == 0x04
    }
    /// DFSC 0x10: synchronous external abort.
    pub fn is_external(&self) -> bool {
        self.fsc() == 0x10
    }
    /// EC 0x00: unknown reason (undefined instruction).
    pub fn is_undefined(&self) -> bool {
        self.ec() == 0
    }
}

struct Expect {
    armed: AtomicBool,
    hit: AtomicBool,
    esr: AtomicU64,
    far: AtomicU64,
}

static EXPECT: [Expect; MAX_VCPUS] = [const {
    Expect {
        armed: AtomicBool::new(false),
        hit: AtomicBool::new(false),
        esr: AtomicU64::new(0),
        far: AtomicU64::new(0),
    }
}; MAX_VCPUS];

/// Runs `f` with "expect a fault" armed on this vCPU: a synchronous exception inside
/// `f` is recorded and its instruction skipped. Returns the first fault, if any (after
/// the first, further exceptions in `f` are unexpected). `f` should be one instruction
/// (see [`crate::probe`]), as the rest of `f` runs on after the skipped one.
pub fn catch<F: FnOnce()>(f: F) -> Option<Fault> {
    let e = &EXPECT[cpu_index() % MAX_VCPUS];
    e.hit.store(false, Ordering::SeqCst);
    e.armed.store(true, Ordering::SeqCst);
    f();
    e.armed.store(false, Ordering::SeqCst);
    if e.hit.load(Ordering::SeqCst) {
        Some(Fault {
            esr: e.esr.load(Ordering::SeqCst),
            far: e.far.load(Ordering::SeqCst),
        })
    } else {
        None
    }
}

fn sysregs() -> (u64, u64, u64) {
    let (esr, far, elr): (u64, u64, u64);
    // SAFETY: reading the EL1 exception syndrome registers has no side effect.
    unsafe {
        asm!("mrs {}, esr_el1", "mrs {}, far_el1", "mrs {}, elr_el1",
            out(reg) esr, out(reg) far, out(reg) elr, options(nomem, nostack));
    }
    (esr, far, elr)
}

/// The handler of synchronous exceptions from EL0 (0: none).
static EL0_SYNC: AtomicUsize = AtomicUsize::new(0);

/// Sets the handler of synchronous exceptions taken from EL0 (an SVC, an abort of EL0
/// code), called with ESR_EL1; ERET then returns to ELR_EL1 (past an SVC already).
pub fn set_el0_handler(f: fn(u64)) {
    EL0_SYNC.store(f as usize, Ordering::SeqCst);
}

#[unsafe(no_mangle)]
extern "C" fn rt_exception(kind: u64) {
    match kind {
        // IRQ from the current EL (SP_EL0 or SP_ELx) or from EL0 (AArch64, AArch32).
        1 | 5 | 9 | 13 => crate::irq::dispatch(),
        // Synchronous, from EL0 (AArch64, AArch32).
        8 | 12 => {
            let (esr, far, elr) = sysregs();
            match EL0_SYNC.load(Ordering::SeqCst) {
                0 => unexpected(kind, esr, far, elr),
                f => {
                    // SAFETY: the value was stored from an `fn(u64)` by `set_el0_handler`.
                    let f: fn(u64) = unsafe { core::mem::transmute(f) };
                    f(esr)
                }
            }
        }
        // Current EL, synchronous.
        0 | 4 => {
            let (esr, far, elr) = sysregs();
            let e = &EXPECT[cpu_index() % MAX_VCPUS];
            if e.armed.swap(false, Ordering::SeqCst) {
                e.esr.store(esr, Ordering::SeqCst);
                e.far.store(far, Ordering::SeqCst);
                e.hit.store(true, Ordering::SeqCst);
                // SAFETY: moves the return address past the faulting A64 instruction
                // (4 bytes), as the armed `catch` asked; ERET then resumes there.
                unsafe { asm!("msr elr_el1, {}", in(reg) elr + 4, options(nomem, nostack)) };
            } else {
                unexpected(kind, esr, far, elr);
            }
        }
        _ => {
            let (esr, far, elr) = sysregs();
            unexpected(kind, esr, far, elr);
        }
    }
}

fn unexpected(kind: u64, esr: u64, far: u64, elr: u64) -> ! {
    crate::println!(
        "guest: unexpected exception (vector {kind}) on vCPU {}: ESR_EL1 {esr:#x} FAR_EL1 {far:#x} ELR_EL1 {elr:#x}",
        cpu_index()
    );
    crate::result::fail("unexpected-exception")
}
