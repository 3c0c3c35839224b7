//! `reflect-driver`: emulates the client's fake device. On each vIRQ (INTID 100) it
//! drains FAULT_FETCH and answers every access with FAULT_COMPLETE; ends after the
//! client writes DONE. Also checks FAULT_FETCH with nothing pending (NO_ENTRY) and
//! FAULT_COMPLETE with a forged token (an error).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_reflect::*;
    use guest_rt::hypercall::{self, FaultAction, err};
    use guest_rt::{gic, irq, println, result, result::check};

    const TO_CLIENT: u64 = 0;
    const FROM_HV: u32 = 100;

    struct Device {
        counter: u32,
        scratch32: u32,
        scratch64: u64,
        done: bool,
    }

    impl Device {
        /// The action and the read value for an access.
        fn access(&mut self, off: u64, size: u32, write: bool, data: u64) -> (FaultAction, u64) {
            match (off, size, write) {
                (REG_ID, 4, false) => (FaultAction::Skip, ID as u64),
                (REG_ID, 1, false) => (FaultAction::Skip, ID as u64 & 0xff),
                (REG_ID, 4, true) => (FaultAction::Skip, 0),
                (REG_COUNTER, 4, false) => {
                    self.counter += 1;
                    (FaultAction::Skip, (self.counter - 1) as u64)
                }
                (REG_SCRATCH32, 4, false) => (FaultAction::Skip, self.scratch32 as u64),
                (REG_SCRATCH32, 4, true) => {
                    self.scratch32 = data as u32;
                    (FaultAction::Skip, 0)
                }
                (REG_SCRATCH64, 8, false) => (FaultAction::Skip, self.scratch64),
                (REG_SCRATCH64, 8, true) => {
                    self.scratch64 = data;
                    (FaultAction::Skip, 0)
                }
                (REG_DONE, 4, true) => {
                    self.done = true;
                    (FaultAction::Skip, 0)
                }
                _ => (FaultAction::InjectAbort, 0),
            }
        }
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_HV, 0x80);

        let r = hypercall::fault_fetch().err().unwrap_or(0);
        result!("fetch-empty", "{r}");
        check(r == err::NO_ENTRY, "fetch-empty");
        let r = hypercall::fault_complete(0xdead_0001, FaultAction::Skip as u64, 0);
        result!(
            "complete-forged",
            "{}",
            if r < 0 { "refused" } else { "accepted" }
        );
        check(r < 0, "complete-forged");

        check(hypercall::virq_raise(TO_CLIENT) == 0, "virq-raise-failed");
        let mut dev = Device {
            counter: 0,
            scratch32: 0,
            scratch64: 0,
            done: false,
        };
        let mut handled = 0u32;
        let mut bad_ipa = 0u32;
        let mut seen = 0;
        while !dev.done {
            seen += 1;
            irq::wait_count(FROM_HV, seen);
            while let Ok(f) = hypercall::fault_fetch() {
                let off = f.ipa.wrapping_sub(DEVICE as u64);
                if off >= 0x1000 {
                    bad_ipa += 1;
                }
                let (action, value) = dev.access(off, f.size, f.write, f.data);
                let r = hypercall::fault_complete(f.token, action as u64, value);
                if !check(r == 0, "fault-complete-failed") {
                    println!("FAULT_COMPLETE returned {r} for token {:#x}", f.token);
                }
                handled += 1;
            }
        }
        result!("faults-handled", "{handled}");
        check(handled == 11, "faults-handled");
        check(bad_ipa == 0, "fault-ipa-outside-region");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system reflect`");
}
