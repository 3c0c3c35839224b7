//! `bl-hog`: holder 1 (system `balloon-revoke`, CPU 0, below `bl-mgr`). First life: holds
//! every block, fills them, ignores the request to release and keeps reading them until
//! the revocation makes them fault; then takes two blocks back, fills them and restarts
//! (PSCI SYSTEM_RESET) while holding them. Second life: it holds nothing.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_balloon::{POOL, fill};
    use guest_rt::arch::hvc;
    use guest_rt::hypercall::{self, balloon};
    use guest_rt::{gic, irq, println, probe, psci, result, result::check};

    const NOTE: u32 = 121;
    const FROM_MGR: u32 = 102;
    const TO_MGR: u64 = 1;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        gic::configure(FROM_MGR, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (n, bs, ipa) = (i.blocks, i.block_size, i.ipa);
        if i.held == 0 {
            // Second life: what it held went back to the pool.
            result!("restarted-holding", "{}", i.held);
            check(hypercall::virq_raise(TO_MGR) == 0, "tell-mgr");
            guest_rt::result::finish()
        }
        check(i.held == n, "starts-with-all");
        check(fill(ipa, bs, 0, n, 7), "fill");
        result!(
            "move-not-manager",
            "{}",
            balloon::move_to(POOL, 1, 1).err().unwrap_or(0)
        );
        check(hypercall::virq_raise(TO_MGR) == 0, "tell-mgr");
        // Never release (the request to is taken and counted): read until the blocks are
        // revoked.
        guest_rt::arch::irq_unmask();
        let mut reads: u64 = 0;
        while probe::read64(ipa as usize).is_ok() {
            reads += 1;
            if reads > 50_000_000 {
                guest_rt::result::fail("never-revoked");
            }
        }
        println!(
            "bl-hog: revoked after {reads} reads, {} notifications",
            irq::count(NOTE)
        );
        result!("revoked", "yes");
        result!(
            "asked-first",
            "{}",
            if irq::count(NOTE) >= 1 { "yes" } else { "no" }
        );
        irq::wait_count(FROM_MGR, 1);
        check(balloon::acquire(POOL, 2) == Ok(false), "acquire-two");
        check(fill(ipa, bs, 0, 2, 9), "fill-two");
        println!("bl-hog: restarting with 2 blocks");
        hvc(psci::SYSTEM_RESET, 0, 0, 0);
        guest_rt::result::fail("reset-returned")
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system balloon-revoke --features balloon`"
    );
}
