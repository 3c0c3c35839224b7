//! Target-independent logic of the hypervisor.
//!
//! Everything here is plain Rust without `unsafe`, `asm!` or register access, so it is
//! unit-tested on the host. The arch crate (`hv-arch`) is glue that feeds this crate the
//! values it reads from the hardware and applies the decisions it returns.
//!
//! - [`sysdesc`]: the static system description (typed hand-off from `hv-config`);
//!   [`ids`]: the typed ids of its vCPUs, VMs and CPUs.
//! - [`trap`]: ESR_EL2/FAR_EL2/HPFAR_EL2 → [`trap::Trap`]; guest exception injection.
//! - [`smccc`], [`psci`], [`hypercall`]: the calls a guest makes with HVC/SMC.
//! - [`mmio`]: which emulated device a trapped access hits; [`pl011`]: the console UART.
//! - [`vgic`]: the virtual GICv3 (distributor, redistributors, SGIs, list registers).
//! - [`fast`]: which traps the exit fast path answers from the vector.
#![no_std]
#![forbid(unsafe_code)]

pub mod ext;
pub mod fast;
pub mod hypercall;
pub mod ids;
pub mod mmio;
pub mod pl011;
pub mod psci;
pub mod reflect;
pub mod schedule;
pub mod smccc;
pub mod sysdesc;
pub mod trap;
pub mod vgic;
