//! SMCCC calls from guests (HVC #0, or SMC #0 trapped by HCR_EL2.TSC): PSCI and the SMCCC
//! architecture calls (answered by the VM's PSCI model), and the project's hypercalls
//! (owner 6, see docs/HYPERCALLS.md). Unknown function IDs return NOT_SUPPORTED (-1);
//! bad arguments return an error code, never a fault.
use hv_core::hypercall::{self, CALL_COUNT, CALL_UID, Hypercall, REVISION, err, resolve_channel};
use hv_core::ids::{VcpuId, VmId};
use hv_core::psci::PsciDecision;
use hv_core::psci::power::PsciVm;
use hv_core::smccc::{FunctionId, owner};

use super::decision::Outcome;
use super::generated::SYSTEM;
use core::sync::atomic::Ordering;

use super::state::{self, Power, Vcpu};
use super::{console, irq, kick, reflect, vmshared};

/// Handles the call in the vCPU's x0..x5; writes results to x0..x3.
pub fn call(v: VcpuId, vcpu: &mut Vcpu) -> Outcome {
    let x = &vcpu.regs.x;
    let fid = FunctionId::from_x0(x[0]);
    if fid.owner() == owner::VENDOR_HYP {
        return hypercall(v, vcpu);
    }
    let args = [x[0], x[1], x[2], x[3]];
    // Version and feature queries: a constant answer, no lock.
    if let Some(r) = PsciVm::<1>::constant_reply(args) {
        return reply(vcpu, r);
    }
    let d = SYSTEM.vcpu(v);
    let (vm, in_vm) = (d.vm_id(), d.index_in_vm as usize);
    let decision = vmshared::with_quiet(vm, |s| s.psci.handle(in_vm, args));
    match decision {
        PsciDecision::Reply(r) => reply(vcpu, r),
        PsciDecision::StartVcpu {
            vcpu: target,
            entry,
            context_id,
        } => {
            let g = SYSTEM.vm(vm).vcpu_id(target);
            state::start(g).post(entry, context_id);
            kick::kick_vcpu(g);
            reply(vcpu, 0)
        }
        PsciDecision::StopThisVcpu => {
            vcpu.power = Power::Off;
            irq::publish_on(v, false);
            Outcome::Continue
        }
        PsciDecision::Suspend => {
            vcpu.regs.x[0] = 0;
            if !irq::has_pending(v) {
                vcpu.power = Power::Waiting;
            }
            Outcome::Continue
        }
        PsciDecision::SystemOff => Outcome::VmOff,
        PsciDecision::SystemReset => Outcome::VmReset,
    }
}

fn reply(vcpu: &mut Vcpu, r: i64) -> Outcome {
    vcpu.regs.x[0] = r as u64;
    Outcome::Continue
}

/// VM_INFO's four results for vCPU `v`: its VM's index, its own index in the VM, the VM's
/// RAM (IPA, size). The exit fast path answers with the same.
#[inline(always)]
pub fn vm_info(v: VcpuId) -> [u64; 4] {
    let d = SYSTEM.vcpu(v);
    let vm = SYSTEM.vm(d.vm_id());
    [
        u64::from(d.vm_id().raw()),
        u64::from(d.index_in_vm),
        vm.ram_ipa,
        vm.ram_size,
    ]
}

fn hypercall(v: VcpuId, vcpu: &mut Vcpu) -> Outcome {
    let x = vcpu.regs.x;
    let d = SYSTEM.vcpu(v);
    let vm = d.vm_id();
    let call = match Hypercall::decode([x[0], x[1], x[2], x[3], x[4], x[5]]) {
        Ok(c) => c,
        Err(e) => return extension_call(v, vcpu, e),
    };
    let r = match call {
        Hypercall::VirqRaise { channel } => match resolve_channel(SYSTEM.channels, vm, channel) {
            Ok((to, intid)) => {
                let target = vmshared::with_quiet(to, |s| s.vgic.spi_target(intid)).unwrap_or(0);
                if irq::raise(to, target, intid).is_ok() {
                    err::SUCCESS
                } else {
                    err::INVALID
                }
            }
            Err(e) => e,
        },
        Hypercall::WaitEvent => {
            if !irq::has_pending(v) {
                vcpu.power = Power::Waiting;
            }
            err::SUCCESS
        }
        Hypercall::ConsoleWrite { buf } => console_write(vm, buf),
        Hypercall::TelemetryMarker { id, value } => match u16::try_from(id) {
            Ok(id) => {
                super::telemetry::marker(v, id, value);
                err::SUCCESS
            }
            Err(_) => err::INVALID,
        },
        Hypercall::FaultFetch => match reflect::fetch(vm) {
            Ok(rec) => {
                vcpu.regs.x[..4].copy_from_slice(&rec);
                return Outcome::Continue;
            }
            Err(e) => e,
        },
        Hypercall::FaultComplete { token, action } => reflect::complete(vm, token, action, x[3]),
        Hypercall::VmInfo => {
            vcpu.regs.x[..4].copy_from_slice(&vm_info(v));
            return Outcome::Continue;
        }
        Hypercall::VmState { vm: other } => {
            if (other as usize) >= SYSTEM.vms.len() {
                err::INVALID
            } else if !hypercall::may_observe(SYSTEM.vm(vm).peers, vm, VmId::new(other)) {
                err::DENIED
            } else if state::vm(VmId::new(other)).alive.load(Ordering::Acquire) {
                0
            } else {
                1
            }
        }
        Hypercall::CallCount => CALL_COUNT + super::ext::CALLS,
        Hypercall::CallUid => {
            for (i, w) in CALL_UID.iter().enumerate() {
                vcpu.regs.x[i] = *w as u64;
            }
            return Outcome::Continue;
        }
        Hypercall::Revision => {
            vcpu.regs.x[0] = REVISION.0;
            vcpu.regs.x[1] = REVISION.1;
            return Outcome::Continue;
        }
    };
    let _ = hypercall::implemented;
    reply(vcpu, r)
}

/// A call the core does not know: an extension's, or `e` (NOT_SUPPORTED).
#[cold]
fn extension_call(v: VcpuId, vcpu: &mut Vcpu, e: i64) -> Outcome {
    let d = SYSTEM.vcpu(v);
    let x: [u64; 6] = vcpu.regs.x[..6].try_into().unwrap_or([0; 6]);
    match super::ext::hypercall(super::placement::cpu_of(v), d.vm_id(), &x) {
        Some(r) => {
            vcpu.regs.x[..4].copy_from_slice(&r);
            Outcome::Continue
        }
        None => reply(vcpu, e),
    }
}

/// CONSOLE_WRITE: the bytes must lie in the VM's own RAM.
fn console_write(vm: VmId, buf: hypercall::GuestRange) -> i64 {
    let desc = SYSTEM.vm(vm);
    let checked = match buf.check(desc.ram_ipa, desc.ram_size) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut bytes = [0u8; hypercall::CONSOLE_WRITE_MAX as usize];
    let n = checked.len() as usize;
    // SAFETY: the range was checked to lie inside the VM's RAM, which the EL2 tables map.
    unsafe { hv_arch::mem::read(desc.ram_pa + checked.offset(), &mut bytes[..n]) };
    console::write(vm, &bytes[..n]);
    n as i64
}
