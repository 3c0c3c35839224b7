//! The hypervisor image.
//!
//! Ties together the arch glue (`hv-arch`), the portable logic (`hv-core`) and the
//! static tables the configuration toolkit generated for one system (`generated`).
//! There is no allocator and no run-time creation of anything: every VM, vCPU, memory
//! mapping and schedule comes from `generated::SYSTEM`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(target_os = "none")]
mod image {
    pub mod boot;
    pub mod console;
    pub mod exit;
    pub mod ext;
    pub mod fault;
    pub mod generated;
    pub mod irq;
    pub mod log;
    #[cfg(feature = "lwvm")]
    pub mod lwvm;
    pub mod mmio;
    pub mod reflect;
    pub mod run;
    pub mod smccc;
    pub mod state;
    pub mod sync;
    pub mod sysreg;
    pub mod telemetry;
    pub mod vmctl;
    pub mod vmload;
    pub mod vmshared;
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the hypervisor image is built for aarch64 by `cargo xtask build`");
}
