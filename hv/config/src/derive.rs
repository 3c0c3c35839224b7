//! The tables the run time looks things up in, derived from the description's lists:
//! the SPI route table indexed by physical INTID, and per VM its sorted MMIO routes, its
//! routed SPIs, the virtual SPIs its vGIC owns, its channel peers and the emulated
//! ranges it serves.
//!
//! Why here: each is a function of the configuration alone, so computing it before boot
//! takes a scan (a physical interrupt searching `irqs`, a data abort rebuilding a VM's
//! device windows, VM_STATE searching `channels`, a VM reset collecting its SPIs) off the
//! run time's paths. The lists stay in the description as the source the certificate
//! checks these tables against (`certify::check_vm::check_derived`).

use hv_core::ids::VmId;
use hv_core::mmio::{GICD_SIZE, GICR_STRIDE, UART_SIZE, VIRTIO_MMIO_SIZE};
use hv_core::sysdesc::{
    ChannelDesc, ElasticDesc, EmulatedDesc, IrqRoute, MmioRoute, MmioTarget, SpiRoute, VmDesc,
    VmIndex,
};

/// The first SPI: entry 0 of the route table.
const SPI_BASE: u32 = 32;

/// The table of [`SystemDesc::spi_routes`](hv_core::sysdesc::SystemDesc::spi_routes):
/// entry `i` is where SPI `32 + i` goes, up to the highest routed SPI. An INTID routed
/// twice (which validation refuses) keeps its first route.
pub fn spi_routes(irqs: &[IrqRoute]) -> Vec<Option<SpiRoute>> {
    let spis = || irqs.iter().filter(|r| r.intid >= SPI_BASE);
    let len = spis().map(|r| (r.intid - SPI_BASE) as usize + 1).max();
    let mut t = vec![None; len.unwrap_or(0)];
    for r in spis() {
        t[(r.intid - SPI_BASE) as usize].get_or_insert(SpiRoute {
            vm: VmId::new(r.vm),
            virt_intid: r.virt_intid,
        });
    }
    t
}

/// VM `vm`'s MMIO routes: its console PL011 (if it has one), its GIC distributor and
/// redistributors (one frame per vCPU), the ranges of `emulated` that trap in it, and
/// the virtio-mem device of each elastic pool it sees as one (`Extension(pool)`), sorted
/// by base. An lwVM has none (no stage 2, no emulated devices).
pub fn mmio_routes(
    vm: VmIndex,
    d: &VmDesc,
    emulated: &[EmulatedDesc],
    elastic: &[ElasticDesc],
) -> Vec<MmioRoute> {
    if d.lwvm.is_some() {
        return Vec::new();
    }
    let at = |base, size, target| MmioRoute { base, size, target };
    let mut r: Vec<MmioRoute> = d
        .console
        .then(|| at(d.uart_ipa, UART_SIZE, MmioTarget::Uart))
        .into_iter()
        .collect();
    r.push(at(d.gicd_ipa, GICD_SIZE, MmioTarget::Gicd));
    r.push(at(
        d.gicr_ipa,
        d.vcpus.len() as u64 * GICR_STRIDE,
        MmioTarget::Gicr,
    ));
    for (k, e) in emulated.iter().enumerate().filter(|(_, e)| e.vm == vm) {
        r.push(at(e.ipa, e.size, MmioTarget::Reflected(k as u16)));
    }
    for (p, e) in elastic.iter().enumerate() {
        let virtio = e
            .holders
            .iter()
            .filter(|h| h.vm == vm)
            .find_map(|h| h.virtio_ipa);
        if let Some(ipa) = virtio {
            r.push(at(ipa, VIRTIO_MMIO_SIZE, MmioTarget::Extension(p as u16)));
        }
    }
    r.sort_by_key(|m| m.base);
    r
}

/// The first two routes of a sorted table that overlap, if any.
pub fn mmio_overlap(routes: &[MmioRoute]) -> Option<(&MmioRoute, &MmioRoute)> {
    routes
        .windows(2)
        .find(|w| {
            w[0].base
                .checked_add(w[0].size)
                .is_none_or(|end| end > w[1].base)
        })
        .map(|w| (&w[0], &w[1]))
}

/// VM `vm`'s routed physical SPIs, in `irqs` order.
pub fn spis(vm: VmIndex, irqs: &[IrqRoute]) -> Vec<IrqRoute> {
    irqs.iter()
        .filter(|r| r.vm == vm)
        .map(|r| IrqRoute { ..*r })
        .collect()
}

/// The virtual SPIs VM `vm`'s vGIC owns, ascending and each once: its routed SPIs, the
/// channels into it, the emulated ranges it serves, the elastic pools it holds or
/// manages, its console UART's `uart_intid`. An lwVM owns none (it has no GIC; its
/// channels carry event bits).
pub fn owned_spis(
    vm: VmIndex,
    d: &VmDesc,
    irqs: &[IrqRoute],
    channels: &[ChannelDesc],
    emulated: &[EmulatedDesc],
    elastic: &[ElasticDesc],
    uart_intid: u32,
) -> Vec<u32> {
    if d.lwvm.is_some() {
        return Vec::new();
    }
    let mut o: Vec<u32> = irqs
        .iter()
        .filter(|r| r.vm == vm)
        .map(|r| r.virt_intid)
        .chain(channels.iter().filter(|c| c.to == vm).map(|c| c.virt_intid))
        .chain(emulated.iter().filter(|e| e.by == vm).map(|e| e.virt_intid))
        .chain(
            elastic
                .iter()
                .filter(|e| e.manager == Some(vm) || e.holders.iter().any(|h| h.vm == vm))
                .map(|e| e.virt_intid),
        )
        .chain(d.console.then_some(uart_intid))
        .collect();
    o.sort_unstable();
    o.dedup();
    o
}

/// The VMs VM `vm` shares a channel with, in either direction, ascending, without itself.
pub fn peers(vm: VmIndex, channels: &[ChannelDesc]) -> Vec<VmId> {
    let mut p: Vec<VmId> = channels
        .iter()
        .filter_map(|c| match (c.from == vm, c.to == vm) {
            (true, false) => Some(c.to),
            (false, true) => Some(c.from),
            _ => None,
        })
        .map(VmId::new)
        .collect();
    p.sort_unstable();
    p.dedup();
    p
}

/// The channels VM `vm` sends on and receives from, as masks (bit `c` = channel `c`;
/// channels past 63 have no bit): what an lwVM's CHANNELS system call answers.
pub fn channel_masks(vm: VmIndex, channels: &[ChannelDesc]) -> (u64, u64) {
    let bit = |c: usize| if c < 64 { 1u64 << c } else { 0 };
    channels
        .iter()
        .enumerate()
        .fold((0, 0), |(out, inc), (c, ch)| {
            (
                out | if ch.from == vm { bit(c) } else { 0 },
                inc | if ch.to == vm { bit(c) } else { 0 },
            )
        })
}

/// The indices of the `emulated` ranges VM `vm` serves, ascending.
pub fn emulates(vm: VmIndex, emulated: &[EmulatedDesc]) -> Vec<u16> {
    (0..emulated.len())
        .filter(|&k| emulated[k].by == vm)
        .map(|k| k as u16)
        .collect()
}

#[cfg(test)]
mod tests;
