//! `debug-step`: a guest kernel's self-hosted debugging works under the hypervisor, and
//! keeps working while the CPU is shared.
//!
//! - **Software step of EL0 code** (MDSCR_EL1.SS, SPSR_EL1.SS): an A64 task at EL0 counts
//!   to `ROUNDS` in a three-instruction loop and then makes an SVC; this EL1 steps it one
//!   instruction at a time. Every step exception (EC 0x32) must arrive at the next
//!   instruction, and their number must be exactly the number of instructions the task
//!   ran — a step lost or doubled across an exit to the hypervisor (its timer, a switch to
//!   the other VM of this CPU) shows as a wrong count.
//! - **A hardware breakpoint at EL1** (DBGBVR0/DBGBCR0_EL1, MDSCR_EL1.KDE/MDE): a call to
//!   a marked instruction takes a breakpoint exception (EC 0x31) at that address.
//!
//! Both need the OS lock clear (OSLAR_EL1 = 0, as Linux does at boot): the hypervisor
//! emulates the lock per vCPU and must not leave debug exceptions disabled underneath.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::arch::{asm, global_asm};
    use core::sync::atomic::{AtomicU64, Ordering};
    use guest_rt::{exceptions, println, result, result::check, timer};

    /// Loop iterations of the stepped task.
    const ROUNDS: u64 = 20_000;
    /// Instructions the task runs before its SVC, each one stepped.
    const STEPS: u64 = 3 * ROUNDS;

    global_asm!(
        r#"
        .section .text.debug_step, "ax"
        .balign 4
        .global step_task
    step_task:
        add x0, x0, #1
        cmp x0, x1
        b.ne step_task
        svc #0
    1:  b 1b

        .balign 4
        .global bp_target
    bp_target:
        nop
        ret
        "#
    );

    unsafe extern "C" {
        fn step_task();
        fn bp_target();
    }

    static STEPPED: AtomicU64 = AtomicU64::new(0);
    static BAD_PC: AtomicU64 = AtomicU64::new(0);
    static OTHER: AtomicU64 = AtomicU64::new(0);
    /// Counter value at the last step, and how often the task was switched out between
    /// two steps (a gap longer than [`SWITCHED_OUT_US`]).
    static LAST_STEP: AtomicU64 = AtomicU64::new(0);
    static SWITCHED_OUT: AtomicU64 = AtomicU64::new(0);
    const SWITCHED_OUT_US: u64 = 500;

    fn rd_elr() -> u64 {
        let v: u64;
        // SAFETY: reading ELR_EL1 has no side effect.
        unsafe { asm!("mrs {}, elr_el1", out(reg) v, options(nomem, nostack)) };
        v
    }

    /// Where the `n`-th step (from 1) stops: the task's next instruction.
    fn expected_pc(n: u64) -> u64 {
        let base = step_task as *const () as u64;
        match n % 3 {
            1 => base + 4,
            2 => base + 8,
            _ if n < STEPS => base,
            _ => base + 12,
        }
    }

    fn on_el0(esr: u64) {
        match esr >> 26 {
            // Software step from a lower EL: one more instruction of the task ran.
            0x32 => {
                let n = STEPPED.fetch_add(1, Ordering::SeqCst) + 1;
                let now = timer::now();
                let last = LAST_STEP.swap(now, Ordering::SeqCst);
                if last != 0 && now - last > timer::us_to_ticks(SWITCHED_OUT_US) {
                    SWITCHED_OUT.fetch_add(1, Ordering::SeqCst);
                }
                if rd_elr() != expected_pc(n) {
                    BAD_PC.fetch_add(1, Ordering::SeqCst);
                }
                // Step the next one: SPSR_EL1.SS set again before the ERET.
                // SAFETY: sets only PSTATE.SS of the EL0 context being returned to.
                unsafe {
                    asm!(
                        "mrs {t}, spsr_el1",
                        "orr {t}, {t}, #(1 << 21)",
                        "msr spsr_el1, {t}",
                        t = out(reg) _,
                        options(nomem, nostack)
                    )
                };
            }
            // The task's SVC: stepping is over.
            0x15 => finish(),
            _ => {
                println!("debug-step: unexpected exception from EL0: ESR_EL1 {esr:#x}");
                OTHER.fetch_add(1, Ordering::SeqCst);
                finish();
            }
        }
    }

    fn finish() -> ! {
        let stepped = STEPPED.load(Ordering::SeqCst);
        result!("stepped", "{}", stepped);
        result!("step-bad-pc", "{}", BAD_PC.load(Ordering::SeqCst));
        result!(
            "step-switched-out",
            "{}",
            SWITCHED_OUT.load(Ordering::SeqCst)
        );
        check(stepped == STEPS, "step-count");
        check(BAD_PC.load(Ordering::SeqCst) == 0, "step-pc");
        check(OTHER.load(Ordering::SeqCst) == 0, "unexpected-exception");
        guest_rt::result::finish()
    }

    fn breakpoint() {
        let target = bp_target as *const () as u64;
        // DBGBCR: E, PMC = 0b01 (EL1), BAS = 0b1111 (an A64 instruction), unlinked
        // address match; MDSCR_EL1: KDE (debug exceptions at EL1) and MDE.
        let bcr: u64 = 1 | (0b01 << 1) | (0b1111 << 5);
        // SAFETY: a breakpoint on `bp_target` only; PSTATE.D is cleared so that it is
        // taken at EL1, and set again after the call.
        unsafe {
            asm!(
                "msr dbgbvr0_el1, {v}",
                "msr dbgbcr0_el1, {c}",
                "mrs {t}, mdscr_el1",
                "orr {t}, {t}, #(1 << 13)",
                "orr {t}, {t}, #(1 << 15)",
                "msr mdscr_el1, {t}",
                "isb",
                "msr daifclr, #8",
                "isb",
                v = in(reg) target,
                c = in(reg) bcr,
                t = out(reg) _,
                options(nomem, nostack)
            )
        };
        let fault = exceptions::catch(|| unsafe { bp_target() });
        // SAFETY: debug exceptions masked again, the comparator off, MDSCR back.
        unsafe {
            asm!(
                "msr daifset, #8",
                "msr dbgbcr0_el1, xzr",
                "msr mdscr_el1, xzr",
                "isb",
                options(nomem, nostack)
            )
        };
        let hit = fault.is_some_and(|f| f.ec() == 0x31);
        result!(
            "breakpoint",
            "{}",
            match fault {
                Some(_) if hit => "taken",
                Some(_) => "wrong-exception",
                None => "missed",
            }
        );
        check(hit, "breakpoint");
    }

    fn main() -> ! {
        // The OS lock clear, as a kernel does before it debugs anything.
        // SAFETY: OSLAR_EL1 = 0 unlocks this vCPU's (emulated) OS lock.
        unsafe { asm!("msr oslar_el1, xzr", "isb", options(nomem, nostack)) };
        breakpoint();
        exceptions::set_el0_handler(on_el0);
        let mut stack = [0u64; 64];
        let sp = stack.as_mut_ptr() as u64 + core::mem::size_of_val(&stack) as u64;
        println!("debug-step: stepping an EL0 task for {STEPS} instructions");
        // SAFETY: enters the task at EL0 (SPSR: EL0t, interrupts unmasked, SS set so its
        // first instruction is stepped); it returns here only through exceptions.
        unsafe {
            asm!(
                "msr mdscr_el1, {mdscr}",
                "msr sp_el0, {sp}",
                "msr elr_el1, {code}",
                "msr spsr_el1, {spsr}",
                "isb",
                "eret",
                mdscr = in(reg) 1u64,
                sp = in(reg) sp,
                code = in(reg) step_task as *const () as u64,
                spsr = in(reg) (1u64 << 21),
                in("x0") 0u64,
                in("x1") ROUNDS,
                options(noreturn),
            )
        }
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system debug-step`");
}
