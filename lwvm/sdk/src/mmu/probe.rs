//! Probes that survive the faults they provoke: a shadow-paged program checks its own
//! mappings by touching them, and a fault its tables cause comes back as
//! `Err(syndrome)` (`lwvm_abi::fault`) instead of ending it.
//!
//! How: [`install_probe_handler`] registers `lwvm_sdk_fault_entry` with the
//! FAULT_HANDLER system call. The hypervisor enters it with x0 = faulting VA, x1 =
//! syndrome, x2 = faulting PC and every other register as it was at the fault. Each
//! probe is a leaf `extern "C"` asm routine whose one faulting instruction has a known
//! address, so x30 still holds the probe's return address when the fault arrives: if x2
//! is that instruction (or, for [`exec`], the armed target), the handler returns to the
//! probe's caller with x0 = syndrome, x1 = 1 — clobbering only x0..x2, which a call
//! clobbers anyway. Any other fault is a bug of the program: the handler prints it and
//! exits with code [`UNEXPECTED_FAULT_EXIT`]. The handler keeps the faulting VA in
//! TPIDR_EL0 while it compares (it has no other free register and must not assume the
//! stack is mapped); the SDK reserves TPIDR_EL0 for that.
use core::arch::global_asm;
use core::fmt;

use lwvm_abi::fault;

/// Exit code of a fault outside a probe.
pub const UNEXPECTED_FAULT_EXIT: u64 = 102;

global_asm!(
    r#"
    .pushsection .text.lwvm_sdk_probe, "ax"
    .balign 4

    // x0 = VA -> x0 = value, x1 = 0; or x0 = syndrome, x1 = 1 (via the handler).
    .global lwvm_sdk_probe_read
lwvm_sdk_probe_read:
    mov x1, x0
lwvm_sdk_probe_ld_insn:
    ldr x0, [x1]
    mov x1, #0
    ret

    // x0 = VA, x1 = value -> x1 = 0; or x0 = syndrome, x1 = 1.
    .global lwvm_sdk_probe_write
lwvm_sdk_probe_write:
lwvm_sdk_probe_st_insn:
    str x1, [x0]
    mov x0, #0
    mov x1, #0
    ret

    // x0 = VA of code that returns with x1 untouched -> x1 = 0; or x0 = syndrome,
    // x1 = 1 (the handler returns to the instruction after the BLR, x30).
    .global lwvm_sdk_probe_exec
lwvm_sdk_probe_exec:
    stp x29, x30, [sp, #-16]!
    adrp x16, lwvm_sdk_exec_armed
    str x0, [x16, :lo12:lwvm_sdk_exec_armed]
    mov x1, #0
    blr x0
    adrp x16, lwvm_sdk_exec_armed
    mov x17, #-1
    str x17, [x16, :lo12:lwvm_sdk_exec_armed]
    ldp x29, x30, [sp], #16
    ret

    // Entered by the hypervisor: x0 = VA, x1 = syndrome, x2 = PC.
    .global lwvm_sdk_fault_entry
lwvm_sdk_fault_entry:
    msr tpidr_el0, x0
    adr x0, lwvm_sdk_probe_ld_insn
    cmp x0, x2
    b.eq 1f
    adr x0, lwvm_sdk_probe_st_insn
    cmp x0, x2
    b.eq 1f
    adrp x0, lwvm_sdk_exec_armed
    ldr x0, [x0, :lo12:lwvm_sdk_exec_armed]
    cmp x0, x2
    b.ne 2f
    tbz x1, #32, 2f
1:  mov x0, x1
    mov x1, #1
    ret
2:  mrs x0, tpidr_el0
    b lwvm_sdk_unexpected_fault
    .popsection

    // A page of its own holding only `ret`: code a program can map elsewhere and run.
    .pushsection .text.lwvm_sdk_ret_page, "ax"
    .balign 4096
    .global lwvm_sdk_ret_page
lwvm_sdk_ret_page:
    ret
    .balign 4096
    .popsection

    .pushsection .data.lwvm_sdk_probe, "aw"
    .balign 8
    // The target of the exec probe in progress; -1 (never a PC) when none is.
lwvm_sdk_exec_armed:
    .quad -1
    .popsection
"#
);

#[repr(C)]
struct Ret {
    x0: u64,
    x1: u64,
}

unsafe extern "C" {
    fn lwvm_sdk_probe_read(va: u64) -> Ret;
    fn lwvm_sdk_probe_write(va: u64, v: u64) -> Ret;
    fn lwvm_sdk_probe_exec(va: u64) -> Ret;
    fn lwvm_sdk_fault_entry();
    fn lwvm_sdk_ret_page();
}

fn result(r: Ret) -> Result<u64, u64> {
    if r.x1 == 0 { Ok(r.x0) } else { Err(r.x0) }
}

/// Registers the probe handler (FAULT_HANDLER). `Err` is the system call's error: an
/// lwVM with static tables gets `NOT_SUPPORTED`.
pub fn install_probe_handler() -> Result<(), i64> {
    let r = crate::sys::fault_handler(lwvm_sdk_fault_entry as *const () as u64);
    if r < 0 { Err(r) } else { Ok(()) }
}

/// Loads 8 bytes at `va`: the value, or the syndrome of the fault.
pub fn read_u64(va: u64) -> Result<u64, u64> {
    // SAFETY: the routine loads from `va` (a fault comes back as Err through the
    // handler) and follows the C ABI; whatever `va` maps, nothing Rust owns is read as
    // a Rust value.
    result(unsafe { lwvm_sdk_probe_read(va) })
}

/// Stores `v` at `va`: `Ok`, or the syndrome of the fault.
///
/// # Safety
/// If the store succeeds it changes the memory `va` maps: that must not be memory Rust
/// owns (the program's statics, stack) except through an alias the program manages.
pub unsafe fn write_u64(va: u64, v: u64) -> Result<(), u64> {
    // SAFETY: the caller's contract; faults come back through the handler.
    result(unsafe { lwvm_sdk_probe_write(va, v) }).map(|_| ())
}

/// Branches to `va`: `Ok` if the code there returned, or the syndrome of the fault
/// (instruction abort: [`fault::EXEC`] set).
///
/// # Safety
/// The code at `va`, if it runs, must return without changing x1 or any callee-saved
/// register — e.g. [`ret_page`] mapped at `va`.
pub unsafe fn exec(va: u64) -> Result<(), u64> {
    // SAFETY: the caller's contract on the target; faults come back through the handler.
    result(unsafe { lwvm_sdk_probe_exec(va) }).map(|_| ())
}

/// PA (= flat VA) of a page of the program's text holding a single `ret` and nothing
/// else: map it anywhere and [`exec`] it.
pub fn ret_page() -> u64 {
    lwvm_sdk_ret_page as *const () as u64
}

/// What a syndrome says, by kind and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Address-size fault at a level.
    AddressSize(u8),
    /// Translation fault at a level.
    Translation(u8),
    /// Access-flag fault at a level.
    AccessFlag(u8),
    /// Permission fault at a level.
    Permission(u8),
    /// External abort on the walk of a table at a level (a table outside the lwVM's
    /// memory).
    WalkExternal(u8),
    /// External abort: an output address outside what the lwVM was given.
    External,
    /// Any other status code.
    Other(u8),
}

impl Class {
    /// Decodes a syndrome's status code.
    pub fn of(syndrome: u64) -> Class {
        let fsc = (syndrome & fault::FSC_MASK) as u8;
        let level = fsc & 3;
        match u64::from(fsc & !3) {
            0 => Class::AddressSize(level),
            fault::TRANSLATION => Class::Translation(level),
            fault::ACCESS_FLAG => Class::AccessFlag(level),
            fault::PERMISSION => Class::Permission(level),
            fault::WALK_EXTERNAL => Class::WalkExternal(level),
            _ if u64::from(fsc) == fault::EXTERNAL => Class::External,
            _ => Class::Other(fsc),
        }
    }

    /// The kind without the level (`"permission"`), for checks where the architecture
    /// leaves the reported level to the walk.
    pub fn kind(self) -> &'static str {
        match self {
            Class::AddressSize(_) => "address-size",
            Class::Translation(_) => "translation",
            Class::AccessFlag(_) => "access-flag",
            Class::Permission(_) => "permission",
            Class::WalkExternal(_) => "walk-external",
            Class::External => "external",
            Class::Other(_) => "other",
        }
    }
}

/// `translation-l3`, `permission-l2`, `external`, `fsc-0x21`.
impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Class::AddressSize(l)
            | Class::Translation(l)
            | Class::AccessFlag(l)
            | Class::Permission(l)
            | Class::WalkExternal(l) => write!(f, "{}-l{l}", self.kind()),
            Class::External => f.write_str("external"),
            Class::Other(fsc) => write!(f, "fsc-{fsc:#x}"),
        }
    }
}

/// Whether the syndrome is of a write.
pub fn is_write(syndrome: u64) -> bool {
    syndrome & fault::WRITE != 0
}

/// Whether the syndrome is of an instruction fetch.
pub fn is_exec(syndrome: u64) -> bool {
    syndrome & fault::EXEC != 0
}

/// Set while a fault outside a probe is being reported (a plain flag: no exclusives).
static mut IN_UNEXPECTED: bool = false;

/// A fault outside a probe: report and end the lwVM.
#[unsafe(no_mangle)]
extern "C" fn lwvm_sdk_unexpected_fault(va: u64, syndrome: u64, pc: u64) -> ! {
    // SAFETY: one thread of execution; the flag is only touched here.
    let again = unsafe { core::ptr::replace(&raw mut IN_UNEXPECTED, true) };
    // A second fault while reporting (e.g. an unmapped stack): end without printing.
    if again {
        crate::sys::exit(UNEXPECTED_FAULT_EXIT + 1);
    }
    let access = if is_exec(syndrome) {
        "fetch"
    } else if is_write(syndrome) {
        "write"
    } else {
        "read"
    };
    crate::println!(
        "fault outside a probe: {} ({access}) at va {va:#x}, pc {pc:#x}, syndrome {syndrome:#x}",
        Class::of(syndrome),
    );
    crate::println!("RESULT status fail fault");
    crate::sys::exit(UNEXPECTED_FAULT_EXIT)
}
