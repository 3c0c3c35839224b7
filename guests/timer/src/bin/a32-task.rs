//! `a32-task`: runs a 32-bit (A32) task at EL0 — it counts in a loop, stores its count, and
//! makes an SVC every `ROUND` iterations — while the EL1 virtual timer interrupts it every
//! millisecond. The timer's interrupts reach this EL1 from AArch32 EL0 (the hypervisor takes
//! the physical IRQ on its AArch32 lower-EL vector and injects it), the SVCs too, and the
//! task keeps running between them, with its registers intact.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::arch::asm;
    use core::sync::atomic::{AtomicU32, Ordering};
    use guest_rt::{exceptions, gic, irq, println, result, result::check, timer};

    /// Iterations between two SVCs of the task.
    const ROUND: u32 = 20_000;
    /// Interrupts and SVCs taken from the task before the test ends.
    const WANT: u32 = 5;
    /// Ticks from the task after which it counts as stuck if its count moved fewer than
    /// `WANT` times.
    const GIVE_UP: u32 = 50 * WANT;

    /// The task, A32 (each word one instruction): r0 counts, r1 = ROUND, r2 = &PROGRESS.
    #[repr(align(4))]
    struct Code([u32; 7]);
    static TASK: Code = Code([
        0xE280_0001, // loop: add r0, r0, #1
        0xE582_0000, //       str r0, [r2]
        0xE150_0001, //       cmp r0, r1
        0x1AFF_FFFB, //       bne loop
        0xEF00_0000, //       svc #0
        0xE3A0_0000, //       mov r0, #0
        0xEAFF_FFF8, //       b loop
    ]);

    /// The task's count, as it stores it.
    static PROGRESS: AtomicU32 = AtomicU32::new(0);
    static IRQS_FROM_A32: AtomicU32 = AtomicU32::new(0);
    static SVCS: AtomicU32 = AtomicU32::new(0);
    static OTHER: AtomicU32 = AtomicU32::new(0);
    /// The task's count at the last interrupt, to see it move on.
    static LAST: AtomicU32 = AtomicU32::new(u32::MAX);
    /// Interrupts from the task that found its count moved since the previous one.
    static ADVANCED: AtomicU32 = AtomicU32::new(0);

    fn spsr() -> u64 {
        let v: u64;
        // SAFETY: reading SPSR_EL1 (the state the exception interrupted) has no side effect.
        unsafe { asm!("mrs {}, spsr_el1", out(reg) v, options(nomem, nostack)) };
        v
    }

    /// SPSR of AArch32 user mode (M[4:0] = 0b10000).
    fn from_a32_user() -> bool {
        spsr() & 0x1f == 0x10
    }

    fn on_irq(intid: u32) {
        irq::record(intid);
        if intid != timer::INTID {
            OTHER.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if from_a32_user() {
            IRQS_FROM_A32.fetch_add(1, Ordering::SeqCst);
            let now = PROGRESS.load(Ordering::SeqCst);
            if LAST.swap(now, Ordering::SeqCst) != now {
                ADVANCED.fetch_add(1, Ordering::SeqCst);
            }
        }
        maybe_finish();
        timer::arm_at(timer::now() + timer::us_to_ticks(1_000));
    }

    fn on_el0(esr: u64) {
        // EC 0x11: SVC from AArch32.
        if esr >> 26 == 0x11 && from_a32_user() {
            SVCS.fetch_add(1, Ordering::SeqCst);
        } else {
            println!("a32-task: unexpected exception from EL0: ESR_EL1 {esr:#x}");
            OTHER.fetch_add(1, Ordering::SeqCst);
        }
        maybe_finish();
    }

    fn maybe_finish() {
        let (irqs, svcs, advanced) = (
            IRQS_FROM_A32.load(Ordering::SeqCst),
            SVCS.load(Ordering::SeqCst),
            ADVANCED.load(Ordering::SeqCst),
        );
        // Under a loaded host a tick can follow the previous one before the task ran an
        // instruction (the counter runs on host time); a task that runs at all shows its
        // count moving between most ticks, one that is stuck never does.
        let gave_up = irqs >= GIVE_UP;
        if !gave_up && (advanced < WANT || svcs < WANT) {
            return;
        }
        timer::disable();
        result!(
            "a32-irqs",
            "{}",
            if irqs >= WANT { "taken" } else { "missing" }
        );
        result!(
            "a32-svcs",
            "{}",
            if svcs >= WANT { "taken" } else { "missing" }
        );
        result!(
            "a32-progress",
            "{}",
            if advanced >= WANT { "yes" } else { "no" }
        );
        result!("other-exceptions", "{}", OTHER.load(Ordering::SeqCst));
        check(advanced >= WANT, "task-stuck");
        check(svcs >= WANT, "svcs-missing");
        check(OTHER.load(Ordering::SeqCst) == 0, "unexpected-exception");
        guest_rt::result::finish()
    }

    fn main() -> ! {
        let pfr0: u64;
        // SAFETY: reading an ID register has no side effect (the hypervisor answers).
        unsafe { asm!("mrs {}, id_aa64pfr0_el1", out(reg) pfr0, options(nomem, nostack)) };
        let el0 = pfr0 & 0xf;
        result!(
            "el0-aarch32",
            "{}",
            if el0 == 2 { "shown" } else { "hidden" }
        );
        if el0 != 2 {
            println!("a32-task: ID_AA64PFR0_EL1.EL0 = {el0}: no AArch32 at EL0 here");
            guest_rt::result::fail("no-aarch32-el0");
        }
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        exceptions::set_el0_handler(on_el0);
        gic::configure(timer::INTID, 0x80);
        timer::arm_at(timer::now() + timer::us_to_ticks(1_000));
        println!("a32-task: entering the A32 task at EL0");
        // SAFETY: ERET into the task at EL0 in AArch32 user mode with interrupts unmasked;
        // its code only touches PROGRESS (through r2). This EL1 never resumes here: the
        // handlers above end the test.
        unsafe {
            asm!(
                "msr elr_el1, {code}",
                "msr spsr_el1, {spsr}",
                "isb",
                "eret",
                code = in(reg) TASK.0.as_ptr(),
                spsr = in(reg) 0x10u64,
                in("x0") 0u64,
                in("x1") ROUND as u64,
                in("x2") PROGRESS.as_ptr(),
                options(noreturn),
            )
        }
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system a32-task`");
}
