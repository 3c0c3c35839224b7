//! The host stand-in of the arch glue: the same public API as the aarch64 modules, in
//! plain Rust against a simulated machine, so that the image's run loop, exit dispatch and
//! handlers build and run in host tests (`cargo test -p hv`).
//!
//! The machine ([`Machine`]) belongs to the thread that [`install`]s it (one per test): a
//! counter that advances with every guest step and jumps to the next deadline when the
//! CPU waits for an interrupt, a GIC with a queue of pending physical INTIDs, an active
//! set and list registers, the guest and EL2 timers, a UART that records what is written,
//! sparse physical memory, and per-vCPU scripted guests that [`context::enter_guest`]
//! runs: a script reads and writes the vCPU's registers and returns its next exit
//! ([`GuestExit`]).
//!
//! Ending a test: the run loop never returns, so the machine ends it by unwinding with an
//! [`End`] payload — the firmware's SYSTEM_OFF or reset, a CPU waiting for an interrupt
//! that nothing will ever raise, a script with nothing left to do. [`run`] catches it.
//!
//! [`context::enter_guest`]: arch::context::enter_guest

mod machine;

pub mod arch;

pub use machine::{End, Guest, GuestExit, Machine, Script, done, install, run, with};

#[cfg(test)]
mod tests;
