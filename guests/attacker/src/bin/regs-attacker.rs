//! `regs-attacker`: runs on physical CPU 0 after `regs-victim` (lower priority) has
//! written its pattern and gone to sleep. First thing, it reads every register of
//! `regstate` and reports, per class, whether it holds the victim's value
//! (`LEAKED`) or not (`clean`); registers the hypervisor clears at vCPU reset must also
//! read zero. It checks that hidden features read as hidden (ID registers; SVE, SME,
//! PMU, MTE, RAS, AMU, IMPDEF registers UNDEFINED), that set/way maintenance and
//! ACTLR_EL1 are emulated, and SMCCC's call count in its SMC64 form is unknown. Then it
//! writes its own pattern, raises "go" (channel 0) so the victim runs, and when the
//! victim's "done" (INTID 101) wakes it, checks its own values came back.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../regstate.rs"]
mod regstate;

#[cfg(target_os = "none")]
mod guest {
    use core::arch::asm;

    use super::regstate::{self, ATTACKER, Fp, State, VICTIM};
    use guest_rt::exceptions::catch;
    use guest_rt::{arch, gic, irq, println, result, result::check};

    const DONE: u32 = 101;
    const GO_CHANNEL: u64 = 0;

    static mut FIRST_FP: Fp = Fp {
        q: [0; 32],
        fpcr: 0,
        fpsr: 0,
    };

    macro_rules! rd {
        ($name:literal) => {{
            let v: u64;
            // SAFETY: reading a system register; a trap is caught by the caller.
            unsafe { asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
            v
        }};
    }

    fn main() -> ! {
        // Before any compiled code could use a vector register.
        // SAFETY: one vCPU; nothing else refers to FIRST_FP.
        regstate::fp_store(unsafe { &mut *(&raw mut FIRST_FP) });
        let sys = regstate::read_sys();
        let (brps, wrps) = regstate::comparators();
        let debug = regstate::read_debug(brps, wrps);
        // SAFETY: as above.
        let fp = unsafe { *(&raw const FIRST_FP) };
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(DONE, 0x80);

        let vfp = State::fp(VICTIM);
        let vsys = State::sys(VICTIM);
        let vdbg = State::debug(VICTIM, brps, wrps);
        let fp_leaks = (0..32).filter(|&i| fp.q[i] == vfp.q[i]).count();
        verdict("fp-q0-q31", fp_leaks == 0, true);
        verdict(
            "fpcr-fpsr",
            fp.fpcr != vfp.fpcr && fp.fpsr != vfp.fpsr,
            true,
        );
        verdict(
            "pauth-keys",
            none_equal(&sys.keys, &vsys.keys),
            sys.keys.iter().all(|&k| k == 0),
        );
        verdict(
            "tpidr",
            none_equal(&sys.tpidr, &vsys.tpidr),
            sys.tpidr.iter().all(|&k| k == 0),
        );
        verdict(
            "contextidr",
            sys.contextidr != vsys.contextidr,
            sys.contextidr == 0,
        );
        verdict("el1-regs", none_equal(&sys.el1, &vsys.el1), true);
        match sys.tpidr2 {
            Some(v) => verdict("tpidr2", Some(v) != vsys.tpidr2, v == 0),
            None => result!("tpidr2", "undefined"),
        }
        let dbg_clean = none_equal(&debug.bvr, &vdbg.bvr[..brps])
            && none_equal(&debug.wvr, &vdbg.wvr[..wrps])
            && none_equal(&debug.bcr[..brps], &vdbg.bcr[..brps])
            && none_equal(&debug.wcr[..wrps], &vdbg.wcr[..wrps]);
        let dbg_zero = debug.bvr.iter().chain(&debug.bcr).all(|&v| v == 0)
            && debug.wvr.iter().chain(&debug.wcr).all(|&v| v == 0);
        verdict("debug-comparators", dbg_clean, dbg_zero);
        verdict("mdscr", debug.mdscr != vdbg.mdscr, debug.mdscr == 0);

        hidden_features(brps);

        // Own pattern, the victim runs, then ours must be back.
        let mine = State::sys(ATTACKER);
        regstate::write_sys(&mine);
        let mut mine_sys = mine;
        mine_sys.tpidr2 = regstate::read_sys().tpidr2;
        let mine_dbg = State::debug(ATTACKER, brps, wrps);
        regstate::write_debug(&mine_dbg, brps, wrps);
        let mine_fp = State::fp(ATTACKER);
        let mut back = State::fp(0);
        arch::irq_mask();
        regstate::fp_load_wait_store(&mine_fp, &mut back, Some(GO_CHANNEL));
        let sys_back = regstate::read_sys();
        let dbg_back = regstate::read_debug(brps, wrps);
        arch::irq_unmask();
        irq::wait_count(DONE, 1);
        let kept = back == mine_fp && sys_back == mine_sys && dbg_back == mine_dbg;
        if !kept {
            println!(
                "regs-attacker: fp {} sys {} debug {}",
                back == mine_fp,
                sys_back == mine_sys,
                dbg_back == mine_dbg
            );
        }
        result!("attacker-state-kept", "{}", if kept { "yes" } else { "no" });
        check(kept, "attacker-state-changed");
        guest_rt::result::finish()
    }

    fn none_equal(a: &[u64], b: &[u64]) -> bool {
        a.iter().zip(b).all(|(x, y)| x != y)
    }

    /// `clean`: none of the victim's values and, where the hypervisor resets the
    /// register, zero; `LEAKED`: a victim value; `not-reset`: a stale non-zero value.
    fn verdict(what: &str, clean: bool, zero: bool) {
        let v = match (clean, zero) {
            (false, _) => "LEAKED",
            (true, true) => "clean",
            (true, false) => "not-reset",
        };
        result!(what, "{v}");
    }

    fn field(v: u64, shift: u32) -> u64 {
        (v >> shift) & 0xF
    }

    fn undefined(what: &str, f: impl FnOnce()) {
        let r = match catch(f) {
            Some(fault) if fault.is_undefined() => "undefined",
            Some(_) => "other-fault",
            None => "ACCEPTED",
        };
        result!(what, "{r}");
    }

    fn hidden_features(brps: usize) {
        let pfr0 = rd!("id_aa64pfr0_el1");
        let pfr1 = rd!("id_aa64pfr1_el1");
        let dfr0 = rd!("id_aa64dfr0_el1");
        let zfr0 = rd!("s3_0_c0_c4_4");
        let smfr0 = rd!("s3_0_c0_c4_5");
        result!("id-sve", "{}", field(pfr0, 32));
        result!("id-ras", "{}", field(pfr0, 28));
        result!("id-amu", "{}", field(pfr0, 44));
        // EL0 may show AArch32 (a 32-bit task at EL0 works); EL1 never does.
        result!("id-el1-aarch32", "{}", u64::from(field(pfr0, 4) != 1));
        result!("id-mte", "{}", field(pfr1, 8));
        result!("id-sme", "{}", field(pfr1, 24));
        result!("id-pmu", "{}", field(dfr0, 8));
        result!("id-spe", "{}", field(dfr0, 32));
        result!("id-trace", "{}", field(dfr0, 4));
        result!("id-zfr0-smfr0", "{:#x}", zfr0 | smfr0);
        result!(
            "id-unallocated",
            "{:#x}",
            rd!("s3_0_c0_c7_7") | rd!("s3_0_c0_c3_3")
        );
        // SVE and SME with the guest's own CPACR_EL1 traps open.
        // SAFETY: CPACR_EL1 is this VM's; ZEN and SMEN only let SVE and SME
        // instructions through EL1's own trap, so that the hypervisor's must act.
        unsafe {
            asm!(
                "mrs x9, cpacr_el1",
                "orr x9, x9, #(3 << 16)",
                "orr x9, x9, #(3 << 24)",
                "msr cpacr_el1, x9",
                "isb",
                out("x9") _
            )
        };
        undefined("sve-access", || unsafe {
            // SAFETY: RDVL only reads the vector length (if it executes at all).
            asm!(".arch_extension sve", "rdvl x9, #1", out("x9") _)
        });
        undefined("zcr-access", || unsafe {
            // SAFETY: a read of ZCR_EL1 (s3_0_c1_c2_0).
            asm!("mrs x9, s3_0_c1_c2_0", out("x9") _)
        });
        undefined("sme-smstart", || unsafe {
            // SAFETY: SMSTART would only enter streaming mode (it must not execute).
            asm!(".arch_extension sme", "smstart", options(nomem, nostack))
        });
        undefined("pmu-pmcr", || {
            rd!("pmcr_el0");
        });
        undefined("pmu-pmccntr", || {
            rd!("pmccntr_el0");
        });
        undefined("mte-tfsr", || unsafe {
            // SAFETY: a write of TFSR_EL1 (s3_0_c5_c6_0).
            asm!("msr s3_0_c5_c6_0, xzr", options(nomem, nostack))
        });
        undefined("ras-erridr", || {
            rd!("s3_0_c5_c3_0");
        });
        undefined("amu-amcr", || {
            rd!("s3_3_c13_c2_0");
        });
        undefined("impdef-reg", || {
            rd!("s3_0_c15_c0_0");
        });
        undefined("scxtnum", || {
            rd!("s3_0_c13_c0_7");
        });
        undefined("debug-beyond-brps", || {
            // DBGBVR15_EL1 when fewer than 16 breakpoints exist.
            if brps < 16 {
                rd!("dbgbvr15_el1");
            } else {
                rd!("s3_0_c15_c0_0");
            }
        });
        // SAFETY: ACTLR_EL1 is emulated RAZ/WI; a write cannot reach the CPU.
        unsafe { asm!("msr actlr_el1, {}", in(reg) u64::MAX, options(nomem, nostack)) };
        result!("actlr", "{:#x}", rd!("actlr_el1"));
        let sw = catch(|| unsafe {
            // SAFETY: set/way maintenance of level 1, set 0, way 0 (emulated).
            asm!(
                "dc isw, xzr",
                "dc csw, xzr",
                "dc cisw, xzr",
                options(nostack)
            )
        });
        result!(
            "set-way",
            "{}",
            if sw.is_none() { "completed" } else { "fault" }
        );
        let oslsr = rd!("oslsr_el1");
        result!("oslsr-oslm", "{}", (oslsr >> 3) & 1);
        let cc64 = arch::hvc(0xC600_FF00, 0, 0, 0)[0] as i64;
        let cc32 = arch::hvc(0x8600_FF00, 0, 0, 0)[0] as i64;
        result!("call-count-smc64", "{cc64}");
        result!(
            "call-count-smc32",
            "{}",
            if cc32 > 0 { "positive" } else { "missing" }
        );
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system regs-same-cpu`");
}
