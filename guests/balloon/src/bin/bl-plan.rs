//! `bl-plan`: a holder of a pool whose moves come from the configuration's plan (system
//! `balloon-plan`: `pl-a` holds all 8 blocks at boot, the plan moves 4 to `pl-b`, 4 more,
//! then all 8 back). No VM asks for anything: the hypervisor moves blocks at the planned
//! times.
//!
//! The notification is a doorbell, not a message: two moves that come close together
//! (a step that waited for the one before it, a vCPU the host did not run for a while)
//! may leave one pending interrupt, and one may come before this VM enabled it. So after
//! every notification, and once at the start, the VM reads its status and acts on what it
//! finds: an ask is released at once; blocks it holds beyond its own count are a gift,
//! which must read zero (none of the other VM's data) and then gets this VM's pattern.
//! A gift is taken before an ask is served: a VM the host starved may find both in one
//! status, the ask counting the gift. Blocks revoked at a deadline (starved past it)
//! count as given. Results count blocks, not notifications: each VM gives the whole pool away once and
//! receives it once, however the moves were grouped. Then it reports and powers off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_balloon::{POOL, fill, holds, unmapped};
    use guest_rt::hypercall::{self, balloon};
    use guest_rt::{gic, irq, println, result, result::check};

    const NOTE: u32 = 122;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(NOTE, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (bs, ipa, pool) = (i.block_size, i.ipa, i.blocks);
        let seed = hypercall::vm_info().map_or(0, |v| v.vm) + 7;
        let mut held = i.held;
        if held > 0 {
            check(fill(ipa, bs, 0, held, seed), "fill-initial");
        }
        // blocks given away and received; received blocks that read zero; released
        // blocks that fault when read afterwards
        let (mut given, mut received, mut zeros, mut faults) = (0u64, 0u64, 0u64, 0u64);
        while given < pool || received < pool {
            // the count before the status: a notification after this read wakes the wait
            let seen = irq::count(NOTE);
            let Ok(s) = balloon::status(POOL) else {
                guest_rt::result::fail("status");
            };
            if s.held > held {
                // A gift first: a VM the host starved may find, in one status, blocks it
                // was given and an ask that counts them (the plan went on without it).
                zeros += (held..s.held)
                    .filter(|&b| holds(ipa, bs, b, b + 1, None))
                    .count() as u64;
                check(fill(ipa, bs, held, s.held, seed), "fill");
                received += s.held - held;
                held = s.held;
            } else if s.held < held {
                // Revoked at the deadline: this vCPU did not run in time (a host that
                // starves it for the whole deadline). The blocks are gone all the same
                // and count as given.
                println!("bl-plan: {} blocks revoked", held - s.held);
                faults += (s.held..held)
                    .filter(|&b| unmapped(ipa, bs, b, b + 1))
                    .count() as u64;
                given += held - s.held;
                held = s.held;
            } else if s.asked > 0 {
                check(s.asked <= held, "asked-within-held");
                let keep = held.saturating_sub(s.asked);
                // the blocks kept must still hold this VM's data
                check(holds(ipa, bs, 0, keep, Some(seed)), "kept");
                check(balloon::release(POOL, s.asked) == Ok(keep), "release");
                faults += (keep..held)
                    .filter(|&b| unmapped(ipa, bs, b, b + 1))
                    .count() as u64;
                given += held - keep;
                held = keep;
            } else {
                irq::wait_count(NOTE, seen + 1);
            }
        }
        result!("given", "{given}");
        result!("received", "{received}");
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
