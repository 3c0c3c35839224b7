//! Handling a synchronous exit of a vCPU: decode ESR_EL2 into a `Trap` (hv-core) and
//! dispatch it. Anything a guest is not allowed to do gets an exception injected into
//! the guest; the hypervisor itself never stops because of a guest.
use hv_arch::regs::syndrome;
use hv_core::ids::VcpuId;
use hv_core::trap::abort::FaultStatus;
use hv_core::trap::inject::GuestException;
use hv_core::trap::{Trap, aarch32};
use hv_core::vgic::sgi::SgiRequest;

use super::decision::Outcome;
use super::generated::SYSTEM;
use super::inject::inject_fault;
use super::state::{Power, Vcpu};
use super::{irq, kick, mmio, reflect, smccc, sysreg, vmshared};
use crate::hvlog;

/// Handles a synchronous exception from vCPU `v`.
pub fn handle_sync(v: VcpuId, vcpu: &mut Vcpu) -> Outcome {
    let s = syndrome();
    let trap = Trap::decode(s.esr, s.far, s.hpfar);
    let d = SYSTEM.vcpu(v);
    let (vm, in_vm) = (d.vm_id(), d.index_in_vm as usize);
    // Asked per arm, where the class is known: the match in `pc_advance` then folds.
    let advance = || trap.pc_advance(s.esr);
    match trap {
        Trap::Hvc { imm: 0 } | Trap::Smc { imm: 0 } => {
            vcpu.regs.elr += advance();
            smccc::call(v, vcpu)
        }
        Trap::DataAbort(da) if da.from_lower_el => {
            let emulated = da
                .mmio()
                .filter(|&acc| mmio::handle(vm, in_vm, acc, &mut vcpu.regs));
            if emulated.is_some() {
                skip(vcpu, advance());
                return Outcome::Continue;
            }
            if let (Some(acc), Some(r)) = (da.mmio(), reflect::region_of(vm, da.ipa)) {
                return reflect::reflect(v, vcpu, r, acc, da.far, advance());
            }
            // A write to a read-only mapping (a shared region) reads to the guest as the
            // permission fault it is; anything else unmapped is an external abort.
            let status = match da.status() {
                p @ FaultStatus::Permission(_) => p,
                _ => FaultStatus::SyncExternal,
            };
            inject_fault(
                vcpu,
                GuestException::DataAbort {
                    status,
                    far: da.far,
                    write: da.wnr,
                },
            );
            Outcome::Continue
        }
        Trap::Wfx { wfe, .. } => {
            let passed = aarch32::condition_passed(s.esr as u32 & 0x01ff_ffff, vcpu.regs.spsr);
            skip(vcpu, advance());
            if passed && !wfe && !irq::has_pending(v) {
                vcpu.power = Power::Waiting;
            }
            Outcome::Continue
        }
        Trap::SysReg(acc) if acc.is_icc_sgi1r_write() => {
            let value = vcpu.regs.get(acc.rt as usize);
            vcpu.regs.elr += advance();
            if SgiRequest::decode(value).is_empty() {
                return Outcome::Continue;
            }
            // Only the vCPUs an SGI was sent to have anything new (none for an empty
            // target list).
            let targets = vmshared::with_quiet(vm, |s| s.vgic.send_sgi(in_vm, value));
            if targets != 0 {
                vmshared::mark_dirty(vm, targets);
                kick::kick_mask(vm, targets);
            }
            Outcome::Continue
        }
        Trap::SysReg(acc) if !acc.reg.is_gic_cpu_interface() => {
            sysreg::handle(v, vcpu, acc, advance())
        }
        // Lazy FP/SIMD switching (`world`): not the guest's doing, nothing to emulate.
        Trap::FpAccess => Outcome::TakeFp,
        Trap::InstructionAbort(ia) if ia.from_lower_el => {
            inject_fault(
                vcpu,
                GuestException::InstructionAbort {
                    status: FaultStatus::SyncExternal,
                    far: ia.far,
                },
            );
            Outcome::Continue
        }
        _ => {
            // SMC/HVC with a nonzero immediate, system registers we do not emulate, and
            // any other class: UNDEFINED from the guest's point of view.
            inject_fault(vcpu, GuestException::Undefined);
            Outcome::Continue
        }
    }
}

/// Moves the vCPU past the trapped instruction of `len` bytes (for T32 code in an IT
/// block, the IT state advances with it).
pub fn skip(vcpu: &mut Vcpu, len: u64) {
    vcpu.regs.elr += len;
    vcpu.regs.spsr = aarch32::advance_itstate(vcpu.regs.spsr);
}

/// A guest did something the hypervisor cannot continue from.
pub fn fatal(v: VcpuId, why: &str) -> Outcome {
    hvlog!(
        "vm {}: vCPU {} stopped: {why}",
        SYSTEM.vm(SYSTEM.vm_of(v)).name,
        SYSTEM.vcpu(v).index_in_vm
    );
    Outcome::VmFault
}
