//! The balloon extension offline: validation names every field, every set maps exactly
//! what it must, and the certificate refuses a set that would put a page in two VMs.
use crate::certify::property::Property;
use crate::isolation::{check, report};
use crate::tests::Setup;
use crate::walk::Walker;

const POOL: &str = r#"
name = "pool"
[[vm]]
name = "a"
memory = "4M"
image = "hello"
vcpus = [{ cpu = 0 }]
[[vm]]
name = "b"
memory = "4M"
image = "hello"
vcpus = [{ cpu = 1 }]
[[elastic]]
name = "p"
size = "8M"
blocks = 4
vms = ["a", "b"]
ipa = 0x8000_0000
initial = [1, 2]
manager = "a"
intid = 120
"#;

fn errors(system: &str) -> String {
    let s = Setup::new(system);
    match crate::check(&s.board(), &s.system()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_set_maps_its_count_from_its_end_of_the_pool() {
    let p = Setup::new(POOL).plan();
    let d = p.desc;
    let e = &d.elastic[0];
    assert_eq!((e.blocks, e.block_size, e.holders.len()), (4, 2 << 20, 2));
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    for (h, x) in e.holders.iter().enumerate() {
        assert_eq!(x.roots.len(), 5);
        assert_eq!(
            d.vms[usize::from(x.vm)].s2_root,
            x.roots[x.initial as usize]
        );
        for (k, &root) in x.roots.iter().enumerate() {
            for i in 0..4u32 {
                let got = w
                    .translate(root, x.ipa + u64::from(i) * e.block_size)
                    .unwrap();
                match got {
                    Some(l) if (i as usize) < k => assert_eq!(l.pa, e.block_pa(h, i)),
                    None if (i as usize) >= k => {}
                    other => panic!("holder {h} set {k} block {i}: {other:?}"),
                }
            }
        }
    }
    // Holder 1's window block 0 is the pool's last block.
    assert_eq!(e.block_pa(1, 0), e.pa + 3 * e.block_size);
    // The pool's SPI is owned by both holders (and the manager).
    assert!(d.vms.iter().all(|v| v.owned_spis.contains(&120)));
    let r = report(&p);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    // 2 holders × 5 sets, and the 15 pairs of counts that fit in 4 blocks.
    assert_eq!(r.checked.get("elastic-sets"), Some(&(10 + 15)));
}

#[test]
fn a_set_reaching_the_other_holders_blocks_is_refused() {
    let mut p = Setup::new(POOL).plan();
    let d = p.desc;
    let e = &d.elastic[0];
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    // Holder 0's set for 2 blocks: point its second block at the pool's last block,
    // which holder 1's set for 2 maps too (2 + 2 = 4 fits).
    let x = &e.holders[0];
    let l = w
        .translate(x.roots[2], x.ipa + e.block_size)
        .unwrap()
        .unwrap();
    let needle = (l.pa | l.attrs | 1).to_le_bytes();
    let tables = &mut p.tables_blob;
    let at = tables
        .windows(8)
        .enumerate()
        .filter(|(i, win)| i % 8 == 0 && *win == needle)
        .map(|(i, _)| i)
        .next()
        .unwrap();
    let wrong = e.block_pa(1, 0);
    tables[at..at + 8].copy_from_slice(&(wrong | l.attrs | 1).to_le_bytes());
    let r = report(&p);
    assert!(
        r.first(Property::ElasticSets).is_some(),
        "{:?}",
        r.violations
    );
    assert!(check(&p).is_err());
}

#[test]
fn validation_names_every_field() {
    let bad = POOL
        .replace("blocks = 4", "blocks = 3")
        .replace(r#"vms = ["a", "b"]"#, r#"vms = ["a", "a", "c"]"#)
        .replace("ipa = 0x8000_0000", "ipa = 0x7FE0_0000")
        .replace("initial = [1, 2]", "initial = [4, 2]")
        .replace(r#"manager = "a""#, r#"manager = "z""#)
        .replace("intid = 120", "intid = 16");
    let e = errors(&bad);
    for field in [
        "elastic[0].blocks",
        "elastic[0].vms",
        "elastic[0].vms[1]",
        "elastic[0].vms[2]",
        "elastic[0].ipa",
        "elastic[0].initial",
        "elastic[0].manager",
        "elastic[0].intid",
    ] {
        assert!(e.contains(field), "no error names {field}: {e}");
    }
    // A window sharing its slot with the VM's RAM is refused by the table stage.
    let s = Setup::new(&POOL.replace("ipa = 0x8000_0000", "ipa = 0x6000_0000"));
    let err = crate::plan(&s.board(), &s.system(), s.dir.path(), None).unwrap_err();
    assert!(err.to_string().contains("elastic[0].ipa"), "{err}");
    // The notification INTID must not clash with a channel into a holder.
    let clash = format!("{POOL}[[channel]]\nname = \"c\"\nfrom = \"a\"\nto = \"b\"\nintid = 120\n");
    assert!(errors(&clash).contains("already used by channel[0]"));
    // An image without the feature refuses the system, naming the field.
    let s = Setup::new(POOL);
    let out = tempfile::tempdir().unwrap();
    let req = crate::GenerateRequest {
        board: &s.board(),
        system: &s.system(),
        images_dir: s.dir.path(),
        out_dir: out.path(),
    };
    let e = crate::generate_with_balloon(&req, false, false, false).unwrap_err();
    assert!(e.to_string().contains("elastic") && e.to_string().contains("--features balloon"));
    crate::generate_with_balloon(&req, false, false, true).unwrap();
}

#[test]
fn a_plan_is_checked_and_described() {
    let plan =
        "plan = [{ at-ms = 50, to = \"b\", blocks = 2 }, { at-ms = 90, to = \"a\", blocks = 4 }]\n";
    let d = Setup::new(&format!("{POOL}{plan}")).plan().desc;
    let got: Vec<(u64, u8, u32)> = d.elastic[0]
        .plan
        .iter()
        .map(|m| (m.at_us, m.to, m.blocks))
        .collect();
    assert_eq!(got, [(50_000, 1, 2), (90_000, 0, 4)]);
    let bad =
        "plan = [{ at-ms = 50, to = \"c\", blocks = 0 }, { at-ms = 50, to = \"a\", blocks = 5 }]\n";
    let e = errors(&format!("{POOL}{bad}"));
    for field in [
        "elastic[0].plan[0].to",
        "elastic[0].plan[0].blocks",
        "elastic[0].plan[1].blocks",
        "elastic[0].plan[1].at-ms",
    ] {
        assert!(e.contains(field), "no error names {field}: {e}");
    }
}

/// `POOL` reshaped for a Linux holder: 128 MiB in 32 power-of-two blocks, `b` sees it
/// through virtio-mem.
fn virtio_pool(extra: &str) -> String {
    POOL.replace("size = \"8M\"", "size = \"128M\"")
        .replace("blocks = 4", "blocks = 32")
        .replace("initial = [1, 2]", "initial = [0, 0]")
        + extra
}

#[test]
fn a_virtio_mem_holder_gets_a_route_and_a_device_tree_node() {
    use crate::ext::ConfigExtension;
    use hv_core::sysdesc::MmioTarget;
    let sys = virtio_pool("virtio-mem = { vm = \"b\" }\n");
    let s = Setup::new(&sys);
    let d = s.plan().desc;
    let e = &d.elastic[0];
    assert_eq!(e.holders[0].virtio_ipa, None);
    assert_eq!(e.holders[1].virtio_ipa, Some(0x0b00_0000));
    let b = &d.vms[1];
    let route = b.mmio.iter().find(|r| r.target == MmioTarget::Extension(0));
    assert_eq!(route.map(|r| (r.base, r.size)), Some((0x0b00_0000, 0x200)));
    assert!(
        !d.vms[0]
            .mmio
            .iter()
            .any(|r| r.target == MmioTarget::Extension(0)),
        "only the virtio-mem holder has the device"
    );
    // Its device tree node: the registers and the pool's SPI, edge-triggered.
    let cfg = crate::config::Config::load(&s.board(), &s.system()).unwrap();
    let devs = super::Balloon.guest_devices(&cfg, 1);
    assert_eq!(devs.len(), 1);
    assert!(super::Balloon.guest_devices(&cfg, 0).is_empty());
    let blob = crate::dtb::guest_dtb(&cfg, 1, None, &devs).unwrap();
    let fdt = fdt::Fdt::new(&blob).unwrap();
    let node = fdt.find_node("/virtio_mmio@b000000").expect("virtio node");
    assert_eq!(node.compatible().unwrap().first(), "virtio,mmio");
    let irq: Vec<u32> = node
        .property("interrupts")
        .unwrap()
        .value
        .chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(irq, [0, 120 - 32, 1]);
    assert!(node.property("dma-coherent").is_some());
}

#[test]
fn virtio_mem_fields_are_checked() {
    // not a holder, a register page on the VM's RAM
    let e = errors(&virtio_pool(
        "virtio-mem = { vm = \"z\", ipa = 0x4000_0000 }\n",
    ));
    assert!(e.contains("elastic[0].virtio-mem.vm"), "{e}");
    let e = errors(&virtio_pool(
        "virtio-mem = { vm = \"b\", ipa = 0x4000_1000 }\n",
    ));
    assert!(
        e.contains("elastic[0].virtio-mem.ipa") && e.contains("RAM"),
        "{e}"
    );
    let e = errors(&virtio_pool(
        "virtio-mem = { vm = \"b\", ipa = 0x0b00_0100 }\n",
    ));
    assert!(
        e.contains("elastic[0].virtio-mem.ipa") && e.contains("4K"),
        "{e}"
    );
    // blocks Linux cannot use: 8 MiB in 4 (2 MiB each, but the window is not whole
    // 128 MiB blocks), 96 MiB in 32 (3 MiB: not a power of two), 128 MiB in 128 (too
    // many for the device)
    let e = errors(&format!("{POOL}virtio-mem = {{ vm = \"b\" }}\n"));
    assert!(e.contains("elastic[0].ipa") && e.contains("128M"), "{e}");
    let e = errors(
        &virtio_pool("virtio-mem = { vm = \"b\" }\n").replace("size = \"128M\"", "size = \"96M\""),
    );
    assert!(
        e.contains("elastic[0].blocks") && e.contains("power-of-two"),
        "{e}"
    );
    let e = errors(
        &virtio_pool("virtio-mem = { vm = \"b\" }\n").replace("blocks = 32", "blocks = 128"),
    );
    assert!(e.contains("at most 64 blocks"), "{e}");
    assert_eq!(errors(&virtio_pool("virtio-mem = { vm = \"b\" }\n")), "");
}
