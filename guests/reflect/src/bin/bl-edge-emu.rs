//! `bl-edge-emu`: emulates `bl-edge`'s device (every access reflected here, INTID 100):
//! HELLO (write: a boot starts, the counter restarts at 0), BOOTS (read), COUNTER (read:
//! 0, 1, 2, …), DONE (write: this VM powers off too).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::hypercall::{self, FaultAction};
    use guest_rt::{gic, irq, result};

    const FROM_HV: u32 = 100;
    const DEVICE: u64 = 0x1000_0000;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_HV, 0x80);
        let (mut boots, mut counter, mut done) = (0u64, 0u64, false);
        let mut seen = 0;
        let mut served = 0u64;
        while !done {
            seen += 1;
            irq::wait_count(FROM_HV, seen);
            while let Ok(f) = hypercall::fault_fetch() {
                let (action, value) = match (f.ipa.wrapping_sub(DEVICE), f.write) {
                    (0x00, true) => {
                        boots += 1;
                        counter = 0;
                        (FaultAction::Skip, 0)
                    }
                    (0x04, false) => (FaultAction::Skip, boots),
                    (0x08, false) => {
                        counter += 1;
                        (FaultAction::Skip, counter - 1)
                    }
                    (0x0c, true) => {
                        done = true;
                        (FaultAction::Skip, 0)
                    }
                    _ => (FaultAction::InjectAbort, 0),
                };
                hypercall::fault_complete(f.token, action as u64, value);
                served += 1;
            }
        }
        result!("served", "{served}");
        guest_rt::result::pass()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run bl-edge --features big-little`"
    );
}
