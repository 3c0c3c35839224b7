//! Links with the SDK's `lwvm.ld`; the sample count comes from `PROBE_ITERS` and
//! `PROBE_WARMUP` at build time, as for guests/probe-bench.
fn main() {
    println!("cargo:rerun-if-env-changed=PROBE_ITERS");
    println!("cargo:rerun-if-env-changed=PROBE_WARMUP");
    println!("cargo:rerun-if-env-changed=PROBE_QUIET");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-Tlwvm.ld");
    }
}
