//! `csum-client` for the system `lwvm-csum`: channel 0 to the service, its answers on
//! INTID 101 (channel 1).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    fn main() -> ! {
        guest_csum::run(0, 101)
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system lwvm-csum --features lwvm`"
    );
}
