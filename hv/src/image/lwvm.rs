//! Lightweight VMs in the image (feature `lwvm`; code of the extension in `lwvm/`).
//!
//! The run loop, the interrupt plumbing and the VM life cycle call the hooks below; with
//! the feature off they are constant-false or empty inline functions, so the image is as
//! before. With it on, an lwVM is a [`SYSTEM.vms`](super::generated::SYSTEM) entry with
//! `lwvm: Some(..)` whose one execution context is a vCPU slot of its CPU's schedule:
//! [`run`] enters it at EL0 through `hv_lwvm` instead of the full-VM path, and serves
//! its system calls and faults. A channel raised into an lwVM posts a bit of its event
//! word ([`signal`]) instead of a virtual interrupt.
#[cfg(feature = "lwvm")]
mod enabled;
#[cfg(feature = "lwvm")]
pub use enabled::*;

#[cfg(not(feature = "lwvm"))]
mod disabled;
#[cfg(not(feature = "lwvm"))]
pub use disabled::*;
