//! Puts the guest linker script where the linker finds it. Guest binaries link with
//! `-Tguest.ld` (their own build scripts pass it).
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("guest.ld"), include_bytes!("guest.ld")).expect("write guest.ld");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=guest.ld");
}
