//! The system calls (ABI: `lwvm-abi`). Results below 0 are `abi::err` codes.
use lwvm_abi::nr;

use crate::arch::svc;

/// Ends the lwVM with `code` (the hypervisor logs it).
pub fn exit(code: u64) -> ! {
    svc(nr::EXIT, [code, 0, 0, 0, 0, 0]);
    // The hypervisor never resumes an exited lwVM.
    loop {
        core::hint::spin_loop();
    }
}

/// Writes `bytes` to the console (at most `abi::WRITE_MAX` per call); returns the count
/// written or an error.
pub fn write(bytes: &[u8]) -> i64 {
    svc(
        nr::WRITE,
        [bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0, 0],
    )[0] as i64
}

/// Raw form of [`write`], for probing the hypervisor's checks with any address.
pub fn write_raw(va: u64, len: u64) -> i64 {
    svc(nr::WRITE, [va, len, 0, 0, 0, 0])[0] as i64
}

/// Raises channel `channel` (this lwVM must be its sender).
pub fn raise(channel: u64) -> i64 {
    svc(nr::RAISE, [channel, 0, 0, 0, 0, 0])[0] as i64
}

/// Blocks until at least one event is pending; returns the mask of pending events (bit
/// c = channel c raised us) and clears it.
pub fn wait() -> u64 {
    svc(nr::WAIT, [0; 6])[0]
}

/// The pending events (maybe none), cleared; never blocks.
pub fn poll() -> u64 {
    svc(nr::POLL, [0; 6])[0]
}

/// A telemetry marker.
pub fn marker(id: u16, value: u64) -> i64 {
    svc(nr::MARKER, [id as u64, value, 0, 0, 0, 0])[0] as i64
}

/// Identity and memory of this lwVM.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// Index in the system's VM table.
    pub index: u64,
    /// Virtual address of its memory.
    pub mem_va: u64,
    /// Bytes of memory.
    pub mem_size: u64,
    /// Restarts after faults so far.
    pub restarts: u64,
}

/// Asks who this lwVM is.
pub fn info() -> Info {
    let r = svc(nr::INFO, [0; 6]);
    Info {
        index: r[0],
        mem_va: r[1],
        mem_size: r[2],
        restarts: r[3],
    }
}

/// Channels of this lwVM: (mask it may raise, mask that raises its events).
pub fn channels() -> (u64, u64) {
    let r = svc(nr::CHANNELS, [0; 6]);
    (r[0], r[1])
}

/// Shadow paging: makes `va` the handler of the faults this lwVM's own tables cause (0:
/// none). Returns 0, or `NOT_SUPPORTED` for an lwVM with static tables. See
/// [`crate::mmu::probe`] for a handler and what the hypervisor passes it.
pub fn fault_handler(va: u64) -> i64 {
    svc(nr::FAULT_HANDLER, [va, 0, 0, 0, 0, 0])[0] as i64
}

/// Any call by number (for probing).
pub fn raw(nr: u64, args: [u64; 6]) -> [u64; 4] {
    svc(nr, args)
}
