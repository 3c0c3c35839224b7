//! `bl-plan`: a holder of a pool whose moves come from the configuration's plan (system
//! `balloon-plan`: `pl-a` holds all 8 blocks at boot, the plan moves 4 to `pl-b`, 4 more,
//! then all 8 back). No VM asks for anything: the hypervisor moves blocks at the planned
//! times. Each notification is either an ask (release what is asked, at once) or a gift
//! (the new blocks must read zero — none of the other VM's data — then get this VM's
//! pattern). After three notifications it reports and powers off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_balloon::{POOL, fill, holds, unmapped};
    use guest_rt::hypercall::{self, balloon};
    use guest_rt::{gic, irq, result, result::check};

    const NOTE: u32 = 122;
    /// Notifications of the plan seen by each holder (two of one kind, one of the other).
    const STEPS: u32 = 3;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (bs, ipa) = (i.block_size, i.ipa);
        let seed = hypercall::vm_info().map_or(0, |v| v.vm) + 7;
        let mut held = i.held;
        if held > 0 {
            check(fill(ipa, bs, 0, held, seed), "fill-initial");
        }
        let (mut asks, mut gifts, mut zeros, mut faults) = (0u32, 0u32, 0u32, 0u32);
        for n in 1..=STEPS {
            irq::wait_count(NOTE, n);
            let s = balloon::status(POOL).unwrap_or(balloon::Status {
                asked: 0,
                held: 0,
                free: 0,
                wanted: 0,
            });
            if s.asked > 0 {
                asks += 1;
                // the blocks kept must still hold this VM's data
                check(holds(ipa, bs, 0, held - s.asked, Some(seed)), "kept");
                check(
                    balloon::release(POOL, s.asked) == Ok(held - s.asked),
                    "release",
                );
                faults += u32::from(unmapped(ipa, bs, held - s.asked, held));
                held -= s.asked;
            } else {
                gifts += 1;
                let now = s.held;
                check(now > held, "given-more");
                zeros += u32::from(holds(ipa, bs, held, now, None));
                check(fill(ipa, bs, held, now, seed), "fill");
                held = now;
            }
        }
        result!("asks", "{asks}");
        result!("gifts", "{gifts}");
        result!("zeros", "{zeros}");
        result!("faults-after-release", "{faults}");
        result!("held", "{held}");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run balloon-plan --features balloon`"
    );
}
