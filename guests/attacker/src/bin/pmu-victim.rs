//! `pmu-victim`: shares physical CPU 0 with `pmu-attacker` at a higher priority, so it
//! runs first. Both VMs have `pmu = "virtual"`. It programs its PMU (`pmustate`, tag
//! VICTIM: event types, counters, enables, overflow and interrupt-enable bits, EL0
//! access), notes two counters that count its cycles — one asking to count EL2 as well
//! (NSH) — and sleeps (WFI, IRQs masked) until the attacker raises "go". The attacker
//! runs meanwhile on the same CPU. Woken, the victim checks that its PMU set-up came
//! back exactly and reports how far both counters advanced while it slept
//! (`asleep-cycles`, `asleep-cycles-nsh`): the test compares them with the attacker's
//! loop (they must stand still while the victim does not run) and with each other (the
//! hypervisor's EL2 work is never counted).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../pmustate.rs"]
mod pmustate;

#[cfg(target_os = "none")]
mod guest {
    use core::arch::asm;

    use super::pmustate;
    use guest_rt::{arch, gic, hypercall, irq, println, result, result::check};

    const GO: u32 = 100;
    const DONE_CHANNEL: u64 = 1;
    const VICTIM: u64 = 0x5a;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(GO, 0x80);
        let ver = pmustate::version();
        result!(
            "pmu-version-visible",
            "{}",
            if ver != 0 { "yes" } else { "no" }
        );
        if !check(ver != 0, "no-pmu") {
            guest_rt::result::finish()
        }
        let n = pmustate::counters();
        result!("pmu-counters", "{}", n);
        check(n >= 2, "fewer-than-two-counters");
        pmustate::write(&pmustate::pattern(VICTIM));
        // What the hardware kept of it (reserved bits read as zero).
        let mine = pmustate::setup(&pmustate::read());
        println!("pmu-victim: {n} counters programmed; sleeping");

        arch::irq_mask();
        let before = pmustate::read();
        // SAFETY: WFI until GO is pending (ISR_EL1.I; IRQs masked, taken below).
        unsafe {
            asm!(
                "2:", "wfi", "mrs {t}, isr_el1", "tbz {t}, #7, 2b",
                t = out(reg) _, options(nomem, nostack),
            )
        };
        let after = pmustate::read();
        arch::irq_unmask();
        irq::wait_count(GO, 1);

        let kept = pmustate::setup(&after) == mine;
        if !kept {
            println!("pmu-victim: wrote {mine:x?}\npmu-victim: read  {after:x?}");
        }
        result!("victim-pmu-kept", "{}", yes(kept));
        check(kept, "victim-pmu-changed");
        let d0 = after.evcntr[0].wrapping_sub(before.evcntr[0]) & 0xffff_ffff;
        let d1 = after.evcntr[1].wrapping_sub(before.evcntr[1]) & 0xffff_ffff;
        result!("asleep-cycles", "{}", d0);
        result!("asleep-cycles-nsh", "{}", d1);
        check(
            hypercall::virq_raise(DONE_CHANNEL) == 0,
            "virq-raise-failed",
        );
        guest_rt::result::finish()
    }

    fn yes(b: bool) -> &'static str {
        if b { "yes" } else { "no" }
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system pmu-same-cpu`");
}
