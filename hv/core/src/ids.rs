//! Typed ids of the run time: a vCPU, a VM and a physical CPU are different things, and a
//! bare `usize` lets one be passed for another. Each id is a position in the matching slice
//! of [`SystemDesc`](crate::sysdesc::SystemDesc) (the descriptor itself stores the raw
//! `u16`, as the toolkit emits it); the accessors there turn raw fields into ids.
use crate::sysdesc::{CpuIndex, VcpuIndex, VmIndex};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $raw:ty, $tag:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub struct $name($raw);

        impl $name {
            /// The id of position `raw` in the descriptor's slice.
            #[inline(always)]
            pub const fn new(raw: $raw) -> Self {
                $name(raw)
            }
            /// The raw value, as the descriptor and the telemetry stream carry it.
            #[inline(always)]
            pub const fn raw(self) -> $raw {
                self.0
            }
            /// The position in the descriptor's slice (and in per-id run-time arrays).
            #[inline(always)]
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!($tag, "{}"), self.0)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!($tag, "{}"), self.0)
            }
        }
    };
}

id!(
    /// A vCPU: a position in `SystemDesc::vcpus` (also the slot of an lwVM's context).
    VcpuId,
    VcpuIndex,
    "vcpu"
);
id!(
    /// A VM: a position in `SystemDesc::vms` (not its VMID, which is `VmDesc::vmid`).
    VmId,
    VmIndex,
    "vm"
);
id!(
    /// A physical CPU: a position in `SystemDesc::cpus` (not its MPIDR).
    CpuId,
    CpuIndex,
    "cpu"
);

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn ids_keep_their_position_and_name_their_kind() {
        let v = VcpuId::new(3);
        assert_eq!((v.raw(), v.index()), (3, 3));
        assert_eq!(
            format!("{v} {:?} {}", VmId::new(1), CpuId::new(0)),
            "vcpu3 vm1 cpu0"
        );
    }
}
