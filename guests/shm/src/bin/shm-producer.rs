//! `shm-producer`: waits for the consumer's "ready" (INTID 101), writes the records and
//! the header into the shared region, raises channel 0 ("data", INTID 100 in the
//! consumer), then waits for the consumer's second raise ("verified") before it powers
//! off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::ptr::write_volatile;
    use guest_rt::{arch, gic, hypercall, irq, result, result::check};
    use guest_shm::*;

    const DATA: u64 = 0;
    const FROM_CONSUMER: u32 = 101;

    fn put(addr: usize, v: u64) {
        // SAFETY: `addr` lies in the shared region, mapped read-write in this VM, and no
        // Rust object lives there.
        unsafe { write_volatile(addr as *mut u64, v) }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_CONSUMER, 0x80);
        guest_rt::println!(
            "shm-producer: waiting for the consumer's ready (INTID {FROM_CONSUMER})"
        );
        irq::wait_count(FROM_CONSUMER, 1);
        let mut all = [0u64; COUNT];
        for (i, sum) in all.iter_mut().enumerate() {
            let mut w = [0u64; WORDS];
            w[0] = i as u64;
            for k in 1..7 {
                w[k] = payload(i as u64, k as u64);
            }
            w[7] = checksum(&w[..7]);
            for (k, v) in w.iter().enumerate() {
                put(word_addr(i, k), *v);
            }
            *sum = w[7];
        }
        put(SHM + 8, COUNT as u64);
        put(SHM + 16, checksum(&all));
        arch::dsb();
        put(SHM, MAGIC);
        arch::dsb();
        result!("records-written", "{COUNT}");
        check(hypercall::virq_raise(DATA) == 0, "virq-raise-failed");
        irq::wait_count(FROM_CONSUMER, 2);
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system shm`");
}
