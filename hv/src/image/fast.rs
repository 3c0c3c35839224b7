//! The exit fast path: the vector offers a synchronous exit to [`hv_fast_exit`] once the
//! guest's registers are saved, before it returns to the run loop. What `hv_core::fast`
//! answers (a constant SMCCC answer, VM_INFO, an SGI write with no target, a constant
//! distributor register) resumes the
//! guest from the vector: no pass of the run loop, no scheduler, no vGIC work.
//!
//! The run loop offers the path only to a vCPU whose entry put nothing in the list
//! registers ([`token`]), so an exit that skips the list-register read-back loses
//! nothing; every other state the path leaves alone is unchanged by the traps it takes.
//! Telemetry records the trap with the same record the run loop's hooks make.
use hv_arch::context::GuestRegs;
use hv_core::fast::{Fast, Syndrome, VmFacts, decide};
use hv_core::ids::VcpuId;
use hv_core::vgic::dist::gicd_typer;

use super::generated::SYSTEM;

/// The `fast` word of vCPU `v`'s registers for an entry that filled `lrs_used` list
/// registers: its id + 1, or 0 (no fast path) when there are list registers to read back.
#[inline(always)]
pub fn token(v: VcpuId, lrs_used: u8) -> u64 {
    if lrs_used == 0 {
        u64::from(v.raw()) + 1
    } else {
        0
    }
}

/// Called by the vector for a synchronous exit whose registers carry a token: nonzero
/// when the trap was answered and the guest resumes at once.
#[unsafe(no_mangle)]
extern "C" fn hv_fast_exit(regs: *mut GuestRegs) -> u64 {
    // SAFETY: `regs` are the registers the run loop lent `enter_guest`, which is still
    // running (this is its exit path); nothing else refers to them until it returns.
    let regs = unsafe { &mut *regs };
    let v = VcpuId::new(regs.fast.wrapping_sub(1) as u16);
    let d = SYSTEM.vcpu(v);
    let facts = || {
        let vm = SYSTEM.vm(d.vm_id());
        VmFacts {
            info: [
                u64::from(d.vm_id().raw()),
                u64::from(d.index_in_vm),
                vm.ram_ipa,
                vm.ram_size,
            ],
            gicd_ipa: vm.gicd_ipa,
            // its model's owned SPIs are these (ascending)
            gicd_typer: gicd_typer(vm.owned_spis.last().copied(), vm.vcpus.len()),
        }
    };
    let esr = hv_arch::regs::esr();
    let t = Syndrome {
        esr,
        addresses: hv_arch::regs::fault_addresses,
    };
    let Some(answer) = decide(t, &regs.x, regs.spsr, facts) else {
        return 0;
    };
    let (entry, x0_in) = (super::telemetry::stamp(), regs.x[0]);
    match answer {
        Fast::X0(r) => regs.x[0] = r,
        Fast::X0To3(r) => regs.x[..4].copy_from_slice(&r),
        Fast::Skip => regs.elr += 4,
        Fast::Load { reg, value } => {
            regs.set(usize::from(reg), value);
            regs.elr += 4;
        }
    }
    super::telemetry::answered(d.cpu_id(), v, esr, entry, x0_in, regs.x[0]);
    1
}
