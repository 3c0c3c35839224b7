//! `reflect-silent`: the emulating VM of a region that never answers: it takes the
//! reflection interrupt but never fetches nor completes; it ends when the client raises
//! its "done" channel (INTID 102).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{gic, irq};

    const FROM_HV: u32 = 100;
    const DONE: u32 = 102;

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_HV, 0x80);
        gic::configure(DONE, 0x80);
        irq::wait_count(DONE, 1);
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system reflect-stranded`"
    );
}
