//! `reflect-client`: waits for the driver's "ready" (INTID 101), then reads and writes
//! the fake device page; every access is reflected to `reflect-driver`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_reflect::*;
    use guest_rt::{gic, irq, println, probe, result, result::check};

    const FROM_DRIVER: u32 = 101;

    fn reg(off: u64) -> usize {
        DEVICE + off as usize
    }

    fn ok_or_fault<T: core::fmt::LowerHex>(
        r: Result<T, probe::Fault>,
        what: &'static str,
    ) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(f) => {
                println!(
                    "reflect-client: {what}: fault ESR_EL1 {:#x} FAR_EL1 {:#x}",
                    f.esr, f.far
                );
                check(false, what);
                None
            }
        }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_DRIVER, 0x80);
        println!("reflect-client: waiting for the driver's ready (INTID {FROM_DRIVER})");
        irq::wait_count(FROM_DRIVER, 1);

        let id = ok_or_fault(probe::read32(reg(REG_ID)), "id-read");
        result!("id", "{}", if id == Some(ID) { "ok" } else { "wrong" });
        check(id == Some(ID), "id");
        let b = ok_or_fault(probe::read8(reg(REG_ID)), "id-byte-read");
        result!(
            "id-byte",
            "{}",
            if b == Some(ID as u8) { "ok" } else { "wrong" }
        );
        check(b == Some(ID as u8), "id-byte");

        let c: [Option<u32>; 3] =
            core::array::from_fn(|_| ok_or_fault(probe::read32(reg(REG_COUNTER)), "counter-read"));
        let counter_ok = c == [Some(0), Some(1), Some(2)];
        println!("reflect-client: counter reads {c:?}");
        result!("counter", "{}", if counter_ok { "0,1,2" } else { "wrong" });
        check(counter_ok, "counter");

        ok_or_fault(
            probe::write32(reg(REG_SCRATCH32), 0xdead_beef).map(|()| 0u8),
            "scratch32-write",
        );
        let s = ok_or_fault(probe::read32(reg(REG_SCRATCH32)), "scratch32-read");
        result!(
            "scratch32",
            "{}",
            if s == Some(0xdead_beef) {
                "ok"
            } else {
                "wrong"
            }
        );
        check(s == Some(0xdead_beef), "scratch32");

        const V64: u64 = 0x0123_4567_89ab_cdef;
        ok_or_fault(
            probe::write64(reg(REG_SCRATCH64), V64).map(|()| 0u8),
            "scratch64-write",
        );
        let s = ok_or_fault(probe::read64(reg(REG_SCRATCH64)), "scratch64-read");
        result!(
            "scratch64",
            "{}",
            if s == Some(V64) { "ok" } else { "wrong" }
        );
        check(s == Some(V64), "scratch64");

        // The driver refuses this one: a synchronous external abort.
        let bad = probe::read32(reg(REG_NONE));
        let aborted = matches!(bad, Err(f) if f.is_data_abort() && f.is_external() && f.far == reg(REG_NONE) as u64);
        result!(
            "bad-register",
            "{}",
            if aborted { "abort" } else { "no-abort" }
        );
        check(aborted, "bad-register");

        ok_or_fault(probe::write32(reg(REG_DONE), 1).map(|()| 0u8), "done-write");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system reflect`");
}
