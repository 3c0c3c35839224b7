//! `probe-sysreg`: a trapped system-register write — ICC_SGI1R_EL1 with an empty target
//! list (TargetList = 0, IRM = 0: no SGI is generated), one VM on one CPU. Under the
//! hypervisor the write traps to EL2 (HCR_EL2.IMO) and is emulated by the vGIC; natively
//! (QEMU `-kernel` at EL1) it reaches QEMU's GIC CPU interface, which sends nothing. The
//! path measured is the emulation's fixed cost: decode, an SGI to nobody, ERET.
//! `sgi1r_empty_write` = stamps around one `msr icc_sgi1r_el1` (+ its ISB), minus the
//! cost of two stamps.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, pmu};
    use guest_rt::gic::{self, SgiTarget};

    static EMPTY: Samples = Samples::new("sgi1r_empty_write");

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-sysreg");
        // System-register access to the CPU interface (ICC_SRE_EL1.SRE), natively too.
        gic::init_distributor();
        gic::init_cpu();
        let empty = gic::sgi1r(1, SgiTarget::List { aff: 0, list: 0 });
        let ovh = p::clock_overhead();
        p::phase_begin(0);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            gic::write_sgi1r(empty);
            let t1 = pmu::now();
            EMPTY.round(r, t1.wrapping_sub(t0).saturating_sub(ovh));
        }
        p::phase_end(0);
        // Nothing may have been sent: SGI 1 stays idle.
        if gic::is_pending(1) {
            guest_rt::result::fail("sgi-sent");
        }
        p::report(0, &EMPTY);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment sysreg`");
}
