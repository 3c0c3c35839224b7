//! The fake device `reflect-driver` emulates for `reflect-client` (4K at IPA
//! 0x1000_0000 in the client; every access is reflected to the driver).
//!
//! | offset | size | register |
//! |---|---|---|
//! | 0x00 | 32 (byte reads too) | ID, read-only: [`ID`] |
//! | 0x04 | 32 | COUNTER: each read returns 0, 1, 2, … |
//! | 0x08 | 32 | SCRATCH32, read-write |
//! | 0x10 | 64 | SCRATCH64, read-write |
//! | 0x20 | 32 | DONE: a write ends the test |
//! | other | — | the driver answers InjectAbort (synchronous external abort) |
#![no_std]

/// IPA of the device in the client.
pub const DEVICE: usize = 0x1000_0000;
/// ID register value ("RFLT").
pub const ID: u32 = 0x5246_4c54;
/// Register offsets.
pub const REG_ID: u64 = 0x00;
/// COUNTER.
pub const REG_COUNTER: u64 = 0x04;
/// SCRATCH32.
pub const REG_SCRATCH32: u64 = 0x08;
/// SCRATCH64.
pub const REG_SCRATCH64: u64 = 0x10;
/// DONE.
pub const REG_DONE: u64 = 0x20;
/// An offset nothing is behind.
pub const REG_NONE: u64 = 0x800;
