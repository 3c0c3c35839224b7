//! Trapped system registers other than the GIC's: the ID registers (HCR_EL2.TID3), set/way
//! maintenance (TSW), ACTLR_EL1 (TACR) and the debug registers (MDCR_EL2.TDA, TDOSA,
//! TDRA). The decision is `hv_core::trap::emul`'s; this module applies it. Everything
//! the table does not emulate (IMPDEF, RAS, LOR, PMU, SPE, trace, AMU, MTE, SCXTNUM
//! registers of hidden features) is UNDEFINED in the guest. docs/TRAPS.md has the table.
use hv_arch::{debug, features};
use hv_core::ids::VcpuId;
use hv_core::trap::SysRegAccess;
use hv_core::trap::debug::{DebugOutcome, VDebug};
use hv_core::trap::emul::{self, Emul};
use hv_core::trap::idreg;
use hv_core::trap::inject::GuestException;

use super::decision::Outcome;
use super::generated::SYSTEM;
use super::inject::inject_fault;
use super::state::Vcpu;

/// Emulates the trapped access `acc` of the loaded vCPU `v`; `advance` is the trapping
/// instruction's length.
pub fn handle(v: VcpuId, vcpu: &mut Vcpu, acc: SysRegAccess, advance: u64) -> Outcome {
    let value = vcpu.regs.get(acc.rt as usize);
    let read = match emul::classify(&acc) {
        Emul::IdRead(r) => {
            let view = idreg::VmView {
                ipa_bits: idreg::ipa_bits(SYSTEM.hv.vtcr_el2),
                pmu: SYSTEM.vm(SYSTEM.vm_of(v)).pmu.visible(),
                aarch32_el0: features::aarch32_el0(),
            };
            Some(idreg::sanitise(r, features::read_id(r), view))
        }
        Emul::SetWay => {
            debug::clean_invalidate_set_way(value);
            None
        }
        Emul::RazWi => Some(0),
        Emul::Debug(reg) => {
            let c = features::comparators();
            match vcpu.el1.debug.access(reg, acc.read, value, c) {
                DebugOutcome::Read(v) => Some(v),
                DebugOutcome::ReadMdscr => Some(debug::guest_mdscr()),
                DebugOutcome::WriteMdscr(v) => {
                    debug::set_guest_mdscr(v);
                    None
                }
                DebugOutcome::Written { reload } => {
                    if reload {
                        sync_comparators(&vcpu.el1.debug);
                    }
                    None
                }
                DebugOutcome::Undefined => return undefined(vcpu),
            }
        }
        Emul::Undefined => return undefined(vcpu),
    };
    if let (true, Some(v)) = (acc.read, read) {
        vcpu.regs.set(acc.rt as usize, v);
    }
    vcpu.regs.elr += advance;
    Outcome::Continue
}

/// The loaded vCPU changed its comparators or OS lock: the hardware follows.
fn sync_comparators(d: &VDebug) {
    let c = features::comparators();
    if d.active() {
        debug::load(d, c);
    } else {
        debug::disable_all(c);
    }
}

fn undefined(vcpu: &mut Vcpu) -> Outcome {
    inject_fault(vcpu, GuestException::Undefined);
    Outcome::Continue
}
