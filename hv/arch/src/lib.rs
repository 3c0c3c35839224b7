//! aarch64 glue of the hypervisor.
//!
//! Every `asm!`, `global_asm!` and raw system-register access of the hypervisor lives in
//! this crate; the image crate (`hv`) and the portable logic (`hv-core`) call the safe
//! functions it exports. On a host build the crate compiles to nothing, so that
//! `cargo test` of the workspace keeps working.
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(target_arch = "aarch64")]
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
    pub mod regs;
    pub mod timer;
    pub mod uart;
    pub mod vectors;
    #[cfg(feature = "vhe")]
    pub mod vhe;
}
#[cfg(target_arch = "aarch64")]
pub use imp::*;
