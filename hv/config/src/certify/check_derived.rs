//! Checks of the lookup tables the run time uses instead of the description's lists: each
//! must be exactly what [`crate::derive`] makes of the lists the other checks prove
//! things about, or those proofs would not cover what the hypervisor does (a physical
//! SPI delivered by `spi_routes`, not by `irqs`; a trapped access routed by `mmio`).

use super::check::Report;
use super::property::Property as P;
use crate::derive;
use crate::fmt::hex;
use hv_core::sysdesc::{SystemDesc, VmIndex};

/// The SPI route table, and per VM its SPIs, owned SPIs and peers (interrupt
/// ownership); its MMIO routes and the ranges it emulates (emulated ranges trap).
pub(crate) fn check_derived(d: &SystemDesc, r: &mut Report) {
    r.count(P::IrqOwnership, 1);
    if d.spi_routes != derive::spi_routes(d.irqs).as_slice() {
        r.fail(
            P::IrqOwnership,
            "descriptor",
            None,
            "the SPI route table does not agree with the IRQ routes",
        );
    }
    for (i, v) in d.vms.iter().enumerate() {
        let vm = i as VmIndex;
        let mut irq = |what: &str, same: bool| {
            r.count(P::IrqOwnership, 1);
            if !same {
                r.fail(
                    P::IrqOwnership,
                    "descriptor",
                    None,
                    format!("{}: its {what} do not agree with the description", v.name),
                );
            }
        };
        irq("routed SPIs", v.spis == derive::spis(vm, d.irqs).as_slice());
        let owned = derive::owned_spis(
            vm,
            v,
            d.irqs,
            d.channels,
            d.emulated,
            d.elastic,
            d.devices.uart_intid,
        );
        irq("owned SPIs", v.owned_spis == owned.as_slice());
        irq(
            "channel peers",
            v.peers == derive::peers(vm, d.channels).as_slice(),
        );
        if let Some(lw) = &v.lwvm {
            irq(
                "channel masks",
                (lw.channels_out, lw.channels_in) == derive::channel_masks(vm, d.channels),
            );
        }
        let mut trap = |what: &str, same: bool| {
            r.count(P::EmulatedTrap, 1);
            if !same {
                r.fail(
                    P::EmulatedTrap,
                    "descriptor",
                    None,
                    format!("{}: its {what} do not agree with the description", v.name),
                );
            }
        };
        trap(
            "MMIO routes",
            v.mmio == derive::mmio_routes(vm, v, d.emulated, d.elastic).as_slice(),
        );
        trap(
            "emulated ranges",
            v.emulates == derive::emulates(vm, d.emulated).as_slice(),
        );
        if let Some((a, b)) = derive::mmio_overlap(v.mmio) {
            r.fail(
                P::EmulatedTrap,
                "descriptor",
                Some(b.base),
                format!(
                    "{}: MMIO route {:?} at {} overlaps {:?} at {} (or is out of order)",
                    v.name,
                    b.target,
                    hex(b.base),
                    a.target,
                    hex(a.base)
                ),
            );
        }
    }
}
