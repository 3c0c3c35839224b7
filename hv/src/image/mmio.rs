//! Emulated MMIO: a stage-2 data abort on a page the configuration left unmapped on
//! purpose — the VM's PL011 console, its GIC distributor and redistributors, a device an
//! extension emulates — or on a region another VM emulates (fault reflection). Where an IPA goes is looked up in the
//! VM's route table, which the toolkit emitted sorted (`VmDesc::mmio`).
use hv_arch::context::GuestRegs;
use hv_core::ext::DeviceAccess;
use hv_core::ids::VmId;
use hv_core::mmio::route;
use hv_core::sysdesc::MmioTarget;
use hv_core::trap::abort::MmioAccess;

use super::generated::SYSTEM;
use super::state;
use super::{console, kick, vmshared};

/// Emulates `acc` by vCPU `v` (index `in_vm` in VM `vm`); false if no emulated device
/// claims the address (the caller reflects it or injects an abort).
pub fn handle(vm: VmId, in_vm: usize, acc: MmioAccess, regs: &mut GuestRegs) -> bool {
    let Some((dev, off)) = route(SYSTEM.vm(vm).mmio, acc.ipa) else {
        return false;
    };
    let value = acc.store_value(regs.get(acc.reg as usize));
    let raw = match dev {
        MmioTarget::Uart => uart(vm, off, acc, value as u32) as u64,
        // Another VM emulates it: `reflect` hands it over.
        MmioTarget::Reflected(_) => return false,
        MmioTarget::Extension(dev) => return extension(vm, in_vm, dev, off, acc, regs),
        MmioTarget::Gicd => {
            if acc.write {
                if vmshared::with(vm, |s| s.vgic.gicd_write(off, acc.size, value)) {
                    kick::kick_mask(vm, !(1u64 << in_vm));
                }
                0
            } else {
                vmshared::with_quiet(vm, |s| s.vgic.gicd_read(off, acc.size))
            }
        }
        MmioTarget::Gicr => {
            if acc.write {
                if let Some(k) = vmshared::with(vm, |s| s.vgic.gicr_write(off, acc.size, value)) {
                    kick::kick_mask(vm, 1 << k);
                }
                0
            } else {
                vmshared::with_quiet(vm, |s| s.vgic.gicr_read(off, acc.size))
            }
        }
    };
    if !acc.write {
        regs.set(acc.reg as usize, acc.load_value(raw));
    }
    true
}

/// An access to device window `dev`, which an extension emulates (kept out of the
/// match above, so that the core's own devices pay nothing for it).
#[cold]
#[inline(never)]
fn extension(
    vm: VmId,
    in_vm: usize,
    dev: u16,
    off: u64,
    acc: MmioAccess,
    regs: &mut GuestRegs,
) -> bool {
    let a = DeviceAccess {
        off,
        size: acc.size,
        write: acc.write,
        value: if acc.write {
            acc.store_value(regs.get(acc.reg as usize))
        } else {
            0
        },
    };
    // the CPU that holds this vCPU (it runs there now)
    let cpu = super::placement::cpu_of(SYSTEM.vm(vm).vcpu_id(in_vm));
    let Some(raw) = super::ext::mmio(cpu, vm, dev, a) else {
        return false;
    };
    if !acc.write {
        regs.set(acc.reg as usize, acc.load_value(raw));
    }
    true
}

/// The VM's PL011: transmitted bytes go to its console; the interrupt line follows the
/// model.
fn uart(vm: VmId, off: u64, acc: MmioAccess, value: u32) -> u32 {
    let (raw, changed) = {
        let mut c = state::vm(vm).console.lock();
        let raw = if acc.write {
            let eff = c.uart.write(off, acc.size, value);
            if let Some(b) = eff.tx {
                console::put(vm, &mut c, b);
            }
            0
        } else {
            c.uart.read(off, acc.size)
        };
        (raw, c.sync_irq_line())
    };
    // Most accesses (polling the flag register) leave the line alone: the vGIC is only
    // told about a change.
    if let Some(level) = changed {
        update_uart_irq(vm, level);
    }
    raw
}

/// Drives VM `vm`'s virtual UART interrupt line to `level`.
pub fn update_uart_irq(vm: VmId, level: bool) {
    let intid = SYSTEM.devices.uart_intid;
    let target = vmshared::with(vm, |s| {
        let t = s.vgic.spi_target(intid).unwrap_or(0);
        let _ = s.vgic.set_level(t, intid, level);
        t
    });
    if level {
        kick::kick_vcpu(SYSTEM.vm(vm).vcpu_id(target));
    }
}
