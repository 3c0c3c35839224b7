//! `shm-consumer`: raises channel 1 ("ready"), waits for "data" (INTID 100), verifies
//! every record and the header, then checks that a store to its read-only mapping
//! faults (data abort, WnR, permission-fault DFSC, FAR = the address) and changed
//! nothing; raises channel 1 again ("verified").
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::ptr::read_volatile;
    use guest_rt::{gic, hypercall, irq, println, probe, result, result::check};
    use guest_shm::*;

    const ACK: u64 = 1;
    const FROM_PRODUCER: u32 = 100;

    fn get(addr: usize) -> u64 {
        // SAFETY: `addr` lies in the shared region, mapped read-only in this VM.
        unsafe { read_volatile(addr as *const u64) }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_PRODUCER, 0x80);
        let r = hypercall::virq_raise(ACK);
        println!("shm-consumer: ready raised ({r}), waiting for data (INTID {FROM_PRODUCER})");
        check(r == 0, "virq-raise-failed");
        irq::wait_count(FROM_PRODUCER, 1);

        check(get(SHM) == MAGIC, "bad-magic");
        check(get(SHM + 8) == COUNT as u64, "bad-count");
        let mut all = [0u64; COUNT];
        let mut good = 0;
        for (i, sum) in all.iter_mut().enumerate() {
            let w: [u64; WORDS] = core::array::from_fn(|k| get(word_addr(i, k)));
            let ok = w[0] == i as u64
                && (1..7).all(|k| w[k] == payload(i as u64, k as u64))
                && w[7] == checksum(&w[..7]);
            if ok {
                good += 1;
            }
            *sum = w[7];
        }
        result!("records-verified", "{good}");
        check(good == COUNT, "bad-records");
        let total_ok = get(SHM + 16) == checksum(&all);
        result!("checksum", "{}", if total_ok { "ok" } else { "bad" });
        check(total_ok, "bad-checksum");

        // A store to the read-only mapping must fault and change nothing.
        let target = SHM + 8;
        let before = get(target);
        match probe::write64(target, 0xbad0_bad0_bad0_bad0) {
            Ok(()) => {
                result!("ro-write", "allowed");
                check(false, "ro-write-allowed");
            }
            Err(f) => {
                println!(
                    "shm-consumer: ro write fault ESR_EL1 {:#x} FAR_EL1 {:#x}",
                    f.esr, f.far
                );
                result!("ro-write", "fault");
                let kind = if !f.is_data_abort() {
                    "not-a-data-abort"
                } else if f.is_permission() {
                    "permission"
                } else if f.is_translation() {
                    "translation"
                } else if f.is_external() {
                    "external"
                } else {
                    "other"
                };
                result!("ro-write-dfsc", "{kind}");
                check(kind == "permission", "ro-write-dfsc");
                result!("ro-write-wnr", "{}", f.is_write() as u32);
                check(f.is_write(), "ro-write-wnr");
                result!(
                    "ro-write-far",
                    "{}",
                    if f.far == target as u64 {
                        "ok"
                    } else {
                        "wrong"
                    }
                );
                check(f.far == target as u64, "ro-write-far");
            }
        }
        let unchanged = get(target) == before;
        result!(
            "ro-data-unchanged",
            "{}",
            if unchanged { "yes" } else { "no" }
        );
        check(unchanged, "ro-data-changed");
        check(hypercall::virq_raise(ACK) == 0, "virq-raise-failed");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system shm`");
}
