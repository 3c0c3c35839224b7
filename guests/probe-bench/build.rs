//! Links the probes with the runtime's `guest.ld`; the sample count per run comes from
//! `PROBE_ITERS` at build time (the experiment runner sets it).
fn main() {
    println!("cargo:rerun-if-env-changed=PROBE_ITERS");
    println!("cargo:rerun-if-env-changed=PROBE_WARMUP");
    println!("cargo:rerun-if-env-changed=PROBE_QUIET");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-Tguest.ld");
    }
}
