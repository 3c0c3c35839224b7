//! `bl-vmem`: holder 0 and manager of a pool whose other holder is a Linux VM that sees
//! it as a virtio-mem device (system `balloon-linux`). A page shared with Linux carries a
//! small handshake, which Linux's `/init` drives with busybox `devmem`:
//!
//! 1. Linux writes [`READY`] once its virtio-mem driver is loaded; this VM moves every
//!    block of the pool to Linux (free blocks: done at once; Linux's driver is told the
//!    new requested size, plugs the blocks and onlines them);
//! 2. Linux writes [`GROWN`] when its memory grew and a workload ran in it; this VM moves
//!    every block back to itself, which asks Linux to give them back (its driver unplugs
//!    them; the hypervisor releases, scrubs and hands them over);
//! 3. this VM is notified when it holds them, checks they read zero (nothing of Linux's
//!    crosses over), writes its own data into them and answers [`DONE`].
#![cfg_attr(target_os = "none", no_std, no_main)]

/// Handshake words in the shared page: `[0]` Linux → this VM, `[1]` this VM → Linux.
pub const READY: u32 = 1;
/// Linux's memory grew and its workload ran.
pub const GROWN: u32 = 2;
/// This VM holds the blocks again (they read zero).
pub const DONE: u32 = 3;

#[cfg(target_os = "none")]
mod guest {
    use super::{DONE, GROWN, READY};
    use guest_balloon::{POOL, fill, holds};
    use guest_rt::hypercall::{self, balloon};
    use guest_rt::{gic, irq, println, result, result::check, timer};

    /// The pool's notification SPI.
    const NOTE: u32 = 120;
    /// The shared page (`[[shared]] ctl` of the system).
    const CTL: u64 = 0x5000_0000;
    /// VM indices in the system file.
    const LINUX: u64 = 0;

    fn word(i: u64) -> *mut u32 {
        (CTL + 4 * i) as *mut u32
    }

    /// Sleeps `us` microseconds on the virtual timer (WFI: the host CPU is left to Linux).
    fn nap(us: u64) {
        let seen = irq::count(timer::INTID);
        timer::arm_at(timer::now() + timer::us_to_ticks(us));
        irq::wait_count(timer::INTID, seen + 1);
    }

    /// Waits until Linux's word is `want`.
    fn await_linux(want: u32) {
        // SAFETY: the shared page is mapped read-write in this VM (MMU off: device
        // memory, so Linux's uncached `devmem` writes are seen as made).
        while unsafe { core::ptr::read_volatile(word(0)) } != want {
            nap(20_000);
        }
    }

    fn on_irq(intid: u32) {
        if intid == timer::INTID {
            // level-sensitive: off before the EOI, or it fires again at once
            timer::disable();
        }
        irq::record(intid);
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        irq::set_handler(on_irq);
        gic::configure(NOTE, 0x80);
        gic::configure(timer::INTID, 0x80);
        let Ok(i) = balloon::info(POOL) else {
            guest_rt::result::fail("no-pool");
        };
        let (n, bs, ipa) = (i.blocks, i.block_size, i.ipa);
        check(i.held == 0, "starts-empty");
        println!(
            "bl-vmem: pool of {n} blocks of {} MiB; waiting for Linux",
            bs >> 20
        );
        await_linux(READY);
        result!(
            "give-to-linux",
            "{}",
            match balloon::move_to(POOL, LINUX, n) {
                Ok(false) => "done",
                Ok(true) => "asked",
                Err(_) => "refused",
            }
        );
        await_linux(GROWN);
        let me = hypercall::vm_info().map_or(1, |v| v.vm);
        let t0 = timer::now();
        result!(
            "take-back",
            "{}",
            match balloon::move_to(POOL, me, n) {
                Ok(true) => "asked",
                Ok(false) => "done",
                Err(_) => "refused",
            }
        );
        irq::wait_count(NOTE, 1);
        let ms = (timer::now() - t0) * 1000 / timer::frequency();
        println!("bl-vmem: Linux gave the blocks back after {ms} ms");
        let held = balloon::info(POOL).map_or(0, |i| i.held);
        result!("held-after", "{held}");
        result!(
            "zeros-after-linux",
            "{}",
            if holds(ipa, bs, 0, held, None) {
                "yes"
            } else {
                "no"
            }
        );
        check(fill(ipa, bs, 0, held, 5), "fill");
        check(holds(ipa, bs, 0, held, Some(5)), "own-data");
        // SAFETY: as in `await_linux`.
        unsafe { core::ptr::write_volatile(word(1), DONE) };
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run balloon-linux --features balloon`"
    );
}
