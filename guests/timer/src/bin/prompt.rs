//! `prompt`: prints a prompt without a newline, waits 20 ms on its virtual timer (its CPU
//! idles), then finishes the line — as a shell does while it waits for input. The prompt
//! must reach the monitor before the line ends.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{console, gic, irq, timer};

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(timer::INTID, 0x80);
        irq::set_handler(|intid| {
            irq::record(intid);
            timer::disable();
        });
        for b in b"prompt> " {
            console::putc(*b);
        }
        timer::arm_at(timer::now() + timer::us_to_ticks(20_000));
        irq::wait_count(timer::INTID, 1);
        guest_rt::println!("answered");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system prompt`");
}
