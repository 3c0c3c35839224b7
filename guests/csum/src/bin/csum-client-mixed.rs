//! `csum-client-mixed` for the system `lwvm-mixed`: channel 2 to the service, its
//! answers on INTID 102 (channel 3); channels 0 and 1 belong to `ping` and `lw-pong`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    fn main() -> ! {
        guest_csum::run(2, 102)
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system lwvm-mixed --features lwvm`"
    );
}
