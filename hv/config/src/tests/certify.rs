//! The certificate's checker on plans: W^X of the generated EL2 map, and mutated tables
//! and descriptors rejected with the right property named. (The same mutations of
//! linked images run in `cargo xtask test`: `certify_rejects_mutations`.)

use super::Setup;
use crate::Plan;
use crate::certify::property::Property;
use crate::isolation::report;
use crate::walk::{Walker, el2_perms};

const TWO: &str = r#"
name = "two"
[[vm]]
name = "a"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 0 }]
console = true
irqs = [112]
[[vm]]
name = "b"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 1 }]
irqs = [113]
"#;

/// Rewrites the leaf descriptor translating `va` in the regime at `root`.
fn rewrite(p: &mut Plan, root: u64, va: u64, f: impl Fn(u64, u8) -> u64) {
    let base = p.desc.hv.tables_base;
    let (at, d, level) = Walker::new(&p.tables_blob, base)
        .descriptor(root, va)
        .unwrap()
        .unwrap();
    let at = (at - base) as usize;
    p.tables_blob[at..at + 8].copy_from_slice(&f(d, level).to_le_bytes());
}

fn only_violation(p: &Plan) -> Property {
    let r = report(p);
    let props: Vec<Property> = r.violations.iter().map(|v| v.property).collect();
    assert!(!props.is_empty(), "no violation");
    props[0]
}

#[test]
fn el2_map_is_w_xor_x_and_tables_are_read_only() {
    let p = Setup::new(TWO).plan();
    let r = report(&p);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    let d = p.desc;
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    let l = &p.layout;
    let rights = |a: u64| {
        let leaf = w.translate(d.hv.ttbr0_el2, a).unwrap().unwrap();
        let p = el2_perms(leaf.attrs);
        (p.write, p.exec)
    };
    assert_eq!(rights(l.hv_code.base), (false, true), "code is RX");
    assert_eq!(rights(l.hv_rodata.base), (false, false), "rodata is R");
    assert_eq!(rights(l.hv_data.base), (true, false), "data is RW+XN");
    assert_eq!(rights(l.tables.base), (false, false), "tables are R");
    assert_eq!(rights(l.images.base), (false, false), "image store is R");
    assert_eq!(rights(d.vms[0].ram_pa), (true, false), "VM RAM is RW+XN");
    // The default split of 4M: a quarter code, a quarter read-only data.
    assert_eq!(
        (l.hv_code.size, l.hv_rodata.size, l.hv_data.size),
        (1 << 20, 1 << 20, 2 << 20)
    );
    for leaf in w.leaves(d.hv.ttbr0_el2).unwrap() {
        let p = el2_perms(leaf.attrs);
        assert!(!(p.write && p.exec), "{leaf:?}");
    }
    for name in [
        "el2-w-xor-x",
        "tables-read-only",
        "irq-ownership",
        "vcpu-placement",
    ] {
        assert!(
            r.checked.get(name).copied().unwrap_or(0) > 0,
            "{name} checked nothing"
        );
    }
}

#[test]
fn writable_code_page_violates_w_xor_x() {
    let mut p = Setup::new(TWO).plan();
    let (root, at) = (p.desc.hv.ttbr0_el2, p.layout.hv_code.base + 0x3000);
    rewrite(&mut p, root, at, |d, _| d & !(1 << 7));
    assert_eq!(only_violation(&p), Property::El2WxorX);
    let e = crate::isolation::check(&p).unwrap_err();
    assert!(
        e.starts_with(&format!("el2-w-xor-x: EL2 at {}", crate::fmt::hex(at))),
        "{e}"
    );
}

#[test]
fn writable_tables_violate_tables_read_only() {
    let mut p = Setup::new(TWO).plan();
    let (root, at) = (p.desc.hv.ttbr0_el2, p.desc.hv.tables_base);
    rewrite(&mut p, root, at, |d, _| d & !(1 << 7));
    let r = report(&p);
    let v = r.first(Property::TablesReadOnly).expect("tables writable");
    // The mutated page now has the data region's attributes: the coalesced leaf starts
    // there, the violation still names the first table byte.
    assert_eq!((v.regime.as_str(), v.address), ("EL2", Some(at)), "{v}");
}

#[test]
fn stage2_output_into_another_vm_violates_disjointness() {
    let mut p = Setup::new(TWO).plan();
    let (a, b) = (&p.desc.vms[0], &p.desc.vms[1]);
    let (root, ipa, target) = (a.s2_root, a.ram_ipa, b.ram_pa);
    rewrite(&mut p, root, ipa, |d, level| {
        let mask = !((1u64 << (39 - 9 * u32::from(level))) - 1) & crate::tables::bits::OA_MASK;
        (d & !crate::tables::bits::OA_MASK) | (target & mask)
    });
    let r = report(&p);
    let v = r
        .first(Property::VmMemoryDisjoint)
        .expect("disjointness violated");
    assert_eq!((v.regime.as_str(), v.address), ("vm a stage 2", Some(ipa)));
    assert!(v.message.contains("reaches the RAM of vm b"), "{v}");
}

#[test]
fn gicd_in_a_vm_violates_no_foreign_device() {
    let mut p = Setup::new(TWO).plan();
    let a = &p.desc.vms[0];
    let (root, ipa, gicd) = (
        a.s2_root,
        a.ram_ipa + a.ram_size - 0x1000,
        p.desc.devices.gicd_base,
    );
    rewrite(&mut p, root, ipa, |d, _| {
        (d & !crate::tables::bits::OA_MASK) | gicd
    });
    let v = report(&p);
    let v = v.first(Property::NoForeignDevice).expect("device reached");
    assert!(v.message.contains("GIC distributor"), "{v}");
}

#[test]
fn the_generator_is_checked_on_every_plan() {
    // A system whose code budget leaves no room for data does not even lay out.
    let s = Setup::new(&TWO.replace(
        "name = \"two\"",
        "name = \"two\"\n[hypervisor]\nmemory = \"2M\"\ncode = \"1M\"\nrodata = \"1M\"",
    ));
    let e = crate::plan(&s.board(), &s.system(), s.dir.path(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sys.toml: hypervisor.code: code (1M) and read-only data (1M) leave no room"),
        "{e}"
    );
}

/// Built images (`cargo xtask certify` first): the descriptor decoded from each linked
/// image through its DWARF equals the toolkit's plan of its system, field for field.
/// `cargo test -p hv-config -- --ignored`; `cargo xtask test` checks the same per system.
#[test]
#[ignore = "needs images built by cargo xtask"]
fn decoded_descriptors_match_plans() {
    let root = super::repo();
    let images = root.join("target/images/qemu-virt");
    let guests = root.join("target/firmware/aarch64-unknown-none/release");
    let mut n = 0;
    for dir in std::fs::read_dir(&images).expect("no images built") {
        let dir = dir.unwrap().path();
        let label = dir.file_name().unwrap().to_string_lossy().into_owned();
        let system = root.join(format!(
            "boards/qemu-virt/systems/{}.toml",
            label.split('+').next().unwrap()
        ));
        let Ok(bytes) = std::fs::read(dir.join("hv.elf")) else {
            continue;
        };
        let elf = crate::certify::elf::Elf::parse(bytes).unwrap();
        let got = crate::certify::descriptor(&elf).unwrap_or_else(|e| panic!("{label}: {e}"));
        let board = root.join("boards/qemu-virt/board.toml");
        let plan = crate::plan(&board, &system, &guests, None).unwrap();
        assert_eq!(format!("{:#?}", plan.desc), format!("{got:#?}"), "{label}");
        n += 1;
    }
    assert!(n > 0, "no image under {}", images.display());
}
