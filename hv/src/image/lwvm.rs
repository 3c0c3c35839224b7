//! Lightweight VMs in the image (feature `lwvm`; code of the extension in `lwvm/`).
//!
//! An extension on the core's seam ([`super::ext`]): [`Lwvm`] claims the
//! [`SYSTEM.vms`](super::generated::SYSTEM) entries with `lwvm: Some(..)`, whose one
//! execution context is a vCPU slot of its CPU's schedule; the run loop hands such a slot
//! to the extension, which enters it at EL0 through `hv_lwvm` instead of the full-VM path
//! and serves its system calls and faults. A channel raised into an lwVM posts a bit of its
//! event word instead of a virtual interrupt. With the feature off this module is not
//! compiled and the image's extension slot is `()`.
mod enabled;
pub use enabled::Lwvm;
