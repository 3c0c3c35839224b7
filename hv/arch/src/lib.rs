//! aarch64 glue of the hypervisor.
//!
//! Every `asm!`, `global_asm!` and raw system-register access of the hypervisor lives in
//! this crate; the image crate (`hv`) and the portable logic (`hv-core`) call the safe
//! functions it exports. On the host (any target that is not `target_os = "none"`) the
//! same API is implemented in plain Rust against a simulated machine ([`fake`]), so that
//! the image's run loop and handlers build and run in host tests.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

mod state;

#[cfg(target_os = "none")]
mod imp {
    pub mod boot;
    pub mod cache;
    pub mod context;
    pub mod cpu;
    pub mod debug;
    pub mod el1;
    pub mod features;
    pub mod firmware;
    pub mod fpsimd;
    pub mod gic;
    pub mod mem;
    pub mod mmu;
    pub mod ns16550;
    pub mod pmu;
    pub mod regs;
    pub mod timer;
    pub mod uart;
    pub mod vectors;
    #[cfg(feature = "vhe")]
    pub mod vhe;
}
#[cfg(target_os = "none")]
pub use imp::*;

#[cfg(not(target_os = "none"))]
pub mod fake;
#[cfg(not(target_os = "none"))]
pub use fake::arch::*;
