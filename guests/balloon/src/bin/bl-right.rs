//! `bl-right`: holder 1 of the pool (system `balloon`, CPU 1). Every round it waits to
//! be given the blocks, checks that they are zero (none of `bl-left`'s data), writes its
//! own pattern, gives them back to the pool, checks it can no longer reach them and
//! tells `bl-left` (channel 1 → INTID 100 there).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_balloon::{POOL, fill, holds, unmapped};
    use guest_rt::hypercall::{self, balloon, err};
    use guest_rt::{gic, irq, result, result::check};

    const ROUNDS: u32 = 100;
    const NOTE: u32 = 120;
    const TO_LEFT: u64 = 1;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (n, bs, ipa) = (i.blocks, i.block_size, i.ipa);
        check(i.held == 0, "starts-empty");
        // Not the manager.
        result!(
            "move-not-manager",
            "{}",
            balloon::move_to(POOL, 1, 1).err().unwrap_or(0)
        );
        let (mut zeros, mut faults, mut kept) = (0, 0, 0);
        for round in 1..=ROUNDS {
            irq::wait_count(NOTE, round);
            let held = balloon::info(POOL).map_or(0, |i| i.held);
            check(held == n, "given-all");
            zeros += u32::from(holds(ipa, bs, 0, n, None));
            let seed = u64::from(round) * 2 + 1;
            check(fill(ipa, bs, 0, n, seed), "fill");
            kept += u32::from(holds(ipa, bs, 0, n, Some(seed)));
            check(balloon::release(POOL, n) == Ok(0), "release");
            check(
                balloon::release(POOL, 1) == Err(err::INVALID),
                "release-nothing",
            );
            faults += u32::from(unmapped(ipa, bs, 0, n));
            check(hypercall::virq_raise(TO_LEFT) == 0, "tell-left");
        }
        result!("rounds", "{ROUNDS}");
        result!("kept", "{kept}");
        result!("zeros", "{zeros}");
        result!("faults-after-release", "{faults}");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system balloon --features balloon`"
    );
}
