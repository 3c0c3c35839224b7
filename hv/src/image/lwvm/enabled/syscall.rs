//! The system calls of lightweight VMs (ABI: `lwvm-abi`): the services a full VM gets
//! through hypercalls. Arguments are checked here; a bad one is an error code in x0,
//! never a fault.
use hv_core::hypercall::{GuestRange, resolve_channel};
use hv_lwvm::abi::{Syscall, err};

use hv_core::ext::Core;
use hv_core::ids::{VcpuId, VmId};

use super::super::super::api::{Hv, Vcpu};
use super::super::super::generated::SYSTEM;
use crate::hvlog;

/// Serves the `SVC #imm` of lwVM `vm` (slot `v`): call number in x8, arguments in
/// x0..x5, results in x0..x3. ELR_EL2 already points past the SVC.
pub fn call(core: &Hv, vm: VmId, v: VcpuId, vcpu: &mut Vcpu, imm: u16) {
    let x = vcpu.regs.x;
    let call = match Syscall::decode(imm, x[8], [x[0], x[1], x[2], x[3], x[4], x[5]]) {
        Ok(c) => c,
        Err(e) => {
            vcpu.regs.x[0] = e as u64;
            return;
        }
    };
    let r: i64 = match call {
        Syscall::Exit { code } => {
            core.console_flush(vm);
            hvlog!("lwvm {}: exit {code}", SYSTEM.vm(vm).name);
            core.vm_off(vm);
            return;
        }
        Syscall::Write { va, len } => write(core, vm, va, len),
        Syscall::Raise { channel } => raise(core, vm, channel),
        Syscall::Wait => {
            super::wait(vm, vcpu);
            return;
        }
        Syscall::Poll => super::poll(vm) as i64,
        Syscall::Marker { id, value } => {
            core.marker(v, id, value);
            0
        }
        Syscall::Info => {
            let d = SYSTEM.vm(vm);
            vcpu.regs.x[..4].copy_from_slice(&[
                vm.raw() as u64,
                d.ram_ipa,
                d.ram_size,
                super::restarts(vm),
            ]);
            return;
        }
        Syscall::FaultHandler { va } => super::shadow::set_handler(vm, va),
        Syscall::Channels => {
            // Masks the toolkit made from the channel list.
            let lw = SYSTEM.vm(vm).lwvm.as_ref();
            vcpu.regs.x[0] = lw.map_or(0, |l| l.channels_out);
            vcpu.regs.x[1] = lw.map_or(0, |l| l.channels_in);
            return;
        }
    };
    vcpu.regs.x[0] = r as u64;
}

/// WRITE: the bytes must lie in the lwVM's own memory.
fn write(core: &Hv, vm: VmId, va: u64, len: u64) -> i64 {
    let d = SYSTEM.vm(vm);
    if !d.console {
        return err::DENIED;
    }
    let mut bytes = [0u8; hv_lwvm::abi::WRITE_MAX as usize];
    // An lwVM with its own tables names the buffer by its own VA.
    let own = &mut bytes[..len as usize];
    match super::shadow::read(vm, va, own) {
        Some(true) => {
            core.console_write(vm, own);
            return len as i64;
        }
        Some(false) => return err::INVALID_ADDRESS,
        None => {}
    }
    let checked = match GuestRange::new(va, len).check(d.ram_ipa, d.ram_size) {
        Ok(c) => c,
        Err(_) => return err::INVALID_ADDRESS,
    };
    let n = checked.len() as usize;
    // SAFETY: the range was checked to lie inside the lwVM's memory, which the EL2 tables
    // map (privileged) at its physical address.
    unsafe { hv_arch::mem::read(d.ram_pa + checked.offset(), &mut bytes[..n]) };
    core.console_write(vm, &bytes[..n]);
    n as i64
}

/// RAISE: like the VIRQ_RAISE hypercall (a channel into another lwVM posts its event).
fn raise(core: &Hv, vm: VmId, channel: u16) -> i64 {
    match resolve_channel(SYSTEM.channels, vm, channel) {
        Ok((to, intid)) => match core.raise(to, intid) {
            Ok(()) => 0,
            Err(_) => err::INVALID,
        },
        Err(e) => e,
    }
}
