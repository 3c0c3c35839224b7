//! Links at the top 16 MiB of qemu-virt's RAM (`identity.ld`): the VM owns a DMA device,
//! so its RAM is at IPA = PA, where the toolkit places an `identity` VM.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo:rustc-link-arg-bins=-T{dir}/identity.ld");
        println!("cargo:rerun-if-changed=identity.ld");
    }
}
