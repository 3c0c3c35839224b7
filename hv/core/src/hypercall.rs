//! The project's hypercall ABI: SMCCC fast calls in the "Vendor Specific Hypervisor
//! Service" range (owning entity 6), and the checks on guest-supplied addresses.
//!
//! Why: the few services a static hypervisor offers (signal another VM over a configured
//! vIRQ channel, wait for an event, write to the console, mark a telemetry point, take
//! part in fault reflection, ask who it is) need one stable register ABI that guests can
//! use through `hvc #0` with the SMCCC register conventions. Spec: Arm DEN 0028 (SMCCC)
//! "Function Identifier" (owner 6 = vendor-specific hypervisor service) and the
//! generic queries each owner offers (0xFF00 call count, 0xFF01 UID, 0xFF03 revision).
//!
//! ABI: function ID `0xC600_00nn` (fast, SMC64). Arguments in x1..x5, result in x0
//! (≥ 0 success, < 0 one of [`err`]), extra results in x1..x3. The SMC32 form
//! `0x8600_00nn` is accepted too, with 32-bit arguments. The generic queries
//! (`0x8600_FF00/01/03`) exist in their SMC32 form only, as SMCCC defines them.
//!
//! Invariant: an address or length that comes from a guest is a [`GuestRange`] — an
//! allegation. Only [`GuestRange::check`] turns it into a [`CheckedRange`] (the only type
//! that yields an offset into the VM's memory), so no code can use a guest pointer that
//! was not checked against the VM's own regions.

use crate::ids::VmId;
use crate::smccc::{FunctionId, owner};

/// Error codes returned in x0.
pub mod err {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Unknown function.
    pub const NOT_SUPPORTED: i64 = -1;
    /// A parameter is malformed (reserved bits set, value out of range).
    pub const INVALID: i64 = -2;
    /// The caller may not do this (e.g. not the sender of that channel).
    pub const DENIED: i64 = -3;
    /// A guest address range is not inside the caller's memory.
    pub const INVALID_ADDRESS: i64 = -4;
    /// Nothing to return (e.g. no fault pending).
    pub const NO_ENTRY: i64 = -5;
    /// Try again later.
    pub const BUSY: i64 = -6;
    /// Not enough memory to give (an elastic pool has too few free blocks).
    pub const NO_MEMORY: i64 = -7;
}

/// Function IDs (SMC64 form).
pub mod fid {
    /// Base of the project's calls.
    pub const BASE: u32 = 0xC600_0000;
    /// Raise the vIRQ of channel x1 in its receiving VM.
    pub const VIRQ_RAISE: u32 = BASE | 0x01;
    /// Block the calling vCPU until an interrupt or event arrives.
    pub const WAIT_EVENT: u32 = BASE | 0x02;
    /// Write x2 bytes at IPA x1 to the VM's console; returns bytes written.
    pub const CONSOLE_WRITE: u32 = BASE | 0x03;
    /// Telemetry marker: id x1 (32 bits), value x2.
    pub const TELEMETRY_MARKER: u32 = BASE | 0x04;
    /// Fetch the oldest pending reflected fault: x0 = token (> 0), x1 = faulting IPA,
    /// x2 = access size in bytes | 0x100 if a write, x3 = the value written (writes).
    pub const FAULT_FETCH: u32 = BASE | 0x05;
    /// Complete reflected fault x1 (its token) with action x2 ([`FaultAction`]); for a
    /// read completed with `Skip`, x3 is the value the faulting load returns.
    pub const FAULT_COMPLETE: u32 = BASE | 0x06;
    /// Get VM info: x0 = VM index, x1 = vCPU index, x2 = RAM IPA, x3 = RAM size.
    pub const VM_INFO: u32 = BASE | 0x07;
    /// State of VM x1 (its index): 0 = running, 1 = off. Only for a VM the caller shares
    /// a vIRQ channel with (either direction); others get DENIED.
    pub const VM_STATE: u32 = BASE | 0x08;
    /// Elastic pool x1: x0 = blocks the caller holds, x1 = blocks in the pool, x2 = bytes
    /// per block, x3 = the pool's window IPA in the caller (feature `balloon`).
    pub const BALLOON_INFO: u32 = BASE | 0x10;
    /// Elastic pool x1: x0 = blocks the caller is asked to release now, x1 = blocks it
    /// holds, x2 = free blocks, x3 = blocks asked for and not yet served.
    pub const BALLOON_STATUS: u32 = BASE | 0x11;
    /// Elastic pool x1: the caller asks for x2 more blocks. x0 = 0 granted (mapped when
    /// the call returns), 1 passed to the pool's manager.
    pub const BALLOON_ACQUIRE: u32 = BASE | 0x12;
    /// Elastic pool x1: the caller gives back its highest x2 window blocks (scrubbed,
    /// unmapped when the call returns). x0 = 0, x1 = blocks it still holds.
    pub const BALLOON_RELEASE: u32 = BASE | 0x13;
    /// Elastic pool x1, manager only: move x3 blocks to holder VM x2 (its index). x0 = 0
    /// done, 1 asked of the other holder (the receiver is notified when it is done).
    pub const BALLOON_MOVE: u32 = BASE | 0x14;
    /// big.LITTLE (feature `big-little`): the calling vCPU's hint, x1 = 1 "needs
    /// performance" (a bigger core), 0 "can slow down" (a smaller one). x0 = 1 when it
    /// moves (at once: the call returns on the new CPU), 0 when it is already there.
    pub const BL_HINT: u32 = BASE | 0x20;
    /// big.LITTLE: where the calling vCPU runs: x0 = physical CPU index, x1 = its
    /// cluster, x2 = the cluster's capacity, x3 = how many times the vCPU moved.
    pub const BL_WHERE: u32 = BASE | 0x21;
    /// big.LITTLE: the energy model of the core the calling vCPU runs on (the board's
    /// `power` of its cluster): x0 = milliwatts running, x1 = milliwatts idle, x2 = the
    /// cluster's capacity. For experiments that estimate energy.
    pub const BL_POWER: u32 = BASE | 0x22;
    /// Number of functions implemented in this range (SMCCC generic query).
    pub const CALL_COUNT: u32 = 0x8600_FF00;
    /// UID of the service (SMCCC generic query), in w0..w3.
    pub const CALL_UID: u32 = 0x8600_FF01;
    /// Revision of the ABI (SMCCC generic query): x0 major, x1 minor.
    pub const REVISION: u32 = 0x8600_FF03;
}

/// The UID of this hypervisor's service (returned in w0..w3 by CALL_UID).
pub const CALL_UID: [u32; 4] = [0x7068_6964, 0x6961_732d, 0x6876_2d63, 0x616c_6c73];
/// ABI revision: major, minor.
pub const REVISION: (u64, u64) = (1, 0);
/// Largest console write served in one call; longer writes are cut (the call returns the
/// count written, like `write(2)`), so one hypercall stays short.
pub const CONSOLE_WRITE_MAX: u64 = 256;

/// A guest-supplied memory range, not yet checked: an allegation, not a pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestRange {
    ipa: u64,
    len: u64,
}

/// A range that lies wholly inside one region of the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedRange {
    ipa: u64,
    len: u64,
    offset: u64,
}

impl GuestRange {
    /// Records what the guest claims.
    pub const fn new(ipa: u64, len: u64) -> Self {
        GuestRange { ipa, len }
    }

    /// The claimed length (harmless to read: no memory is reached through it).
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Whether the claimed length is zero.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks the range against the region `[base, base + size)`; an empty range must
    /// still start inside (or at the end of) the region.
    pub const fn check(self, base: u64, size: u64) -> Result<CheckedRange, i64> {
        let Some(end) = self.ipa.checked_add(self.len) else {
            return Err(err::INVALID_ADDRESS);
        };
        let Some(region_end) = base.checked_add(size) else {
            return Err(err::INVALID_ADDRESS);
        };
        if self.ipa < base || end > region_end {
            return Err(err::INVALID_ADDRESS);
        }
        Ok(CheckedRange {
            ipa: self.ipa,
            len: self.len,
            offset: self.ipa - base,
        })
    }

    /// Checks the range against several regions `(base, size)`; it must lie inside one.
    /// Returns the index of that region with the checked range.
    pub fn check_any(self, regions: &[(u64, u64)]) -> Result<(usize, CheckedRange), i64> {
        regions
            .iter()
            .enumerate()
            .find_map(|(i, &(b, s))| self.check(b, s).ok().map(|c| (i, c)))
            .ok_or(err::INVALID_ADDRESS)
    }

    /// The same allegation, cut to at most `max` bytes.
    pub const fn truncated(self, max: u64) -> Self {
        GuestRange {
            ipa: self.ipa,
            len: if self.len > max { max } else { self.len },
        }
    }
}

impl CheckedRange {
    /// Guest-physical start.
    pub const fn ipa(&self) -> u64 {
        self.ipa
    }
    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        self.len
    }
    /// Whether the range is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Offset of the start from the region's base (add the region's PA to reach it).
    pub const fn offset(&self) -> u64 {
        self.offset
    }
}

/// What a supervisor asks to be done with a reflected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Resume the faulting vCPU at the faulting instruction (the cause was fixed).
    Retry = 0,
    /// Resume it after the faulting instruction (the access was emulated).
    Skip = 1,
    /// Inject a synchronous external abort into it.
    InjectAbort = 2,
    /// Stop its VM.
    Stop = 3,
}

/// A decoded hypercall (argument shapes validated; permissions and addresses not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hypercall {
    /// Raise the vIRQ of channel `channel` (index in the system's channel table).
    VirqRaise {
        /// Channel index.
        channel: u16,
    },
    /// Wait for an interrupt or event.
    WaitEvent,
    /// Console write of the bytes at `buf`.
    ConsoleWrite {
        /// The guest's buffer, cut to [`CONSOLE_WRITE_MAX`]; check before use.
        buf: GuestRange,
    },
    /// A telemetry marker.
    TelemetryMarker {
        /// Marker id.
        id: u32,
        /// Marker value.
        value: u64,
    },
    /// Fetch the oldest pending reflected fault.
    FaultFetch,
    /// Complete a reflected fault.
    FaultComplete {
        /// The token FAULT_FETCH returned.
        token: u64,
        /// What to do.
        action: FaultAction,
    },
    /// Ask for the VM's identity and memory.
    VmInfo,
    /// Ask whether VM `vm` runs.
    VmState {
        /// VM index.
        vm: u16,
    },
    /// SMCCC generic query: number of calls.
    CallCount,
    /// SMCCC generic query: service UID.
    CallUid,
    /// SMCCC generic query: ABI revision.
    Revision,
}

impl Hypercall {
    /// Whether x0 is in this service's range (owner 6, fast call).
    pub const fn is_hypercall(x0: u64) -> bool {
        let f = FunctionId::from_x0(x0);
        f.is_fast() && f.owner() == owner::VENDOR_HYP
    }

    /// Decodes a call from x0..x5. `Err` carries the x0 reply (`NOT_SUPPORTED` for an
    /// unknown ID, `INVALID` for a malformed argument).
    #[inline]
    pub fn decode(x: [u64; 6]) -> Result<Hypercall, i64> {
        let f = FunctionId::from_x0(x[0]);
        if !Self::is_hypercall(x[0]) {
            return Err(err::NOT_SUPPORTED);
        }
        // The generic queries are SMC32 calls only (DEN 0028, "Call Count", "Call UID",
        // "Revision"): their SMC64 encodings are unknown function IDs.
        match f.0 {
            fid::CALL_COUNT => return Ok(Hypercall::CallCount),
            fid::CALL_UID => return Ok(Hypercall::CallUid),
            fid::REVISION => return Ok(Hypercall::Revision),
            _ => {}
        }
        let a = |i: usize| f.arg(x[i]);
        Ok(match f.0 | (1 << 30) {
            fid::VIRQ_RAISE => {
                let channel = u16::try_from(a(1)).map_err(|_| err::INVALID)?;
                Hypercall::VirqRaise { channel }
            }
            fid::WAIT_EVENT => Hypercall::WaitEvent,
            fid::CONSOLE_WRITE => Hypercall::ConsoleWrite {
                buf: GuestRange::new(a(1), a(2)).truncated(CONSOLE_WRITE_MAX),
            },
            fid::TELEMETRY_MARKER => Hypercall::TelemetryMarker {
                id: u32::try_from(a(1)).map_err(|_| err::INVALID)?,
                value: a(2),
            },
            fid::FAULT_FETCH => Hypercall::FaultFetch,
            fid::FAULT_COMPLETE => Hypercall::FaultComplete {
                token: a(1),
                action: match a(2) {
                    0 => FaultAction::Retry,
                    1 => FaultAction::Skip,
                    2 => FaultAction::InjectAbort,
                    3 => FaultAction::Stop,
                    _ => return Err(err::INVALID),
                },
            },
            fid::VM_INFO => Hypercall::VmInfo,
            fid::VM_STATE => Hypercall::VmState {
                vm: u16::try_from(a(1)).map_err(|_| err::INVALID)?,
            },
            _ => return Err(err::NOT_SUPPORTED),
        })
    }
}

/// Number of the core's functions (for CALL_COUNT; an image adds its extensions',
/// `Extension::CALLS`).
pub const CALL_COUNT: i64 = 8;

/// Whether `id` is implemented (for SMCCC_ARCH_FEATURES).
pub fn implemented(id: u32) -> bool {
    Hypercall::is_hypercall(id as u64) && Hypercall::decode([id as u64, 0, 0, 0, 0, 0]).is_ok()
}

/// Whether `caller` may observe VM `vm` (VM_STATE): itself, or one of its `peers` — the
/// VMs it shares a channel with in either direction, ascending, as the toolkit emits
/// them ([`crate::sysdesc::VmDesc::peers`]).
pub fn may_observe(peers: &[VmId], caller: VmId, vm: VmId) -> bool {
    caller == vm || peers.binary_search(&vm).is_ok()
}

/// Resolves a channel for a VIRQ_RAISE: the channel must exist and `caller` must be its
/// sender. Returns the receiving VM and the INTID to raise there.
pub fn resolve_channel(
    channels: &[crate::sysdesc::ChannelDesc],
    caller: VmId,
    channel: u16,
) -> Result<(VmId, u32), i64> {
    let c = channels.get(channel as usize).ok_or(err::INVALID)?;
    if c.from != caller.raw() {
        return Err(err::DENIED);
    }
    Ok(c.target())
}

#[cfg(test)]
mod tests;
