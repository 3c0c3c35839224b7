//! `probe-hvc`: hypercall round trips, one VM on one CPU; natively (QEMU `-kernel` at EL1,
//! PSCI conduit HVC) the same calls are answered by QEMU itself, which gives the guest's
//! own share of each figure (the stamps, the HVC instruction).
//!
//! Metrics (PMCCNTR counts between two stamps, minus the cost of two back-to-back
//! stamps; under icount one count = one instruction):
//! - `hvc_vm_info`: the null hypercall, VM_INFO (a project hypercall that only reads the
//!   VM's descriptor; natively QEMU answers NOT_SUPPORTED);
//! - `hvc_smccc_version`: SMCCC_VERSION (answered by the VM's PSCI/SMCCC model);
//! - `hvc_psci_version`: PSCI_VERSION (the PSCI model; a constant answer);
//! - `clock_overhead`: the subtracted stamp cost (for the record).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_probe_bench::{self as p, Samples, fid, pmu};

    static VM_INFO: Samples = Samples::new("hvc_vm_info");
    static VERSION: Samples = Samples::new("hvc_smccc_version");
    static OVERHEAD: Samples = Samples::new("clock_overhead");
    static PSCI: Samples = Samples::new("hvc_psci_version");

    fn timed(id: u64, s: &Samples, f: u64, ovh: u64) {
        p::phase_begin(id);
        for r in 0..p::rounds() {
            let t0 = pmu::now();
            p::hvc3(f, 0, 0);
            let t1 = pmu::now();
            s.round(r, t1.wrapping_sub(t0).saturating_sub(ovh));
        }
        p::phase_end(id);
    }

    fn main() -> ! {
        p::detect();
        pmu::enable();
        p::header("probe-hvc");
        let ovh = p::clock_overhead();
        OVERHEAD.push(ovh);
        timed(0, &VM_INFO, fid::VM_INFO, ovh);
        timed(1, &VERSION, fid::SMCCC_VERSION, ovh);
        // Id 3: ids 0..2 keep the markers of earlier recordings.
        timed(3, &PSCI, fid::PSCI_VERSION, ovh);
        p::report(0, &VM_INFO);
        p::report(1, &VERSION);
        p::report(2, &OVERHEAD);
        p::report(3, &PSCI);
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe guest: use `cargo xtask experiment hypercall`");
}
