//! The system-call ABI of lightweight VMs (lwVMs).
//!
//! Why: an lwVM runs at EL0 of the hypervisor's EL2&0 regime; it has no kernel and no
//! GIC, so every service a full VM gets through hypercalls (signal another VM over a
//! configured channel, wait for an event, write to the console, mark a telemetry point,
//! end) it asks for with `SVC #0`, which traps straight to EL2 (ESR_EL2.EC = 0x15).
//! This crate is the one definition both sides use: the hypervisor (`hv-lwvm`) decodes
//! with [`Syscall::decode`], the SDK (`lwvm-sdk`) encodes with [`nr`].
//!
//! Register convention (like Linux on arm64): `svc #0`, call number in x8, arguments in
//! x0..x5, result in x0 (≥ 0 success, < 0 one of [`err`], the same codes as the
//! hypercall ABI), further results in x1..x3. Other registers are preserved. An SVC with
//! a nonzero immediate returns [`err::NOT_SUPPORTED`].
//!
//! Events: an lwVM has no interrupt controller. A channel raised into it sets bit *c* of
//! its event word, *c* being the channel's index in the system description (channels
//! into lwVMs are among the first 64). [`nr::WAIT`] returns the pending bits and clears
//! them; if none is pending the lwVM blocks (other VMs run) until one arrives.
#![no_std]
#![forbid(unsafe_code)]

/// Call numbers (x8).
pub mod nr {
    /// End the lwVM: x0 = exit code (logged). Does not return.
    pub const EXIT: u64 = 0;
    /// Write x1 bytes at VA x0 (inside the lwVM's memory) to its console; returns the
    /// number of bytes written (at most [`super::WRITE_MAX`]).
    pub const WRITE: u64 = 1;
    /// Raise channel x0 (the caller must be its sender); returns 0.
    pub const RAISE: u64 = 2;
    /// Block until at least one event is pending; returns the event mask and clears it.
    pub const WAIT: u64 = 3;
    /// Like [`WAIT`] but never blocks: returns the pending mask (maybe 0) and clears it.
    pub const POLL: u64 = 4;
    /// Telemetry marker: id x0 (16 bits), value x1.
    pub const MARKER: u64 = 5;
    /// Who am I: x0 = index in the system's VM table, x1 = memory VA, x2 = memory size,
    /// x3 = how many times the hypervisor restarted this lwVM after a fault.
    pub const INFO: u64 = 6;
    /// My channels: x0 = mask of the channels I may raise, x1 = mask of the channels
    /// that raise my events (bit c = channel index c; channels 0..64).
    pub const CHANNELS: u64 = 7;
    /// Shadow paging (`paging = "shadow"`): register the handler of this lwVM's own page
    /// faults at VA x0 (0: none — a fault then stops or restarts the lwVM as any
    /// other). On a fault its own tables cause, the hypervisor enters the handler with
    /// x0 = faulting VA, x1 = [`fault`] syndrome, x2 = PC of the faulting instruction;
    /// every other register (SP and x30 included) is as it was at the fault. Returns 0,
    /// or `NOT_SUPPORTED` for an lwVM with static tables.
    pub const FAULT_HANDLER: u64 = 8;
}

/// The syndrome a shadow-paged lwVM's fault handler gets in x1: the architectural fault
/// status code of the fault its own tables caused, as a kernel would find it in ESR_EL1.
pub mod fault {
    /// Fault status code (DFSC/IFSC, ESR bits \[5:0\]): 0b0001LL translation, 0b0010LL
    /// access flag, 0b0011LL permission at level LL, 0b0101LL external abort on the table
    /// walk (a table outside the lwVM's memory), 0b010000 external abort (an output
    /// address outside what the lwVM was given).
    pub const FSC_MASK: u64 = 0x3f;
    /// Set for a write (ESR WnR).
    pub const WRITE: u64 = 1 << 6;
    /// Set for an instruction fetch.
    pub const EXEC: u64 = 1 << 32;
    /// Translation fault (any level) — compare `fsc & !3`.
    pub const TRANSLATION: u64 = 0b00_0100;
    /// Access-flag fault.
    pub const ACCESS_FLAG: u64 = 0b00_1000;
    /// Permission fault.
    pub const PERMISSION: u64 = 0b00_1100;
    /// External abort on a table walk.
    pub const WALK_EXTERNAL: u64 = 0b01_0100;
    /// External abort (outside the grant).
    pub const EXTERNAL: u64 = 0b01_0000;
}

/// Error codes returned in x0 (the hypercall ABI's).
pub mod err {
    /// Unknown call.
    pub const NOT_SUPPORTED: i64 = -1;
    /// A parameter is malformed.
    pub const INVALID: i64 = -2;
    /// The caller may not do this (not the sender of that channel, no console).
    pub const DENIED: i64 = -3;
    /// A buffer is not inside the caller's memory.
    pub const INVALID_ADDRESS: i64 = -4;
}

/// Largest console write served in one call; longer ones are cut (the call returns the
/// count written, like `write(2)`).
pub const WRITE_MAX: u64 = 256;

/// A decoded system call (shapes checked; rights and addresses not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// End with `code`.
    Exit {
        /// Exit code.
        code: u64,
    },
    /// Console write of `len` bytes at `va` (an allegation: check it).
    Write {
        /// Buffer address in the lwVM.
        va: u64,
        /// Length, already cut to [`WRITE_MAX`].
        len: u64,
    },
    /// Raise a channel.
    Raise {
        /// Channel index.
        channel: u16,
    },
    /// Block for events.
    Wait,
    /// Take events without blocking.
    Poll,
    /// Telemetry marker.
    Marker {
        /// Marker id.
        id: u16,
        /// Value.
        value: u64,
    },
    /// Identity and memory.
    Info,
    /// Channel masks.
    Channels,
    /// Register the page-fault handler (0: none).
    FaultHandler {
        /// Handler VA.
        va: u64,
    },
}

impl Syscall {
    /// Decodes call `nr` (x8) with arguments x0..x5 of an `SVC #imm`. `Err` is the x0
    /// reply.
    pub fn decode(imm: u16, nr: u64, a: [u64; 6]) -> Result<Syscall, i64> {
        if imm != 0 {
            return Err(err::NOT_SUPPORTED);
        }
        Ok(match nr {
            nr::EXIT => Syscall::Exit { code: a[0] },
            nr::WRITE => Syscall::Write {
                va: a[0],
                len: a[1].min(WRITE_MAX),
            },
            nr::RAISE => Syscall::Raise {
                channel: u16::try_from(a[0]).map_err(|_| err::INVALID)?,
            },
            nr::WAIT => Syscall::Wait,
            nr::POLL => Syscall::Poll,
            nr::MARKER => Syscall::Marker {
                id: u16::try_from(a[0]).map_err(|_| err::INVALID)?,
                value: a[1],
            },
            nr::INFO => Syscall::Info,
            nr::CHANNELS => Syscall::Channels,
            nr::FAULT_HANDLER => Syscall::FaultHandler { va: a[0] },
            _ => return Err(err::NOT_SUPPORTED),
        })
    }
}

/// Bit of the event mask for channel `c` (0 for channels beyond 63).
pub const fn event_bit(c: usize) -> u64 {
    if c < 64 { 1 << c } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_call() {
        let a = [1, 2, 3, 4, 5, 6];
        assert_eq!(
            Syscall::decode(0, nr::EXIT, a),
            Ok(Syscall::Exit { code: 1 })
        );
        assert_eq!(
            Syscall::decode(0, nr::WRITE, a),
            Ok(Syscall::Write { va: 1, len: 2 })
        );
        assert_eq!(
            Syscall::decode(0, nr::RAISE, a),
            Ok(Syscall::Raise { channel: 1 })
        );
        assert_eq!(Syscall::decode(0, nr::WAIT, a), Ok(Syscall::Wait));
        assert_eq!(Syscall::decode(0, nr::POLL, a), Ok(Syscall::Poll));
        assert_eq!(
            Syscall::decode(0, nr::MARKER, a),
            Ok(Syscall::Marker { id: 1, value: 2 })
        );
        assert_eq!(Syscall::decode(0, nr::INFO, a), Ok(Syscall::Info));
        assert_eq!(Syscall::decode(0, nr::CHANNELS, a), Ok(Syscall::Channels));
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(
            Syscall::decode(1, nr::WAIT, [0; 6]),
            Err(err::NOT_SUPPORTED)
        );
        assert_eq!(Syscall::decode(0, 99, [0; 6]), Err(err::NOT_SUPPORTED));
        assert_eq!(
            Syscall::decode(0, nr::RAISE, [1 << 16, 0, 0, 0, 0, 0]),
            Err(err::INVALID)
        );
        assert_eq!(
            Syscall::decode(0, nr::MARKER, [1 << 16, 0, 0, 0, 0, 0]),
            Err(err::INVALID)
        );
        assert_eq!(
            Syscall::decode(0, nr::WRITE, [0, 10_000, 0, 0, 0, 0]),
            Ok(Syscall::Write {
                va: 0,
                len: WRITE_MAX
            })
        );
    }

    #[test]
    fn event_bits() {
        assert_eq!(event_bit(0), 1);
        assert_eq!(event_bit(63), 1 << 63);
        assert_eq!(event_bit(64), 0);
    }
}
