//! The services the core offers extensions: the `Core` implementation of [`Hv`]. The top
//! of the image's module graph (it calls into the layers that call the extensions).
use core::sync::atomic::Ordering;

use hv_arch::context::Exit;
use hv_core::ext::{Core, NotOwned};
use hv_core::ids::{CpuId, VcpuId, VmId};

use super::api::Hv;
use super::ext::claims_vm;
use super::generated::SYSTEM;
use super::state::{self, Vcpu};
use super::{console, irq, kick, vmctl, vmload, vmshared};

impl Core for Hv {
    type Vcpu = Vcpu;
    type Exit = Exit;

    fn load_payload(&self, vm: VmId) {
        vmload::load(SYSTEM.vm(vm));
    }
    fn vm_alive(&self, vm: VmId) -> bool {
        state::vm(vm).alive.load(Ordering::Acquire)
    }
    fn vm_off(&self, vm: VmId) {
        vmctl::vm_off(vm);
    }
    fn kick(&self, v: VcpuId) {
        kick::kick_vcpu(v);
    }
    fn raise(&self, vm: VmId, intid: u32) -> Result<(), NotOwned> {
        let target = if claims_vm(vm) {
            0
        } else {
            vmshared::with_quiet(vm, |s| s.vgic.spi_target(intid)).unwrap_or(0)
        };
        irq::raise(vm, target, intid).map_err(|()| NotOwned)
    }
    fn console_write(&self, vm: VmId, bytes: &[u8]) {
        console::write(vm, bytes);
    }
    fn console_flush(&self, vm: VmId) {
        console::flush(vm);
    }
    fn marker(&self, v: VcpuId, id: u16, value: u64) {
        super::telemetry::marker(v, id, value);
    }
    fn trap_enter(&self, cpu: CpuId, v: VcpuId, state: &Vcpu) {
        super::telemetry::enter(cpu, v, &state.regs);
    }
    fn trap_exit(&self, cpu: CpuId, v: VcpuId, why: &Exit, state: &Vcpu) {
        super::telemetry::exit(cpu, v, why, &state.regs);
    }
}
