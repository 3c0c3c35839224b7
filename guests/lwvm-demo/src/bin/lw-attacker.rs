//! `lw-attacker`: an lwVM that tries to reach what it does not own. Each probe is run in
//! a life of its own: the hypervisor restarts the lwVM after every fault (the system
//! says `restart = "restart"`) and passes the restart count, which selects the next
//! probe; a restarted life first reports the previous probe as `killed`. A probe that
//! returns prints `LEAKED`. The last life checks the system calls' refusals, tells the
//! victim VM it is done (channel 0) and exits.
//!
//! Addresses (system `lwvm-attacker` on qemu-virt): the hypervisor image at
//! 0x4020_0000, its page tables after its 4M at 0x4060_0000, the victim VM's RAM at the
//! fixed base 0x4200_0000, the GIC distributor 0x0800_0000, the UART 0x0900_0000.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::abi::{err, nr};
    use lwvm_sdk::{Boot, println, probe, result, sys};

    const HV_IMAGE: u64 = 0x4020_0000;
    const HV_TABLES: u64 = 0x4060_0000;
    const VICTIM_RAM: u64 = 0x4200_0000;
    const GICD: u64 = 0x0800_0000;
    const UART: u64 = 0x0900_0000;
    const DONE: u64 = 0;
    const READY: u64 = 1 << 1;

    fn beyond_own_memory() {
        let i = sys::info();
        probe::read64(i.mem_va + i.mem_size);
    }

    /// (name, probe): every one must end this life.
    const PROBES: &[(&str, fn())] = &[
        ("read-hv-image", || {
            let _ = probe::read64(HV_IMAGE);
        }),
        ("write-hv-image", || probe::write64(HV_IMAGE, 0)),
        ("write-hv-tables", || probe::write64(HV_TABLES, 0)),
        ("exec-hv-code", || probe::exec(HV_IMAGE)),
        ("read-victim-ram", || {
            let _ = probe::read64(VICTIM_RAM + 0x10_0000);
        }),
        ("write-victim-ram", || {
            probe::write64(VICTIM_RAM + 0x10_0000, 0)
        }),
        ("read-gicd", || {
            let _ = probe::read64(GICD);
        }),
        ("write-uart", || probe::write64(UART, 0x41)),
        ("read-null", || {
            let _ = probe::read64(0x1000);
        }),
        ("read-beyond-own-memory", beyond_own_memory),
        ("mrs-sctlr-el1", || {
            let _ = probe::mrs_sctlr_el1();
        }),
        ("msr-sctlr-el1", probe::msr_sctlr_el1),
        ("mrs-ttbr0-el2", || {
            let _ = probe::mrs_ttbr0_el2();
        }),
        ("msr-hcr-el2", probe::msr_hcr_el2),
        ("hvc", probe::hvc0),
        ("smc", probe::smc0),
        ("mask-irqs", probe::mask_irqs),
        ("dc-civac", || probe::dc_civac(sys::info().mem_va)),
        ("tlbi", probe::tlbi_vmalle1),
    ];

    fn main(boot: Boot) {
        let life = boot.restarts as usize;
        if life == 0 {
            println!("lw-attacker: waiting for the victim's ready");
            while sys::wait() & READY == 0 {}
        } else if let Some((name, _)) = PROBES.get(life - 1) {
            result!(name, "killed");
        }
        for (name, p) in PROBES.iter().skip(life) {
            println!("lw-attacker: probing {name}");
            p();
            result!(name, "LEAKED");
        }
        let mut ok = true;
        let mut expect = |key: &str, got: i64, want: i64| {
            let verdict = if got == want { "refused" } else { "ACCEPTED" };
            if got != want {
                ok = false;
                println!("lw-attacker: {key} returned {got}, expected {want}");
            }
            result!(key, "{verdict}");
        };
        let i = sys::info();
        expect(
            "write-from-hv-memory",
            sys::write_raw(HV_IMAGE, 16),
            err::INVALID_ADDRESS,
        );
        expect(
            "write-past-own-memory",
            sys::write_raw(i.mem_va + i.mem_size - 8, 16),
            err::INVALID_ADDRESS,
        );
        expect("raise-foreign-channel", sys::raise(1), err::DENIED);
        expect("raise-missing-channel", sys::raise(99), err::INVALID);
        expect(
            "unknown-syscall",
            sys::raw(99, [0; 6])[0] as i64,
            err::NOT_SUPPORTED,
        );
        expect("svc-imm-1", probe::svc1(), err::NOT_SUPPORTED);
        let _ = nr::EXIT;
        result!("lives", "{}", life + 1);
        sys::raise(DONE);
        result!(
            "status",
            "{}",
            if ok && life == PROBES.len() {
                "pass"
            } else {
                "fail"
            }
        );
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system lwvm-attacker --features lwvm`"
    );
}
