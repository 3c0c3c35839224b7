//! Hypervisor-side support of lightweight VMs (lwVMs), the `lwvm` feature of `hv`.
//!
//! Concept: an lwVM is a small program without a kernel that the hypervisor runs at EL0
//! of its own EL2&0 translation regime (ARMv8.1 VHE: HCR_EL2.E2H=1, and TGE=1 while the
//! lwVM runs). Its exceptions — system calls (`SVC`), faults, physical interrupts — go
//! straight to EL2; it has its own pregenerated stage-1 tables (TTBR0_EL2, ASID-tagged)
//! and no stage 2. Switching between a full VM and an lwVM therefore touches neither the
//! full VM's EL1 system registers, nor its VMID/stage-2, timer or vGIC state: only the
//! general registers, SP_EL0/TPIDR_EL0 (shared EL0 registers), TTBR0_EL2 and HCR_EL2.
//!
//! - [`trap`]: what an exception from an lwVM means (host-tested);
//! - [`events`]: the event word channels raise into an lwVM (host-tested);
//! - `arch` (aarch64 only, re-exported at the root): the entry/exit path — all of this
//!   extension's asm.
//!
//! The system-call numbers live in `lwvm-abi`, shared with the SDK (`lwvm/sdk`).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod events;
pub mod trap;

pub use lwvm_abi as abi;

#[cfg(target_arch = "aarch64")]
mod arch;
#[cfg(target_arch = "aarch64")]
pub use arch::*;

/// PSTATE an lwVM runs with: EL0t, all interrupts unmasked (they are taken to EL2).
pub const SPSR_EL0T: u64 = 0;
