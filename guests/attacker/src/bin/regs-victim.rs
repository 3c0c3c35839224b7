//! `regs-victim`: shares physical CPU 0 with `regs-attacker` at a higher priority, so it
//! runs first. It writes its pattern (`regstate`, tag VICTIM) into every register two
//! VMs on one CPU must not share — FP/SIMD, pointer-authentication keys, TPIDR*,
//! CONTEXTIDR, other EL1 registers, the debug comparators — then sleeps (WFI, IRQs
//! masked) until the attacker raises channel 0 ("go", INTID 100). The attacker runs
//! meanwhile on the same CPU, reads everything, writes its own pattern. Woken, the
//! victim checks that it got every one of its values back (`victim-state-kept`),
//! raises channel 1 ("done") and powers off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../regstate.rs"]
mod regstate;

#[cfg(target_os = "none")]
mod guest {
    use super::regstate::{self, Fp, State, VICTIM};
    use guest_rt::{arch, gic, hypercall, irq, println, result, result::check};

    const GO: u32 = 100;
    const DONE_CHANNEL: u64 = 1;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(GO, 0x80);
        let (brps, wrps) = regstate::comparators();
        let debug = State::debug(VICTIM, brps, wrps);
        regstate::write_debug(&debug, brps, wrps);
        let mut sys = State::sys(VICTIM);
        regstate::write_sys(&sys);
        // TPIDR2_EL0 exists only on CPUs with SME (hidden from VMs, yet not trappable).
        sys.tpidr2 = regstate::read_sys().tpidr2;
        result!(
            "victim-tpidr2",
            "{}",
            if sys.tpidr2.is_some() {
                "present"
            } else {
                "undefined"
            }
        );
        println!("regs-victim: pattern written ({brps} breakpoints, {wrps} watchpoints)");

        let fp = State::fp(VICTIM);
        let mut back = State::fp(0);
        arch::irq_mask();
        regstate::fp_load_wait_store(&fp, &mut back, None);
        let sys_back = regstate::read_sys();
        let debug_back = regstate::read_debug(brps, wrps);
        arch::irq_unmask();
        irq::wait_count(GO, 1);

        let fp_ok = back == fp;
        let sys_ok = sys_back == sys;
        let debug_ok = debug_back == debug;
        if !sys_ok {
            println!("regs-victim: wrote {sys:x?}\nregs-victim: read  {sys_back:x?}");
        }
        if !fp_ok {
            report_fp(&fp, &back);
        }
        result!("victim-fp-kept", "{}", yes(fp_ok));
        result!("victim-sys-kept", "{}", yes(sys_ok));
        result!("victim-debug-kept", "{}", yes(debug_ok));
        let kept = fp_ok && sys_ok && debug_ok;
        result!("victim-state-kept", "{}", yes(kept));
        check(kept, "victim-state-changed");
        check(
            hypercall::virq_raise(DONE_CHANNEL) == 0,
            "virq-raise-failed",
        );
        guest_rt::result::finish()
    }

    fn yes(b: bool) -> &'static str {
        if b { "yes" } else { "no" }
    }

    fn report_fp(want: &Fp, got: &Fp) {
        for i in 0..32 {
            if want.q[i] != got.q[i] {
                println!("regs-victim: q{i} {:#x} != {:#x}", got.q[i], want.q[i]);
            }
        }
        println!(
            "regs-victim: fpcr {:#x}/{:#x} fpsr {:#x}/{:#x}",
            got.fpcr, want.fpcr, got.fpsr, want.fpsr
        );
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system regs-same-cpu`");
}
