//! Handling a synchronous exit of a vCPU: decode ESR_EL2 into a `Trap` (hv-core) and
//! dispatch it. Anything a guest is not allowed to do gets an exception injected into
//! the guest; the hypervisor itself never stops because of a guest.
use hv_arch::el1;
use hv_arch::regs::syndrome;
use hv_core::trap::abort::FaultStatus;
use hv_core::trap::inject::{GuestException, GuestState, inject};
use hv_core::trap::Trap;

use super::generated::SYSTEM;
use super::state::{Power, Vcpu};
use super::{mmio, smccc};
use crate::hvlog;

/// What the run loop does after a trap.
pub enum Outcome {
    /// Resume (or pick again).
    Continue,
    /// The VM of this vCPU has ended.
    VmOff,
}

/// Handles a synchronous exception from vCPU `v`.
pub fn handle_sync(v: usize, vcpu: &mut Vcpu) -> Outcome {
    let s = syndrome();
    let trap = Trap::decode(s.esr, s.far, s.hpfar);
    let vm_index = SYSTEM.vcpus[v].vm as usize;
    match trap {
        Trap::Hvc { imm: 0 } | Trap::Smc { imm: 0 } => {
            let out = smccc::call(v, vcpu);
            vcpu.regs.elr += trap.pc_advance(s.esr);
            out
        }
        Trap::DataAbort(da) if da.from_lower_el => match da.mmio() {
            Some(acc) if mmio::handle(vm_index, acc, &mut vcpu.regs) => {
                vcpu.regs.elr += trap.pc_advance(s.esr);
                Outcome::Continue
            }
            _ => {
                inject_fault(
                    vcpu,
                    GuestException::DataAbort { status: FaultStatus::SyncExternal, far: da.far, write: da.wnr },
                );
                Outcome::Continue
            }
        },
        Trap::Wfx { wfe, .. } => {
            vcpu.regs.elr += trap.pc_advance(s.esr);
            if !wfe {
                // Nothing can wake it until virtual interrupts are delivered: a WFI with
                // interrupts masked or none routed just returns (permitted: WFI may
                // complete at any time).
                vcpu.power = Power::On;
            }
            Outcome::Continue
        }
        Trap::InstructionAbort(ia) if ia.from_lower_el => {
            inject_fault(vcpu, GuestException::InstructionAbort { status: FaultStatus::SyncExternal, far: ia.far });
            Outcome::Continue
        }
        _ => {
            // SMC/HVC with a nonzero immediate, trapped system registers we do not
            // emulate, and any other class: UNDEFINED from the guest's point of view.
            inject_fault(vcpu, GuestException::Undefined);
            Outcome::Continue
        }
    }
}

/// Injects a synchronous exception into the (loaded) guest at its current PC.
pub fn inject_fault(vcpu: &mut Vcpu, exc: GuestException) {
    let guest = GuestState {
        spsr: vcpu.regs.spsr,
        elr: vcpu.regs.elr,
        vbar_el1: el1::guest_vbar(),
        sctlr_el1: el1::guest_sctlr(),
    };
    let inj = inject(exc, guest);
    el1::set_guest_exception_regs(inj.esr_el1, inj.elr_el1, inj.spsr_el1);
    if let Some(far) = inj.far_el1 {
        el1::set_guest_far(far);
    }
    vcpu.regs.elr = inj.new_pc;
    vcpu.regs.spsr = inj.new_spsr;
}

/// A guest did something the hypervisor cannot continue from: stop its VM.
pub fn fatal(v: usize, why: &str) -> Outcome {
    let vm = &SYSTEM.vms[SYSTEM.vcpus[v].vm as usize];
    hvlog!("vm {}: vCPU {} stopped: {why}", vm.name, SYSTEM.vcpus[v].index_in_vm);
    Outcome::VmOff
}
