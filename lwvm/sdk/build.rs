//! Puts the lwVM linker script where the linker finds it. Program binaries link with
//! `-Tlwvm.ld` (their own build scripts pass it, like the guests' `-Tguest.ld`).
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("lwvm.ld"), include_bytes!("lwvm.ld")).expect("write lwvm.ld");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=lwvm.ld");
}
