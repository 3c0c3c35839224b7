//! SDK for lightweight-VM (lwVM) programs.
//!
//! An lwVM is a `no_std` Rust program without a kernel: the hypervisor runs it at EL0 in
//! its own address space and serves it through system calls. A program:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use lwvm_sdk::{println, sys, Boot};
//!
//! fn main(boot: Boot) {
//!     println!("hello from an lwVM (restarted {} times)", boot.restarts);
//!     let events = sys::wait();          // block until a channel raises us
//!     sys::raise(1);                     // signal the VM on our channel 1
//! }
//! lwvm_sdk::entry!(main);
//! ```
//!
//! Its crate's build script adds `cargo:rustc-link-arg-bins=-Tlwvm.ld` (the SDK puts the
//! script on the linker path): the program is linked at the lwVM window
//! (VA 0x40_0000_0000); the hypervisor loads it, zeroes the rest of its memory, puts the
//! stack at the top and enters [`entry!`]'s function. When it returns, the lwVM exits
//! with code 0.
//!
//! Modules: [`sys`] (the system calls, see `lwvm-abi` for the ABI), [`console`]
//! (`print!`/`println!`/`result!`), [`shm`] (shared regions), [`time`] (the counter),
//! [`probe`] (forbidden instructions, for attacker tests), [`mmu`] (shadow paging: the
//! program's own stage-1 tables, TLB maintenance and fault-surviving probes).
#![cfg_attr(target_os = "none", no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub use lwvm_abi as abi;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod arch;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod console;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod mmu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod probe;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod shm;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod sys;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod time;

/// What the hypervisor tells a program at entry.
#[derive(Debug, Clone, Copy)]
pub struct Boot {
    /// How many times the hypervisor restarted this lwVM after a fault (its `restart =
    /// "restart"` policy); 0 at the first start. The only state that survives a restart.
    pub restarts: u64,
    /// The lwVM's index in the system's VM table (what channels name it by).
    pub index: u64,
    /// Every FP/SIMD register (and FPSR/FPCR) read zero at entry: the hypervisor gave the
    /// program a fresh FP state, not what another VM left in the CPU.
    pub fp_clean: bool,
}

/// Declares the program's `fn main(boot: Boot)`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        fn __lwvm_main(boot: $crate::Boot) {
            let f: fn($crate::Boot) = $main;
            f(boot)
        }
    };
}

/// A number given at build time (`option_env!`, e.g. a probe's `PROBE_ITERS`): its
/// decimal value, or `default` when it is absent, empty or not a number. `const`, so a
/// program can size its static buffers with it.
pub const fn build_number(s: Option<&str>, default: usize) -> usize {
    let Some(s) = s else { return default };
    let b = s.as_bytes();
    let mut n = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i] < b'0' || b[i] > b'9' {
            return default;
        }
        n = n * 10 + (b[i] - b'0') as usize;
        i += 1;
    }
    if b.is_empty() { default } else { n }
}
