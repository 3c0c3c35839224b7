//! Target-independent logic of the hypervisor.
//!
//! Everything here is plain Rust without `unsafe`, `asm!` or register access, so it is
//! unit-tested on the host. The arch crate (`hv-arch`) is glue that feeds this crate the
//! values it reads from the hardware and applies the decisions it returns.
#![no_std]
#![forbid(unsafe_code)]

pub mod sysdesc;
pub mod hypercall;
pub mod pl011;
pub mod psci;
pub mod smccc;
pub mod trap;
pub mod vgic;
