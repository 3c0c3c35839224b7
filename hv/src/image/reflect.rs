//! Fault reflection (after PHIDIAS): a stage-2 fault of a VM on a region the
//! configuration marks "emulated by VM X" is handed to VM X — a vIRQ tells it, FAULT_FETCH
//! gives it the access, FAULT_COMPLETE returns the result — while the faulting vCPU waits.
//! This lets a driver VM emulate a device for another VM.
//!
//! One slot per faulting vCPU. Tokens carry a generation so a stale or forged token is
//! rejected; only the VM the region names may fetch or complete its faults.
use hv_core::hypercall::{FaultAction, err};
use hv_core::ids::{VcpuId, VmId};
use hv_core::trap::abort::{FaultStatus, MmioAccess};
use hv_core::trap::inject::GuestException;

use super::decision::Outcome;
use super::generated::SYSTEM;
use super::inject::inject_fault;
use super::state::{MAX_VCPUS, Power, Vcpu};
use super::sync::SpinLock;
use super::{irq, kick, vmshared};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Empty,
    Pending,
    Fetched,
    Completed(FaultAction, u64),
}

#[derive(Clone, Copy)]
struct Slot {
    stage: Stage,
    generation: u32,
    region: usize,
    access: Option<MmioAccess>,
    far: u64,
    data: u64,
    advance: u64,
}

static SLOTS: [SpinLock<Slot>; MAX_VCPUS] = [const {
    SpinLock::new(Slot {
        stage: Stage::Empty,
        generation: 0,
        region: 0,
        access: None,
        far: 0,
        data: 0,
        advance: 4,
    })
}; MAX_VCPUS];

/// The emulated region of VM `vm` that contains `ipa`.
pub fn region_of(vm: VmId, ipa: u64) -> Option<usize> {
    SYSTEM
        .emulated
        .iter()
        .position(|e| e.vm == vm.raw() && ipa >= e.ipa && ipa - e.ipa < e.size)
}

/// Reflects vCPU `v`'s access to its region's emulating VM; the vCPU waits.
pub fn reflect(
    v: VcpuId,
    vcpu: &mut Vcpu,
    region: usize,
    acc: MmioAccess,
    far: u64,
    advance: u64,
) -> Outcome {
    let e = &SYSTEM.emulated[region];
    {
        let mut s = SLOTS[v.index()].lock();
        s.stage = Stage::Pending;
        s.generation = s.generation.wrapping_add(1);
        s.region = region;
        s.access = Some(acc);
        s.far = far;
        s.data = acc.store_value(vcpu.regs.get(acc.reg as usize));
        s.advance = advance;
    }
    vcpu.power = Power::Reflecting;
    let by = VmId::new(e.by);
    let target = vmshared::with_quiet(by, |s| s.vgic.spi_target(e.virt_intid)).unwrap_or(0);
    let _ = irq::raise(by, target, e.virt_intid);
    Outcome::Continue
}

/// FAULT_FETCH from VM `caller`: (token, ipa, size | write << 8, data) of the oldest
/// pending fault it emulates.
pub fn fetch(caller: VmId) -> Result<[u64; 4], i64> {
    for (v, slot) in SLOTS.iter().enumerate().take(SYSTEM.vcpus.len()) {
        let mut s = slot.lock();
        if s.stage != Stage::Pending || SYSTEM.emulated[s.region].by != caller.raw() {
            continue;
        }
        let Some(acc) = s.access else { continue };
        s.stage = Stage::Fetched;
        let token = ((s.generation as u64) << 16) | (v as u64 + 1);
        return Ok([
            token,
            acc.ipa,
            acc.size as u64 | ((acc.write as u64) << 8),
            s.data,
        ]);
    }
    Err(err::NO_ENTRY)
}

/// FAULT_COMPLETE from VM `caller`.
pub fn complete(caller: VmId, token: u64, action: FaultAction, value: u64) -> i64 {
    let slot = (token & 0xffff) as usize;
    if slot == 0 || slot > SYSTEM.vcpus.len() {
        return err::INVALID;
    }
    let v = VcpuId::new((slot - 1) as u16);
    {
        let mut s = SLOTS[v.index()].lock();
        if s.stage != Stage::Fetched || (token >> 16) as u32 != s.generation {
            return err::NO_ENTRY;
        }
        if SYSTEM.emulated[s.region].by != caller.raw() {
            return err::DENIED;
        }
        s.stage = Stage::Completed(action, value);
    }
    kick::kick_vcpu(v);
    err::SUCCESS
}

/// Whether vCPU `v`'s reflected fault has been completed.
pub fn is_complete(v: VcpuId) -> bool {
    matches!(SLOTS[v.index()].lock().stage, Stage::Completed(..))
}

/// Applies a completed reflected fault to vCPU `v` (loaded on this CPU); the outcome is
/// the emulating VM's verdict (it may stop the faulting VM).
pub fn apply_completion(v: VcpuId, vcpu: &mut Vcpu) -> Outcome {
    let (stage, acc, far, advance) = {
        let mut s = SLOTS[v.index()].lock();
        let st = s.stage;
        if let Stage::Completed(..) = st {
            s.stage = Stage::Empty;
        }
        (st, s.access, s.far, s.advance)
    };
    let Stage::Completed(action, value) = stage else {
        return Outcome::Continue;
    };
    let Some(acc) = acc else {
        return Outcome::Continue;
    };
    match action {
        FaultAction::Retry => {}
        FaultAction::Skip => {
            if !acc.write {
                vcpu.regs.set(acc.reg as usize, acc.load_value(value));
            }
            vcpu.regs.elr += advance;
        }
        FaultAction::InjectAbort => inject_fault(
            vcpu,
            GuestException::DataAbort {
                status: FaultStatus::SyncExternal,
                far,
                write: acc.write,
            },
        ),
        FaultAction::Stop => return Outcome::VmFault,
    }
    Outcome::Continue
}
