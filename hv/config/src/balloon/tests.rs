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
