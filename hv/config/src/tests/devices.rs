//! Device passthrough end to end: a virtio-mmio page given to an identity-mapped VM
//! (stage 2, EL2 map, interrupt routes, device tree, certificate) and the
//! configurations the toolkit refuses.

use super::Setup;
use crate::certify::property::Property;
use crate::isolation::report;
use crate::tables::bits;
use crate::walk::Walker;
use crate::{GenerateRequest, generate_image, plan};
use fdt::Fdt;

const PAGE3: u64 = 0x0a00_3000;

const OWNER: &str = r#"name = "t"
[[vm]]
name = "drv"
memory = "16M"
image = "top"
dtb = true
identity = true
devices = ["virtio-mmio-3"]
vcpus = [{ cpu = 0 }]
[[vm]]
name = "other"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 1 }]
"#;

/// The test system with a guest `top` linked at the top 16 MiB of board RAM, where an
/// identity VM of that size lands.
fn setup(system: &str) -> Setup {
    let s = Setup::new(system);
    let elf = crate::image::tests::tiny_elf(0x7f00_0000, &[(0x7f00_0000, b"code", 0x1000)]);
    std::fs::write(s.dir.path().join("top"), elf).unwrap();
    s
}

fn err(system: &str) -> String {
    let s = setup(system);
    plan(&s.board(), &s.system(), s.dir.path(), None)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_page_of_virtio_slots_is_passed_through() {
    let p = setup(OWNER).plan();
    let vm = &p.desc.vms[0];
    // Identity: placed at the top of board RAM, IPA = PA.
    assert_eq!((vm.ram_pa, vm.ram_ipa), (0x7f00_0000, 0x7f00_0000));
    let w = Walker::new(&p.tables_blob, p.desc.hv.tables_base);
    let leaf = w.translate(vm.s2_root, PAGE3 + 0xe00).unwrap().unwrap();
    assert_eq!(leaf.pa + (PAGE3 + 0xe00 - leaf.va), PAGE3 + 0xe00);
    assert_eq!((leaf.attrs >> 2) & 0b1111, 0b0001, "Device-nGnRE");
    assert_ne!(leaf.attrs & bits::XN, 0);
    // Only the owner maps it; the hypervisor keeps the other three pages.
    assert!(w.translate(p.desc.vms[1].s2_root, PAGE3).unwrap().is_none());
    let el2 = p.desc.hv.ttbr0_el2;
    assert!(w.translate(el2, PAGE3).unwrap().is_none());
    assert!(w.translate(el2, PAGE3 - 0x1000).unwrap().is_some());
    // Its eight SPIs are routed to it.
    let routed: Vec<u32> = p.desc.irqs.iter().map(|r| r.intid).collect();
    assert_eq!(routed, (72..80).collect::<Vec<_>>());
    assert!(p.desc.irqs.iter().all(|r| r.vm == 0));
    assert_eq!(p.desc.passthrough.len(), 1);
    // Eight nodes in its device tree, slot 31 with SPI 47 (INTID 79), edge.
    let blob = &p.payloads.vms[0].dtb.as_ref().unwrap().bytes;
    let fdt = Fdt::new(blob).unwrap();
    let nodes: Vec<_> = fdt
        .all_nodes()
        .filter(|n| n.name.starts_with("virtio_mmio@"))
        .collect();
    assert_eq!(nodes.len(), 8);
    let top = fdt.find_node("/virtio_mmio@a003e00").unwrap();
    let reg = top.reg().unwrap().next().unwrap();
    assert_eq!(
        (reg.starting_address as u64, reg.size),
        (0x0a00_3e00, Some(0x200))
    );
    assert_eq!(
        top.property("interrupts").unwrap().value,
        [0u32, 47, 1]
            .iter()
            .flat_map(|c| c.to_be_bytes())
            .collect::<Vec<_>>()
    );
    assert!(top.property("dma-coherent").is_some());
    let r = report(&p);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let text = crate::explain::explain(&p);
    assert!(
        text.contains("device virtio-mmio-3 0xa00_3000..0xa00_4000 at IPA = PA, DMA, SPIs of the VM: 72 73 74 75 76 77 78 79"),
        "{text}"
    );
}

#[test]
fn a_device_page_in_two_vms_violates_no_foreign_device() {
    let mut p = setup(OWNER).plan();
    let b = &p.desc.vms[1];
    let (root, ipa) = (b.s2_root, b.ram_ipa + b.ram_size - 0x1000);
    let base = p.desc.hv.tables_base;
    let (at, d, _) = Walker::new(&p.tables_blob, base)
        .descriptor(root, ipa)
        .unwrap()
        .unwrap();
    let at = (at - base) as usize;
    let d = (d & !bits::OA_MASK) | PAGE3;
    p.tables_blob[at..at + 8].copy_from_slice(&d.to_le_bytes());
    let r = report(&p);
    let v = r.first(Property::NoForeignDevice).expect("device reached");
    assert!(
        v.message.contains(
            "vm other reaches device virtio-mmio-3 at 0xa00_3000 (leaf at 0xa00_3000), which is given to vm drv: a device page in two VMs"
        ),
        "{v}"
    );
}

#[test]
fn refused_configurations_name_the_field() {
    let twice = OWNER.replace(
        "vcpus = [{ cpu = 1 }]",
        "identity = true\ndevices = [\"virtio-mmio-3\"]\nvcpus = [{ cpu = 1 }]",
    );
    let e = err(&twice);
    assert!(
        e.contains("vm[1].devices[0]: device \"virtio-mmio-3\" is already given to vm \"drv\" (vm[0].devices[0])"),
        "{e}"
    );
    let e = err(&OWNER.replace("\"virtio-mmio-3\"", "\"virtio-mmio3\""));
    assert!(
        e.contains("vm[0].devices[0]: board \"qemu-virt\" has no device \"virtio-mmio3\" — did you mean \"virtio-mmio-3\"?"),
        "{e}"
    );
    let e = err(&OWNER.replace("identity = true\n", ""));
    assert!(
        e.contains("vm[0].devices[0]: device \"virtio-mmio-3\" masters DMA")
            && e.contains("needs `identity = true`"),
        "{e}"
    );
    let e = err(&OWNER.replace(
        "vcpus = [{ cpu = 1 }]",
        "irqs = [79]\nvcpus = [{ cpu = 1 }]",
    ));
    assert!(
        e.contains("vm[1].irqs[0]: IRQ 79 is device \"virtio-mmio-3\"'s, given to vm \"drv\""),
        "{e}"
    );
}

#[test]
fn telemetry_net_keeps_the_top_slot() {
    let s = setup(OWNER);
    let out = s.dir.path().join("out");
    let req = GenerateRequest {
        board: &s.board(),
        system: &s.system(),
        images_dir: s.dir.path(),
        out_dir: &out,
    };
    let e = generate_image(&req, false, true).unwrap_err().to_string();
    assert!(
        e.contains("vm[0].devices[0]: device \"virtio-mmio-3\" holds virtio-mmio slot 31"),
        "{e}"
    );
    let two = OWNER.replace("virtio-mmio-3", "virtio-mmio-2");
    std::fs::write(s.system(), two).unwrap();
    generate_image(&req, false, true).unwrap();
}

#[test]
fn part_of_a_page_is_not_a_device() {
    let s = Setup::new("name = \"t\"\n");
    let board = std::fs::read_to_string(s.board()).unwrap()
        + "\n[[device]]\nname = \"half\"\nbase = 0x0901_0000\nsize = 0x200\ncompatible = [\"arm,pl031\"]\n";
    std::fs::write(s.board(), board).unwrap();
    let e = crate::check(&s.board(), &s.system())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "device[4].size: device \"half\" at 0x901_0000..0x901_0200 is not whole 4K pages"
        ),
        "{e}"
    );
}
