//! What an extension of this image sees of the core: the [`Hv`] handle (its `Core`
//! implementation is in `services`, the top of the image, so that this module — which
//! extensions import — imports none of the core's layers) and the types of its state.

/// The core's services for extensions.
pub struct Hv;

#[cfg_attr(not(feature = "lwvm"), allow(unused_imports))]
pub use super::state::{MAX_VMS, Power, Vcpu};

/// Where a vCPU runs now (an extension that moves vCPUs asks which one a CPU holds).
#[cfg_attr(not(feature = "big-little"), allow(unused_imports))]
pub use super::placement::cpu_of;
#[cfg(feature = "big-little")]
pub use super::placement::migration;
