//! `victim`: fills its free RAM with an address-derived pattern, raises channel 1
//! ("ready", INTID 101 in the attacker), waits for the attacker's "done" (INTID 100),
//! then checks every word and that no interrupt but "done" reached it.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::ptr::{read_volatile, write_volatile};
    use guest_rt::{arch, gic, hypercall, irq, println, result, result::check};

    const READY: u64 = 1;
    const DONE: u32 = 100;
    /// RAM size from the system description, used if VM_INFO is unavailable.
    const RAM_FALLBACK: u64 = 8 << 20;

    unsafe extern "C" {
        static __image_end: u8;
    }

    fn pattern(addr: usize) -> u64 {
        (addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5A5A_5A5A_A5A5_A5A5
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(DONE, 0x80);
        // Any SGI reaching us would come from outside: this VM has one vCPU and sends none.
        for sgi in 0..16 {
            gic::configure(sgi, 0x80);
        }
        let (ram, size) = match hypercall::vm_info() {
            Ok(i) => (i.ram_ipa as usize, i.ram_size),
            Err(e) => {
                println!("victim: VM_INFO returned {e}; assuming 8M at 0x4000_0000");
                (0x4000_0000, RAM_FALLBACK)
            }
        };
        let start = (&raw const __image_end as usize + 0xfff) & !0xfff;
        let end = ram + size as usize;
        let mut a = start;
        while a < end {
            // SAFETY: [start, end) is this VM's RAM past the image and stacks; nothing
            // of Rust's lives there.
            unsafe { write_volatile(a as *mut u64, pattern(a)) };
            a += 8;
        }
        arch::dsb();
        println!("victim: pattern written to {start:#x}..{end:#x}");
        check(hypercall::virq_raise(READY) == 0, "virq-raise-failed");
        println!("victim: waiting for the attacker's done (INTID {DONE})");
        irq::wait_count(DONE, 1);

        let mut bad = 0u64;
        let mut first_bad = 0usize;
        let mut a = start;
        while a < end {
            // SAFETY: as above.
            if unsafe { read_volatile(a as *const u64) } != pattern(a) {
                if bad == 0 {
                    first_bad = a;
                }
                bad += 1;
            }
            a += 8;
        }
        if bad != 0 {
            println!("victim: {bad} words changed, first at {first_bad:#x}");
        }
        result!("victim-intact", "{}", if bad == 0 { "yes" } else { "no" });
        check(bad == 0, "victim-ram-changed");
        let foreign: u32 = (0..16).map(irq::count).sum::<u32>()
            + (0..1020)
                .filter(|&i| i >= 16 && i != DONE)
                .map(irq::count)
                .sum::<u32>();
        result!("victim-foreign-irqs", "{foreign}");
        check(foreign == 0, "victim-foreign-irqs");
        result!("victim-done-irqs", "{}", irq::count(DONE));
        check(irq::count(DONE) == 1, "victim-done-count");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system attacker`");
}
