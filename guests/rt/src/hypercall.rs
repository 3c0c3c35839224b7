//! Wrappers for the hypervisor's hypercalls (SMCCC vendor-specific hypervisor service,
//! function IDs 0xC600_00nn, see hv/core/src/hypercall.rs). Results: x0 ≥ 0 success,
//! < 0 an error code of [`err`].
use crate::arch::hvc6;

/// Error codes returned in x0.
pub mod err {
    /// Unknown function.
    pub const NOT_SUPPORTED: i64 = -1;
    /// A parameter is malformed.
    pub const INVALID: i64 = -2;
    /// The caller may not do this.
    pub const DENIED: i64 = -3;
    /// A guest address range is not inside the caller's memory.
    pub const INVALID_ADDRESS: i64 = -4;
    /// Nothing to return (e.g. no fault pending).
    pub const NO_ENTRY: i64 = -5;
    /// Try again later.
    pub const BUSY: i64 = -6;
    /// Not enough free memory (an elastic pool).
    pub const NO_MEMORY: i64 = -7;
}

/// Function IDs (SMC64 form).
pub mod fid {
    /// Base of the project's calls.
    pub const BASE: u64 = 0xC600_0000;
    /// Raise the vIRQ of channel x1.
    pub const VIRQ_RAISE: u64 = BASE | 0x01;
    /// Block until an interrupt or event.
    pub const WAIT_EVENT: u64 = BASE | 0x02;
    /// Write x2 bytes at IPA x1 to the console.
    pub const CONSOLE_WRITE: u64 = BASE | 0x03;
    /// Telemetry marker (id x1, value x2).
    pub const TELEMETRY_MARKER: u64 = BASE | 0x04;
    /// Fetch the oldest reflected fault.
    pub const FAULT_FETCH: u64 = BASE | 0x05;
    /// Complete a reflected fault.
    pub const FAULT_COMPLETE: u64 = BASE | 0x06;
    /// VM identity and RAM.
    pub const VM_INFO: u64 = BASE | 0x07;
    /// State of another VM (x1 = its index): 0 running, 1 off.
    pub const VM_STATE: u64 = BASE | 0x08;
    /// Elastic pool x1: held, blocks, block size, window IPA.
    pub const BALLOON_INFO: u64 = BASE | 0x10;
    /// Elastic pool x1: asked, held, free, wanted.
    pub const BALLOON_STATUS: u64 = BASE | 0x11;
    /// Elastic pool x1: ask for x2 more blocks.
    pub const BALLOON_ACQUIRE: u64 = BASE | 0x12;
    /// Elastic pool x1: give back the highest x2 window blocks.
    pub const BALLOON_RELEASE: u64 = BASE | 0x13;
    /// Elastic pool x1 (manager): move x3 blocks to holder VM x2.
    pub const BALLOON_MOVE: u64 = BASE | 0x14;
    /// big.LITTLE: the calling vCPU's hint (x1 = 1 needs performance, 0 can slow down).
    pub const BL_HINT: u64 = BASE | 0x20;
    /// big.LITTLE: where the calling vCPU runs (CPU, cluster, capacity, moves).
    pub const BL_WHERE: u64 = BASE | 0x21;
    /// big.LITTLE: the energy model of the calling vCPU's core (busy mW, idle mW, capacity).
    pub const BL_POWER: u64 = BASE | 0x22;
}

/// The balloon client (hypervisor feature `balloon`): a VM's share of an elastic pool
/// (`[[elastic]]`). Its blocks are mapped at `ipa .. ipa + held * block_size`; blocks
/// it gets are zero; blocks it gives back are unmapped when the call returns (a later
/// access is an external abort). The pool's `intid` tells it it was asked to release
/// ([`status`]`.asked`) or was given blocks.
pub mod balloon {
    use super::{call, fid};

    /// BALLOON_INFO's answer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Info {
        /// Blocks the caller holds.
        pub held: u64,
        /// Blocks in the pool.
        pub blocks: u64,
        /// Bytes per block.
        pub block_size: u64,
        /// Guest-physical base of the pool's window.
        pub ipa: u64,
    }

    /// BALLOON_STATUS's answer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Status {
        /// Blocks the caller is asked to release now.
        pub asked: u64,
        /// Blocks it holds.
        pub held: u64,
        /// Free blocks.
        pub free: u64,
        /// Blocks asked for and not yet served.
        pub wanted: u64,
    }

    fn err(r: [u64; 4]) -> Result<[u64; 4], i64> {
        if (r[0] as i64) < 0 {
            Err(r[0] as i64)
        } else {
            Ok(r)
        }
    }

    /// The caller's view of pool `pool`.
    pub fn info(pool: u64) -> Result<Info, i64> {
        let r = err(call(fid::BALLOON_INFO, [pool, 0, 0, 0, 0]))?;
        Ok(Info {
            held: r[0],
            blocks: r[1],
            block_size: r[2],
            ipa: r[3],
        })
    }

    /// What pool `pool` asks of the caller.
    pub fn status(pool: u64) -> Result<Status, i64> {
        let r = err(call(fid::BALLOON_STATUS, [pool, 0, 0, 0, 0]))?;
        Ok(Status {
            asked: r[0],
            held: r[1],
            free: r[2],
            wanted: r[3],
        })
    }

    /// Asks for `k` more blocks: `Ok(false)` granted (mapped now), `Ok(true)` passed to
    /// the manager.
    pub fn acquire(pool: u64, k: u64) -> Result<bool, i64> {
        err(call(fid::BALLOON_ACQUIRE, [pool, k, 0, 0, 0])).map(|r| r[0] == 1)
    }

    /// Gives back the highest `k` window blocks; returns the blocks still held.
    pub fn release(pool: u64, k: u64) -> Result<u64, i64> {
        err(call(fid::BALLOON_RELEASE, [pool, k, 0, 0, 0])).map(|r| r[1])
    }

    /// Manager: moves `k` blocks to holder VM `to`: `Ok(false)` done, `Ok(true)` asked
    /// of the other holder (the receiver is notified when it has them).
    pub fn move_to(pool: u64, to: u64, k: u64) -> Result<bool, i64> {
        err(call(fid::BALLOON_MOVE, [pool, to, k, 0, 0])).map(|r| r[0] == 1)
    }
}

/// big.LITTLE switching (feature `big-little`): hints and where a vCPU runs.
pub mod big_little {
    use super::{call, fid};

    /// Where the calling vCPU runs (BL_WHERE).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Where {
        /// Physical CPU index.
        pub cpu: u64,
        /// Its cluster.
        pub cluster: u64,
        /// The cluster's capacity (1024: the biggest).
        pub capacity: u64,
        /// How many times this vCPU moved.
        pub moves: u64,
    }

    /// BL_HINT: `true` needs performance, `false` can slow down. `Ok(true)` when it moved
    /// (the call returned on the new CPU), `Ok(false)` when it was there already.
    pub fn hint(performance: bool) -> Result<bool, i64> {
        let r = call(fid::BL_HINT, [u64::from(performance), 0, 0, 0, 0])[0] as i64;
        if r < 0 { Err(r) } else { Ok(r == 1) }
    }

    /// BL_HINT with a raw x1 (for tests of malformed hints).
    pub fn hint_raw(x1: u64) -> i64 {
        call(fid::BL_HINT, [x1, 0, 0, 0, 0])[0] as i64
    }

    /// BL_WHERE.
    pub fn where_am_i() -> Where {
        let r = call(fid::BL_WHERE, [0; 5]);
        Where {
            cpu: r[0],
            cluster: r[1],
            capacity: r[2],
            moves: r[3],
        }
    }
}

/// Any call: x0 = `fid`, x1..x5 = `args`; returns x0..x3.
pub fn call(fid: u64, args: [u64; 5]) -> [u64; 4] {
    hvc6([fid, args[0], args[1], args[2], args[3], args[4]])
}

/// VIRQ_RAISE: raises the vIRQ of channel `channel` (index in the system's channel list).
pub fn virq_raise(channel: u64) -> i64 {
    call(fid::VIRQ_RAISE, [channel, 0, 0, 0, 0])[0] as i64
}

/// WAIT_EVENT.
pub fn wait_event() -> i64 {
    call(fid::WAIT_EVENT, [0; 5])[0] as i64
}

/// CONSOLE_WRITE of `len` bytes at IPA `ipa`; returns bytes written or an error.
pub fn console_write_raw(ipa: u64, len: u64) -> i64 {
    call(fid::CONSOLE_WRITE, [ipa, len, 0, 0, 0])[0] as i64
}

/// CONSOLE_WRITE of `s`.
pub fn console_write(s: &[u8]) -> i64 {
    console_write_raw(s.as_ptr() as u64, s.len() as u64)
}

/// TELEMETRY_MARKER.
pub fn telemetry_marker(id: u64, value: u64) -> i64 {
    call(fid::TELEMETRY_MARKER, [id, value, 0, 0, 0])[0] as i64
}

/// VM_INFO's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmInfo {
    /// VM index in the system.
    pub vm: u64,
    /// vCPU index of the caller.
    pub vcpu: u64,
    /// RAM IPA.
    pub ram_ipa: u64,
    /// RAM bytes.
    pub ram_size: u64,
}

/// VM_INFO.
pub fn vm_info() -> Result<VmInfo, i64> {
    let r = call(fid::VM_INFO, [0; 5]);
    if (r[0] as i64) < 0 {
        return Err(r[0] as i64);
    }
    Ok(VmInfo {
        vm: r[0],
        vcpu: r[1],
        ram_ipa: r[2],
        ram_size: r[3],
    })
}

/// VM_STATE: 0 = VM `vm` runs, 1 = it is off, < 0 an error (DENIED without a channel).
pub fn vm_state(vm: u64) -> i64 {
    call(fid::VM_STATE, [vm, 0, 0, 0, 0])[0] as i64
}

/// What a driver VM does with a reflected fault (FAULT_COMPLETE x2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Re-execute the access.
    Retry = 0,
    /// Emulated: skip the instruction (a read gets FAULT_COMPLETE's x3).
    Skip = 1,
    /// Inject a synchronous external abort.
    InjectAbort = 2,
    /// Stop the faulting VM.
    Stop = 3,
}

/// A reflected fault as FAULT_FETCH returns it (the guest's reading of the record, see
/// guests/README.md "reflect"): x0 = token, x1 = faulting IPA, x2 = access
/// (bits [7:0] size in bytes, bit 8 write), x3 = the
/// value written (writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReflectedFault {
    /// Token for FAULT_COMPLETE.
    pub token: u64,
    /// Faulting guest-physical address.
    pub ipa: u64,
    /// Access size in bytes.
    pub size: u32,
    /// Whether it is a write.
    pub write: bool,
    /// Written value.
    pub data: u64,
}

/// FAULT_FETCH: the oldest pending reflected fault, or an error (NO_ENTRY if none).
pub fn fault_fetch() -> Result<ReflectedFault, i64> {
    let r = call(fid::FAULT_FETCH, [0; 5]);
    if (r[0] as i64) < 0 {
        return Err(r[0] as i64);
    }
    Ok(ReflectedFault {
        token: r[0],
        ipa: r[1],
        size: (r[2] & 0xff) as u32,
        write: r[2] & (1 << 8) != 0,

        data: r[3],
    })
}

/// FAULT_COMPLETE(token, action, read data).
pub fn fault_complete(token: u64, action: u64, data: u64) -> i64 {
    call(fid::FAULT_COMPLETE, [token, action, data, 0, 0])[0] as i64
}
