//! The probe of `../probe.rs`, linked at the address `build.rs` gives this binary.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[path = "../probe.rs"]
mod probe;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the fdt-probe guest runs under the hypervisor: use `cargo xtask test`");
}
