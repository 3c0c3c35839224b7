//! Walker-based isolation tests, including a property test over random valid systems.

use super::Setup;
use crate::isolation::check;
use crate::walk::{Walker, s2_perms};
use proptest::prelude::*;

const RICH: &str = r#"
name = "rich"
[hypervisor]
memory = "6M"
[[vm]]
name = "a"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 0, priority = 2 }, { cpu = 1 }]
console = true
irqs = [112]
[[vm]]
name = "b"
memory = "8M"
base = 0x5000_1000
ipa = 0x2000_0000
image = "other"
vcpus = [{ cpu = 1, priority = 3 }]
restart = "restart"
[[channel]]
name = "ping"
from = "a"
to = "b"
intid = 100
[[shared]]
name = "ring"
size = "64K"
maps = [{ vm = "a", ipa = 0x1000_0000, access = "rw" }, { vm = "b", ipa = 0x3000_0000, access = "ro" }]
[[shared]]
name = "big"
size = "4M"
base = 0x6000_0000
maps = [{ vm = "b", ipa = 0x3100_0000 }]
[[emulated]]
vm = "a"
base = 0x0a00_0000
size = "4K"
by = "b"
intid = 101
[[slots]]
cpu = 1
table = [{ vcpu = "a:1", us = 500 }, { vcpu = "b", ticks = 1000 }, { us = 100 }]
"#;

fn rich_setup() -> Setup {
    // `other` is linked at 0x4000_0000; vm b's RAM IPA is 0x2000_0000.
    let s = Setup::new(RICH);
    let elf = crate::image::tests::tiny_elf(0x2000_0010, &[(0x2000_0000, b"other", 5)]);
    std::fs::write(s.dir.path().join("other"), elf).unwrap();
    s
}

#[test]
fn rich_system_is_isolated() {
    let p = rich_setup().plan();
    check(&p).unwrap();
    let d = p.desc;
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    // vm b's RAM is 4K aligned only: pages, and the read-only shared window is RO and XN.
    let b = &d.vms[1];
    assert_eq!(b.ram_pa, 0x5000_1000);
    let stats = &p.tables.regimes[2];
    assert_eq!(
        stats.blocks_2m, 2,
        "the 4M shared region at 2M-aligned IPA/PA uses blocks"
    );
    assert_eq!(stats.pages_4k, 8 * 256 + 16);
    let ro = w.translate(b.s2_root, 0x3000_0000).unwrap().unwrap();
    let perms = s2_perms(ro.attrs);
    assert!(perms.read && !perms.write && !perms.exec);
    assert_eq!(ro.pa, d.shared[0].pa);
    // The emulated range and the vGIC are unmapped.
    assert!(
        w.translate(d.vms[0].s2_root, 0x0a00_0000)
            .unwrap()
            .is_none()
    );
    assert!(
        w.translate(d.vms[0].s2_root, 0x0800_0000)
            .unwrap()
            .is_none()
    );
    assert_eq!(d.slots[0].slots.len(), 3);
    assert_eq!(d.cpus[1].schedule, &[2, 1]);
    let text = crate::explain::explain(&p);
    assert!(
        text.contains("cpu 1 slots: a:1 500us | b:0 1000 ticks | idle 100us"),
        "{text}"
    );
    assert!(
        crate::emit::system_rs(&p).contains("restart: hv_core::sysdesc::RestartPolicy::Restart")
    );
}

#[test]
fn checker_catches_a_leak_into_the_hypervisor() {
    let mut p = rich_setup().plan();
    // Point vm a's first RAM block at the hypervisor image.
    let d = p.desc;
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    let leaf = w
        .translate(d.vms[0].s2_root, d.vms[0].ram_ipa)
        .unwrap()
        .unwrap();
    let needle = (leaf.pa | leaf.attrs | 1).to_le_bytes();
    let at = p.tables_blob.windows(8).position(|x| x == needle).unwrap();
    p.tables_blob[at..at + 8].copy_from_slice(&(d.hv.image_base | leaf.attrs | 1).to_le_bytes());
    assert!(check(&p).unwrap_err().contains("hypervisor image"));
}

#[test]
fn virtio_window_is_el2_device_memory_and_in_no_vm() {
    use crate::tables::EL2_DEVICE;
    let p = rich_setup().plan();
    let d = p.desc;
    assert_eq!(
        (
            d.devices.virtio_mmio_base,
            d.devices.virtio_mmio_stride,
            d.devices.virtio_mmio_count
        ),
        (0x0a00_0000, 0x200, 32)
    );
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    // 32 slots of 0x200 bytes: four pages, identity-mapped as device memory at EL2.
    for a in (0x0a00_0000u64..0x0a00_4000).step_by(0x200) {
        let l = w.translate(d.hv.ttbr0_el2, a).unwrap().unwrap();
        assert_eq!((l.pa + (a - l.va), l.attrs), (a, EL2_DEVICE), "{a:#x}");
    }
    assert!(w.translate(d.hv.ttbr0_el2, 0x0a00_4000).unwrap().is_none());
    // No VM's stage-2 leaf reaches it (vm a even has an emulated range at that IPA).
    for vm in d.vms {
        for l in w.leaves(vm.s2_root).unwrap() {
            assert!(
                l.pa + l.size <= 0x0a00_0000 || l.pa >= 0x0a00_4000,
                "vm {} maps {:#x}",
                vm.name,
                l.pa
            );
        }
    }
}

#[test]
fn checker_catches_a_vm_reaching_the_virtio_window() {
    let mut p = rich_setup().plan();
    // Point vm b's last RAM page (4K pages: its RAM is not 2M aligned) at a virtio slot.
    let d = p.desc;
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    let b = &d.vms[1];
    let last = b.ram_ipa + b.ram_size - 0x1000;
    let leaf = w.translate(b.s2_root, last).unwrap().unwrap();
    assert_eq!(leaf.size, 0x1000);
    let needle = (leaf.pa | leaf.attrs | 0b11).to_le_bytes();
    let at = p.tables_blob.windows(8).position(|x| x == needle).unwrap();
    p.tables_blob[at..at + 8].copy_from_slice(&(0x0a00_3000 | leaf.attrs | 0b11).to_le_bytes());
    let e = check(&p).unwrap_err();
    assert!(
        e.contains("vm b reaches the hypervisor's virtio-mmio window at 0xa00_3000"),
        "{e}"
    );
}

/// A random valid system: 1-4 VMs with random sizes, optional odd fixed bases,
/// and a shared region between the first two.
fn arb_system() -> impl Strategy<Value = String> {
    let vm = (1u64..12, any::<bool>(), 0u64..8, 0u8..4, any::<bool>());
    (prop::collection::vec(vm, 1..=4), 1u64..64, any::<bool>()).prop_map(|(vms, shared_pages, ro)| {
        let mut s = String::from("name = \"p\"\n");
        for (i, (mb, fixed, off, prio, other_ipa)) in vms.iter().enumerate() {
            // The test ELF is linked at the default IPA: elsewhere, use a placeholder.
            let image = if *other_ipa && i > 0 { "missing" } else { "hello" };
            s += &format!("[[vm]]\nname = \"v{i}\"\nmemory = \"{}K\"\nimage = \"{image}\"\n", mb * 1024 + 4 * off);
            if *fixed {
                // Fixed bases in the top quarter of RAM, apart from each other.
                s += &format!("base = {:#x}\n", 0x7000_0000 + i as u64 * 0x0100_0000 + off * 0x1000);
            }
            if *other_ipa && i > 0 {
                s += &format!("ipa = {:#x}\nentry = {:#x}\n", 0x1_0000_0000u64 + 0x1000 * off, 0x1_0000_0000u64 + 0x1000 * off);
            }
            s += &format!("vcpus = [{{ cpu = {}, priority = {prio} }}]\n", i % 4);
        }
        if vms.len() > 1 {
            let access = if ro { "ro" } else { "rw" };
            s += &format!(
                "[[shared]]\nname = \"s\"\nsize = \"{}K\"\nmaps = [{{ vm = \"v0\", ipa = 0x1000_0000 }}, {{ vm = \"v1\", ipa = 0x2000_0000, access = \"{access}\" }}]\n",
                shared_pages * 4
            );
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_valid_systems_are_isolated(system in arb_system()) {
        let s = Setup::new(&system);
        let p = crate::plan(&s.board(), &s.system(), s.dir.path(), Some(0x1000));
        let p = p.map_err(|e| TestCaseError::fail(format!("{e}\n{system}")))?;
        prop_assert!(check(&p).is_ok(), "{:?}\n{system}", check(&p));
    }
}
