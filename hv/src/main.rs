//! The hypervisor image.
//!
//! Ties together the arch glue (`hv-arch`), the portable logic (`hv-core`) and the
//! static tables the configuration toolkit generated for one system (`generated`).
//! There is no allocator and no run-time creation of anything: every VM, vCPU, memory
//! mapping and schedule comes from `generated::SYSTEM`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(target_os = "none"), allow(dead_code))]
#![deny(unsafe_op_in_unsafe_fn)]

/// The image's modules, bottom to top: a module uses only modules above it in this list,
/// so there are no import circles (`cargo xtask test` checks it: xtask's `layers` test).
/// One module per paragraph, so that rustfmt keeps the order.
///
/// Host test builds compile it too, against hv-arch's simulated machine and the tables of
/// `hv/host/system.toml` (see build.rs); `host_tests` runs the run loop there.
#[cfg(any(target_os = "none", test))]
mod image {
    // Generated tables and leaf utilities.
    pub mod generated;

    pub mod placement;

    pub mod uart;

    pub mod sync;

    pub mod linebuf;

    pub mod textout;

    // Run-time state, the decisions handlers return, telemetry and the log.
    pub mod state;

    pub mod decision;

    pub mod telemetry;

    pub mod log;

    pub mod fault;

    // The extension seam: what extensions see, the extensions, the core's calls to them.
    pub mod api;

    #[cfg(feature = "lwvm")]
    pub mod lwvm;

    #[cfg(feature = "balloon")]
    pub mod balloon;

    #[cfg(feature = "big-little")]
    pub mod biglittle;

    pub mod ext;

    // Shared models, kicks, the console, guest exceptions, the VMs' payloads and devices.
    pub mod vmshared;

    pub mod kick;

    pub mod console;

    pub mod inject;

    pub mod vmload;

    pub mod passthrough;

    // Handlers: emulated devices, interrupts, calls, system registers, reflection, and the
    // dispatch of a trap to them.
    pub mod mmio;

    pub mod irq;

    pub mod reflect;

    pub mod smccc;

    pub mod sysreg;

    pub mod exit;

    pub mod fast;

    // What a CPU holds and does: the world switch, VM life, the run loop, the services
    // extensions get, boot.
    pub mod world;

    pub mod vmctl;

    pub mod run;

    pub mod services;

    pub mod boot;

    // Host tests of the run loop on the simulated machine.
    #[cfg(test)]
    pub mod host_tests;
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the hypervisor image is built for aarch64 by `cargo xtask build`");
}
