//! `fdt-probe` links with the runtime's script (RAM base), `fdt-probe-raw` with
//! `raw.ld` (the same at RAM + 0x80000, where a raw binary is loaded).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bin=fdt-probe=-Tguest.ld");
        println!("cargo:rustc-link-arg-bin=fdt-probe-raw=-T{dir}/raw.ld");
        println!("cargo:rerun-if-changed=raw.ld");
    }
}
