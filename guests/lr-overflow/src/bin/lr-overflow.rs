//! `lr-overflow`: makes more interrupts pending at once than the CPU has list registers
//! (QEMU: 4), with IRQs masked, then unmasks and checks that each is delivered exactly
//! once. Phase 1: SGIs 0..7, one priority. Phase 2: SGIs 0..15, SGI n at priority
//! (15 - n) * 0x10, which must arrive highest priority first: 15, 14, …, 0.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::arch::{irq_mask, irq_unmask};
    use guest_rt::{gic, irq, println, result, result::check, timer};

    /// Time allowed for all deliveries after unmasking (they are due at once).
    const SETTLE_US: u64 = 100_000;

    fn pending_sgis() -> u32 {
        gic::read32(gic::redistributor() + gic::SGI_BASE + gic::ISPENDR) & 0xffff
    }

    fn phase(n: u32, prio: impl Fn(u32) -> u8) -> (u32, u32, u32, bool) {
        irq_mask();
        let before: [u32; 16] = core::array::from_fn(|i| irq::count(i as u32));
        for i in 0..n {
            gic::set_priority(i, prio(i));
            gic::set_group1(i);
            gic::enable(i);
        }
        irq::clear_log();
        for i in 0..n {
            gic::send_sgi(i, guest_rt::arch::cpu_index() as u32);
        }
        let pending = pending_sgis();
        irq_unmask();
        timer::spin_until(timer::us_to_ticks(SETTLE_US), || {
            (0..n).all(|i| irq::count(i) >= before[i as usize] + 1)
        });
        // Let duplicates, if any, arrive too.
        timer::spin_until(timer::us_to_ticks(10_000), || false);
        let mut delivered = 0;
        let mut dups = 0;
        for i in 0..n {
            let got = irq::count(i) - before[i as usize];
            if got >= 1 {
                delivered += 1;
            }
            dups += got.saturating_sub(1);
        }
        let mut ordered = true;
        let mut prev = None;
        for k in 0..irq::log_len() {
            let Some(id) = irq::log(k) else { break };
            if let Some(p) = prev {
                if prio(id) < prio(p) {
                    ordered = false;
                }
            }
            prev = Some(id);
        }
        (delivered, dups, pending, ordered)
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();

        let (d, dups, pending, _) = phase(8, |_| 0xa0);
        println!("lr-overflow: ISPENDR0 with 8 SGIs pending = {pending:#x}");
        result!("phase1-delivered", "{d}");
        result!("phase1-duplicates", "{dups}");
        result!("phase1-pending-before", "{:#x}", pending);
        check(d == 8, "phase1-lost-interrupt");
        check(dups == 0, "phase1-duplicate");
        check(pending == 0xff, "phase1-ispendr");

        let (d, dups, pending, ordered) = phase(16, |i| ((15 - i) * 0x10) as u8);
        let mut order = [0u32; 16];
        for (k, o) in order.iter_mut().enumerate() {
            *o = irq::log(k).unwrap_or(99);
        }
        println!("lr-overflow: phase 2 delivery order {order:?}");
        result!("phase2-delivered", "{d}");
        result!("phase2-duplicates", "{dups}");
        result!("phase2-pending-before", "{:#x}", pending);
        result!(
            "phase2-priority-order",
            "{}",
            if ordered { "ok" } else { "wrong" }
        );
        check(d == 16, "phase2-lost-interrupt");
        check(dups == 0, "phase2-duplicate");
        check(pending == 0xffff, "phase2-ispendr");
        check(ordered, "phase2-priority-order");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system lr-overflow`");
}
