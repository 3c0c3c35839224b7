//! `bl-mgr`: holder 0 and manager of the pool (system `balloon-revoke`, CPU 0, above
//! `bl-hog`). Asks for all of `bl-hog`'s blocks, which it never releases: they must be
//! revoked at the deadline, scrubbed, and given to `bl-mgr`. Then it gives two back,
//! lets `bl-hog` take them and restart, and checks they came back to the pool scrubbed.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_balloon::{POOL, holds};
    use guest_rt::hypercall::{self, balloon, err};
    use guest_rt::{gic, irq, println, result, result::check, timer};

    const NOTE: u32 = 121;
    /// `bl-hog` is ready / back after its restart.
    const FROM_HOG: u32 = 103;
    const TO_HOG: u64 = 0;
    /// The pool's `deadline-us`.
    const DEADLINE_US: u64 = 20_000;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        gic::configure(FROM_HOG, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (n, bs, ipa) = (i.blocks, i.block_size, i.ipa);
        check(i.held == 0, "starts-empty");
        irq::wait_count(FROM_HOG, 1);
        result!(
            "move-too-many",
            "{}",
            balloon::move_to(POOL, 0, n + 1).err().unwrap_or(0)
        );
        let t0 = timer::now();
        check(balloon::move_to(POOL, 0, n) == Ok(true), "move-asked");
        result!(
            "second-move",
            "{}",
            balloon::move_to(POOL, 0, 1).err().unwrap_or(0)
        );
        result!(
            "acquire-during-move",
            "{}",
            balloon::acquire(POOL, 1).err().unwrap_or(0)
        );
        // Spin past the deadline without trapping (bl-hog, below on this CPU, does not
        // run meanwhile): the hypervisor's own timer, not a trap of a guest, must bring
        // the revocation; the status call after it is no pass of the run loop.
        let end = t0 + 2 * DEADLINE_US * timer::frequency() / 1_000_000;
        while timer::now() < end {
            core::hint::spin_loop();
        }
        let held = balloon::status(POOL).map_or(0, |s| s.held);
        result!(
            "revoked-while-spinning",
            "{}",
            if held == n { "yes" } else { "no" }
        );
        irq::wait_count(NOTE, 1);
        let waited = timer::now() - t0;
        let us = waited * 1_000_000 / timer::frequency();
        println!("bl-mgr: given the blocks after {us} us");
        result!(
            "revoked-after-deadline",
            "{}",
            if us >= DEADLINE_US { "yes" } else { "no" }
        );
        check(balloon::info(POOL).map_or(0, |i| i.held) == n, "holds-all");
        result!(
            "zeros-after-revoke",
            "{}",
            if holds(ipa, bs, 0, n, None) {
                "yes"
            } else {
                "no"
            }
        );
        // Two blocks back for bl-hog, which takes them and restarts.
        check(balloon::release(POOL, 2) == Ok(n - 2), "release-two");
        check(hypercall::virq_raise(TO_HOG) == 0, "tell-hog");
        irq::wait_count(FROM_HOG, 2);
        let s = balloon::status(POOL).unwrap_or(balloon::Status {
            asked: 0,
            held: 0,
            free: 0,
            wanted: 0,
        });
        result!("free-after-reset", "{}", s.free);
        check(balloon::acquire(POOL, 2) == Ok(false), "acquire-back");
        result!(
            "zeros-after-reset",
            "{}",
            if holds(ipa, bs, n - 2, n, None) {
                "yes"
            } else {
                "no"
            }
        );
        check(
            balloon::acquire(POOL, 1) == Err(err::INVALID),
            "acquire-beyond",
        );
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system balloon-revoke --features balloon`"
    );
}
