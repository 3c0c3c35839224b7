//! The derived tables of a generated plan agree with its lists, and the certificate
//! notices when they do not.

use super::*;
use crate::certify::check::Report;
use crate::certify::check_derived::check_derived;
use crate::certify::property::Property;
use crate::tests::Setup;
use hv_core::hypercall::{may_observe, resolve_channel};
use hv_core::mmio::route;
use hv_core::sysdesc::{HvDesc, SystemDesc};

/// Three VMs: `a` owns two SPIs and has a console; `b` owns one and has two ranges
/// emulated (by `c`, then by `a`); channels a→b, b→a, c→a.
const SYSTEM: &str = r#"name = "t"
[hypervisor]
memory = "4M"
[[vm]]
name = "a"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 0 }, { cpu = 1 }]
console = true
irqs = [112, 113]
[[vm]]
name = "b"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 2 }]
irqs = [120]
[[vm]]
name = "c"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 3 }]
[[channel]]
name = "ab"
from = "a"
to = "b"
intid = 101
[[channel]]
name = "ba"
from = "b"
to = "a"
intid = 102
[[channel]]
name = "ca"
from = "c"
to = "a"
intid = 103
[[emulated]]
vm = "b"
base = 0x1000_0000
size = "8K"
by = "c"
intid = 100
[[emulated]]
vm = "b"
base = 0x0f00_0000
size = "4K"
by = "a"
intid = 104
"#;

fn desc() -> &'static SystemDesc {
    Setup::new(SYSTEM).plan().desc
}

const fn vm(i: u16) -> VmId {
    VmId::new(i)
}

#[test]
fn spi_route_table_agrees_with_the_irqs_list() {
    let d = desc();
    assert_eq!(d.irqs.len(), 3);
    for r in d.irqs {
        let got = d.spi_route(r.intid).copied();
        assert_eq!(
            got,
            Some(SpiRoute {
                vm: vm(r.vm),
                virt_intid: r.virt_intid
            })
        );
    }
    let routed = d.spi_routes.iter().filter(|r| r.is_some()).count();
    assert_eq!(routed, d.irqs.len(), "no route the list does not have");
    assert_eq!(d.spi_routes.len(), 120 - 31, "up to the highest routed SPI");
    for unrouted in [0, 27, 31, 32, 111, 114, 121, 1019, u32::MAX] {
        assert_eq!(d.spi_route(unrouted), None, "INTID {unrouted}");
    }
    assert_eq!(d.vms[0].spis, &d.irqs[..2]);
    assert_eq!(d.vms[1].spis, &d.irqs[2..]);
    assert!(d.vms[2].spis.is_empty());
}

#[test]
fn mmio_routes_are_sorted_disjoint_and_complete() {
    let d = desc();
    for v in d.vms {
        assert!(mmio_overlap(v.mmio).is_none(), "{}: {:?}", v.name, v.mmio);
        assert!(v.mmio.windows(2).all(|w| w[0].base < w[1].base));
    }
    let (a, b) = (&d.vms[0], &d.vms[1]);
    let targets = |v: &VmDesc| v.mmio.iter().map(|m| m.target).collect::<Vec<_>>();
    assert_eq!(
        targets(a),
        [MmioTarget::Gicd, MmioTarget::Gicr, MmioTarget::Uart]
    );
    use MmioTarget::*;
    assert_eq!(targets(b), [Gicd, Gicr, Reflected(1), Reflected(0)]);
    // What the run time finds for an address.
    assert_eq!(route(a.mmio, a.uart_ipa + 0x18), Some((Uart, 0x18)));
    assert_eq!(route(b.mmio, b.uart_ipa), None, "b has no console");
    assert_eq!(route(a.mmio, a.gicd_ipa + 4), Some((Gicd, 4)));
    let two_frames = 2 * GICR_STRIDE;
    assert_eq!(
        route(a.mmio, a.gicr_ipa + two_frames - 4),
        Some((Gicr, two_frames - 4))
    );
    assert_eq!(
        route(a.mmio, a.gicr_ipa + two_frames),
        None,
        "a has two vCPUs"
    );
    assert_eq!(route(b.mmio, b.gicr_ipa + GICR_STRIDE), None, "b has one");
    assert_eq!(route(b.mmio, 0x1000_1ffc), Some((Reflected(0), 0x1ffc)));
    assert_eq!(route(b.mmio, 0x0f00_0000), Some((Reflected(1), 0)));
    assert_eq!(
        route(a.mmio, 0x1000_0000),
        None,
        "the range traps in b only"
    );
    assert_eq!(d.emulated[0].by, 2);
    assert_eq!(d.emulated[1].by, 0);
}

#[test]
fn channel_tables_name_the_right_targets() {
    let d = desc();
    assert_eq!(resolve_channel(d.channels, vm(0), 0), Ok((vm(1), 101)));
    assert_eq!(resolve_channel(d.channels, vm(1), 1), Ok((vm(0), 102)));
    assert_eq!(resolve_channel(d.channels, vm(2), 2), Ok((vm(0), 103)));
    assert!(
        resolve_channel(d.channels, vm(1), 0).is_err(),
        "b does not send on ab"
    );
    let peers: Vec<&[VmId]> = d.vms.iter().map(|v| v.peers).collect();
    assert_eq!(peers, [&[vm(1), vm(2)][..], &[vm(0)], &[vm(0)]]);
    let observes = |c: u16, o: u16| may_observe(d.vms[c as usize].peers, vm(c), vm(o));
    assert!(observes(0, 1) && observes(0, 2) && observes(1, 0) && observes(2, 0));
    assert!(observes(1, 1) && !observes(1, 2) && !observes(2, 1));
}

#[test]
fn channel_masks_say_who_sends_and_receives() {
    let d = desc();
    let masks: Vec<(u64, u64)> = (0..3).map(|v| channel_masks(v, d.channels)).collect();
    // a sends on 0 and receives 1 and 2; b sends on 1, receives 0; c sends on 2.
    assert_eq!(masks, [(0b001, 0b110), (0b010, 0b001), (0b100, 0)]);
}

#[test]
fn owned_spis_and_emulated_ranges_per_vm() {
    let d = desc();
    let uart = d.devices.uart_intid;
    assert_eq!(d.vms[0].owned_spis, [uart, 102, 103, 104, 112, 113]);
    assert_eq!(d.vms[1].owned_spis, [101, 120]);
    assert_eq!(d.vms[2].owned_spis, [100]);
    let emulates: Vec<&[u16]> = d.vms.iter().map(|v| v.emulates).collect();
    assert_eq!(emulates, [&[1u16][..], &[], &[0]]);
}

#[test]
fn generated_source_is_deterministic() {
    let (a, b) = (Setup::new(SYSTEM).plan(), Setup::new(SYSTEM).plan());
    let (a, b) = (
        crate::emit::system_literal(a.desc),
        crate::emit::system_literal(b.desc),
    );
    assert_eq!(a, b);
    assert!(a.contains("spi_routes: &["), "{a}");
    assert!(
        a.contains("hv_core::sysdesc::MmioTarget::Reflected(1)"),
        "{a}"
    );
    assert!(
        a.contains("peers: &[hv_core::ids::VmId::new(1), hv_core::ids::VmId::new(2)]"),
        "{a}"
    );
}

/// The descriptor with its first VM's tables (or the SPI table) taken from another VM.
fn tampered(d: &'static SystemDesc, spis: bool) -> SystemDesc {
    let hv = HvDesc { ..d.hv };
    let devices = hv_core::sysdesc::DeviceDesc { ..d.devices };
    if spis {
        let mut t = d.spi_routes.to_vec();
        let first = t.iter_mut().flatten().next().unwrap();
        first.vm = vm(first.vm.raw() + 1);
        return SystemDesc {
            hv,
            devices,
            spi_routes: crate::parts::leak(t),
            ..*d
        };
    }
    let mut vms: Vec<VmDesc> = d.vms.iter().map(|v| VmDesc { ..*v }).collect();
    vms[0].mmio = d.vms[1].mmio;
    vms[0].peers = d.vms[1].peers;
    SystemDesc {
        hv,
        devices,
        vms: crate::parts::leak(vms),
        ..*d
    }
}

#[test]
fn the_certificate_checks_the_derived_tables() {
    let d = desc();
    let mut r = Report::default();
    check_derived(d, &mut r);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let mut r = Report::default();
    check_derived(&tampered(d, true), &mut r);
    let v = r
        .first(Property::IrqOwnership)
        .expect("a wrong SPI route is seen");
    assert!(v.message.contains("SPI route table"), "{}", v.message);
    let mut r = Report::default();
    check_derived(&tampered(d, false), &mut r);
    assert!(
        r.first(Property::EmulatedTrap).is_some(),
        "{:?}",
        r.violations
    );
    assert!(
        r.first(Property::IrqOwnership).is_some(),
        "{:?}",
        r.violations
    );
}

#[test]
fn overlapping_or_unsorted_routes_are_found() {
    let at = |base, size| MmioRoute {
        base,
        size,
        target: MmioTarget::Gicd,
    };
    assert!(mmio_overlap(&[at(0, 0x1000), at(0x1000, 0x1000)]).is_none());
    assert!(mmio_overlap(&[at(0, 0x1001), at(0x1000, 0x1000)]).is_some());
    assert!(mmio_overlap(&[at(0x2000, 0x10), at(0x1000, 0x10)]).is_some());
    assert!(mmio_overlap(&[at(u64::MAX - 0xfff, 0x1000), at(u64::MAX, 1)]).is_some());
}
