//! `bl-left`: holder 0 and manager of the pool (system `balloon`, CPU 0). Starts with all
//! blocks; every round it fills them with its pattern, moves them all to `bl-right`
//! (asked of itself: it is notified, sees what it is asked, releases), checks that it
//! can no longer reach them, waits for `bl-right` to give them back to the pool
//! (channel 0 → INTID 100), acquires them again and checks they are zero.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_balloon::{POOL, fill, holds, unmapped};
    use guest_rt::hypercall::{self, balloon, err};
    use guest_rt::{gic, irq, println, result, result::check};

    const ROUNDS: u32 = 100;
    /// The pool's notification.
    const NOTE: u32 = 120;
    /// `bl-right` gave the blocks back.
    const BACK: u32 = 100;
    /// `bl-right`'s VM index (second VM of the system).
    const RIGHT: u64 = 1;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        gic::configure(BACK, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (n, bs, ipa) = (i.blocks, i.block_size, i.ipa);
        println!(
            "bl-left: pool of {n} blocks of {bs:#x} at {ipa:#x}, holding {}",
            i.held
        );
        check(i.held == n, "starts-with-all");
        // Bad requests get error codes.
        result!("info-no-pool", "{}", balloon::info(7).err().unwrap_or(0));
        // SMCCC call count of the project's range: the core's 8 and the 5 BALLOON_* calls
        result!(
            "call-count",
            "{}",
            hypercall::call(0x8600_FF00, [0; 5])[0] as i64
        );
        result!(
            "move-too-many",
            "{}",
            balloon::move_to(POOL, RIGHT, n + 1).err().unwrap_or(0)
        );
        result!(
            "move-not-a-holder",
            "{}",
            balloon::move_to(POOL, 9, 1).err().unwrap_or(0)
        );
        result!(
            "acquire-beyond-pool",
            "{}",
            balloon::acquire(POOL, 1).err().unwrap_or(0)
        );
        result!(
            "release-more-than-held",
            "{}",
            balloon::release(POOL, n + 1).err().unwrap_or(0)
        );
        let (mut zeros, mut faults, mut kept) = (0, 0, 0);
        for round in 1..=ROUNDS {
            let seed = u64::from(round) * 2;
            check(fill(ipa, bs, 0, n, seed), "fill");
            kept += u32::from(holds(ipa, bs, 0, n, Some(seed)));
            // Move everything to bl-right: asked of ourselves.
            let notes = irq::count(NOTE);
            check(balloon::move_to(POOL, RIGHT, n) == Ok(true), "move-pending");
            check(
                balloon::move_to(POOL, RIGHT, 1) == Err(err::BUSY),
                "second-move-busy",
            );
            irq::wait_count(NOTE, notes + 1);
            let s = balloon::status(POOL).unwrap_or(balloon::Status {
                asked: 0,
                held: 0,
                free: 0,
                wanted: 0,
            });
            check(s.asked == n && s.held == n, "asked-all");
            check(balloon::release(POOL, n) == Ok(0), "release");
            faults += u32::from(unmapped(ipa, bs, 0, n));
            // bl-right works with them and gives them back to the pool.
            irq::wait_count(BACK, round);
            match balloon::acquire(POOL, n) {
                Ok(false) => {}
                other => {
                    println!("bl-left: acquire in round {round}: {other:?}");
                    check(false, "acquire");
                    break;
                }
            }
            zeros += u32::from(holds(ipa, bs, 0, n, None));
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
