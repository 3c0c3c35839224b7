//! The first guest: prints a greeting and its PSCI version, then powers its VM off.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use guest_rt::{println, psci};

    fn main() -> ! {
        println!("Hello from a VM at EL1 with stage-2 translation on");
        let v = psci::version();
        println!("PSCI version {}.{}", v >> 16, v & 0xffff);
        println!("hello: done");
        psci::system_off()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the hello guest runs under the hypervisor: use `cargo xtask run`");
}
