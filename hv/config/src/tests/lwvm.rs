//! Lightweight VMs end to end: layout, the E2H=1 tables (walked back), the description,
//! the emitted source, and the checker catching leaks.

use super::Setup;
use crate::isolation::check;
use crate::lwvm::{LW_RAM, WINDOW_BASE};
use crate::vhe::{TCR_EL2_VHE, vbits, vhe_perms};
use crate::walk::{Walker, coalesce};
use crate::{GenerateRequest, generate_for};

pub(super) const LW: &str = r#"
name = "lw"
[[vm]]
name = "a"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 0, priority = 2 }]
console = true
[[lwvm]]
name = "svc"
memory = "1M"
image = "lw"
cpu = 0
priority = 1
[[lwvm]]
name = "other"
memory = "2M"
base = 0x7000_0000
image = "lw"
cpu = 1
restart = "restart"
console = false
[[channel]]
name = "req"
from = "a"
to = "svc"
[[channel]]
name = "ans"
from = "svc"
to = "a"
intid = 101
[[channel]]
name = "side"
from = "svc"
to = "other"
[[shared]]
name = "ring"
size = "64K"
maps = [{ vm = "a", ipa = 0x5000_0000 }, { vm = "svc", ipa = 0x40_1000_0000, access = "ro" }]
"#;

pub(super) fn lw_setup(system: &str) -> Setup {
    let s = Setup::new(system);
    let code: Vec<u8> = (0..64u8).collect();
    let elf = crate::image::tests::tiny_elf(WINDOW_BASE, &[(WINDOW_BASE, &code, 0x3000)]);
    std::fs::write(s.dir.path().join("lw"), elf).unwrap();
    s
}

#[test]
fn lwvms_are_laid_out_described_and_isolated() {
    let p = lw_setup(LW).plan();
    check(&p).unwrap();
    let d = p.desc;
    assert!(d.hv.e2h);
    assert_eq!(d.hv.tcr_el2, TCR_EL2_VHE);
    // Full VMs first, then lwVMs, in one table; each lwVM has one schedule slot.
    assert_eq!(d.vms.len(), 3);
    let (svc, other) = (&d.vms[1], &d.vms[2]);
    assert!(d.vms[0].lwvm.is_none());
    let (ls, lo) = (svc.lwvm.unwrap(), other.lwvm.unwrap());
    assert_eq!((ls.asid, lo.asid), (1, 2));
    assert_eq!((svc.ram_ipa, svc.ram_size), (WINDOW_BASE, 1 << 20));
    assert_eq!(ls.stack_top, WINDOW_BASE + (1 << 20));
    assert_eq!(other.ram_pa, 0x7000_0000);
    assert_eq!(other.restart, hv_core::sysdesc::RestartPolicy::Restart);
    assert!(svc.console && !other.console);
    assert_eq!(d.vcpus.len(), 3);
    assert_eq!(
        (d.vcpus[1].vm, d.vcpus[1].cpu, d.vcpus[1].priority),
        (1, 0, 1)
    );
    assert_eq!(d.cpus[0].schedule, &[0, 1], "vm a (2) before svc (1)");
    assert_eq!(d.cpus[1].schedule, &[2]);
    // Channels into an lwVM carry their own index as the event bit.
    assert_eq!((d.channels[0].to, d.channels[0].virt_intid), (1, 0));
    assert_eq!((d.channels[1].to, d.channels[1].virt_intid), (0, 101));
    assert_eq!(
        (
            d.channels[2].from,
            d.channels[2].to,
            d.channels[2].virt_intid
        ),
        (1, 2, 2)
    );
    assert_eq!(d.shared[0].maps[1].vm, 1);

    let text = crate::explain::explain(&p);
    assert!(text.contains("asid 1  svc"), "{text}");
    assert!(
        text.contains("cpu 0 (mpidr 0x0, capacity 1024): a:0, svc (lwvm)"),
        "{text}"
    );
    let rs = crate::emit::system_rs(&p);
    assert!(
        rs.contains("lwvm: Some(hv_core::sysdesc::LwvmDesc {"),
        "{rs}"
    );
    assert!(rs.contains("e2h: true"));
}

#[test]
fn user_pages_are_only_the_lwvms_own_and_hypervisor_pages_never_el0() {
    let p = lw_setup(LW).plan();
    let d = p.desc;
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    let el2: Vec<_> = coalesce(&w.leaves(d.hv.ttbr0_el2).unwrap());
    assert!(
        el2.iter()
            .all(|l| !vhe_perms(l.attrs).el0 && l.attrs & vbits::UXN != 0)
    );
    for (i, vm) in d.vms.iter().enumerate() {
        let Some(lw) = vm.lwvm else { continue };
        let leaves = coalesce(&w.leaves(lw.root).unwrap());
        for l in &leaves {
            let perms = vhe_perms(l.attrs);
            if !perms.el0 {
                assert!(
                    el2.contains(l),
                    "lwvm {}: privileged leaf {l:?} is not the EL2 map's",
                    vm.name
                );
                continue;
            }
            assert!(!perms.el2_exec && perms.ng, "{l:?}");
            let own = l.pa >= vm.ram_pa && l.pa + l.size <= vm.ram_pa + vm.ram_size;
            let shared = d.shared.iter().any(|s| {
                s.maps.iter().any(|m| {
                    usize::from(m.vm) == i && l.pa >= s.pa && l.pa + l.size <= s.pa + s.size
                })
            });
            assert!(own || shared, "lwvm {}: EL0 reaches {:#x}", vm.name, l.pa);
            if shared {
                assert!(
                    perms.read_only && !perms.el0_exec,
                    "the ro map stays ro and XN"
                );
            }
        }
        // The hypervisor image, tables and the other lwVM's memory: privileged only.
        for a in [
            d.hv.image_base,
            d.hv.tables_base,
            d.vms[0].ram_pa,
            d.vms[3 - i].ram_pa,
        ] {
            let l = w.translate(lw.root, a).unwrap().unwrap();
            assert!(!vhe_perms(l.attrs).el0, "lwvm {} reaches {a:#x}", vm.name);
        }
        // Its own memory: at the window, RWX for EL0, never executable at EL2.
        let m = w.translate(lw.root, WINDOW_BASE).unwrap().unwrap();
        assert_eq!((m.pa, m.attrs), (vm.ram_pa, LW_RAM));
    }
    // The other lwVM's window is not the first's: separate address spaces.
    let a = w
        .translate(d.vms[1].lwvm.unwrap().root, WINDOW_BASE)
        .unwrap()
        .unwrap();
    let b = w
        .translate(d.vms[2].lwvm.unwrap().root, WINDOW_BASE)
        .unwrap()
        .unwrap();
    assert_ne!(a.pa, b.pa);
}

#[test]
fn checker_catches_an_el0_leak_into_the_hypervisor() {
    let mut p = lw_setup(LW).plan();
    let d = p.desc;
    let lw = d.vms[1].lwvm.unwrap();
    let w = Walker::new(&p.tables_blob, d.hv.tables_base);
    // Make the lwVM's privileged copy of the hypervisor image EL0-accessible: the
    // descriptor in the lwVM's own tables (not the EL2 map's identical one).
    let (at, desc, _) = w.descriptor(lw.root, d.hv.image_base).unwrap().unwrap();
    let el2_tables = w.tables(d.hv.ttbr0_el2).unwrap();
    assert!(!el2_tables.contains(&(at & !0xfff)));
    let at = (at - d.hv.tables_base) as usize;
    p.tables_blob[at..at + 8].copy_from_slice(&(desc | vbits::AP_EL0).to_le_bytes());
    let e = check(&p).unwrap_err();
    assert!(e.contains("lwvm svc"), "{e}");
}

#[test]
fn vhe_flavour_without_lwvms_when_the_image_asks() {
    let text =
        std::fs::read_to_string(super::repo().join("boards/qemu-virt/systems/hello.toml")).unwrap();
    let s = Setup::new(&text);
    let out = s.dir.path().join("out");
    let req = GenerateRequest {
        board: &s.board(),
        system: &s.system(),
        images_dir: s.dir.path(),
        out_dir: &out,
    };
    generate_for(&req, true).unwrap();
    let rs = std::fs::read_to_string(out.join("system.rs")).unwrap();
    assert!(
        rs.contains("e2h: true")
            && rs.contains(&format!("tcr_el2: {}", crate::fmt::hex(TCR_EL2_VHE))),
        "{rs}"
    );
    generate_for(&req, false).unwrap();
    let rs = std::fs::read_to_string(out.join("system.rs")).unwrap();
    assert!(rs.contains("e2h: false"));
    // The E2H=1 plan passes the same checks.
    let mut cfg = crate::check(&s.board(), &s.system()).unwrap();
    cfg.force_vhe = true;
    let payloads =
        crate::payload::load_payloads(&cfg, s.dir.path(), None, crate::EXTENSIONS).unwrap();
    let p = crate::plan_with(cfg, payloads).unwrap();
    check(&p).unwrap();
}

#[test]
fn lwvms_need_an_image_built_with_the_feature() {
    let s = lw_setup(LW);
    let out = s.dir.path().join("out");
    let req = GenerateRequest {
        board: &s.board(),
        system: &s.system(),
        images_dir: s.dir.path(),
        out_dir: &out,
    };
    let e = generate_for(&req, false).unwrap_err().to_string();
    assert!(e.contains("sys.toml: lwvm: lightweight VMs ([[lwvm]]) need the hypervisor built with the `lwvm` feature"), "{e}");
}

#[test]
fn shadow_paged_lwvms_get_a_pool_their_grants_and_asids_of_their_own() {
    let sys = LW
        .replace(
            "cpu = 0\npriority = 1\n",
            "cpu = 0\npriority = 1\npaging = \"shadow\"\nshadow-pool = \"32K\"\nshadow-roots = 3\n",
        )
        .replace(
            "restart = \"restart\"\n",
            "restart = \"restart\"\npaging = \"shadow\"\n",
        );
    let p = lw_setup(&sys).plan();
    check(&p).unwrap();
    let d = p.desc;
    let (svc, other) = (&d.vms[1], &d.vms[2]);
    let (s, o) = (
        svc.lwvm.unwrap().shadow.unwrap(),
        other.lwvm.unwrap().shadow.unwrap(),
    );
    assert_eq!((s.slot, o.slot), (0, 1));
    assert_eq!((s.pool_pages, s.roots), (8, 3));
    assert_eq!((o.pool_pages, o.roots), (16, 4), "defaults: 64K, 4 roots");
    // Hardware ASIDs after the lwVMs' own (1, 2), none shared.
    assert_eq!((s.asid_first, o.asid_first), (3, 6));
    // Its memory (tables may live there) and the shared region it names (read-only).
    assert_eq!(s.grants.len(), 2);
    assert_eq!(
        (s.grants[0].gpa, s.grants[0].pa, s.grants[0].size),
        (WINDOW_BASE, svc.ram_pa, svc.ram_size)
    );
    assert!(s.grants[0].tables && s.grants[0].writable && s.grants[0].exec);
    let ring = &s.grants[1];
    assert_eq!(ring.gpa, 0x40_1000_0000);
    assert!(!ring.tables && !ring.writable && !ring.exec && !ring.cached);
    // The pools are apart from every VM's memory and mapped for the hypervisor only.
    for pool in [s.pool, o.pool] {
        for v in d.vms {
            assert!(pool + 0x8000 <= v.ram_pa || pool >= v.ram_pa + v.ram_size);
        }
    }
    let text = crate::explain::explain(&p);
    assert!(
        text.contains("shadow paging: pool") && text.contains("3 roots on hardware ASIDs 3..=5"),
        "{text}"
    );
    let rs = crate::emit::system_rs(&p);
    assert!(
        rs.contains("shadow: Some(hv_core::sysdesc::ShadowDesc {"),
        "{rs}"
    );
    // An image without the feature refuses the system, naming the field.
    let e = crate::check_image(
        &lw_setup(&sys).board(),
        &lw_setup(&sys).system(),
        crate::ImageFeatures::from_names(&["lwvm"]),
    )
    .unwrap_err();
    assert_eq!(e.diagnostics()[0].field, "lwvm[0].paging", "{e}");
    assert!(e.to_string().contains("--features shadow-paging"), "{e}");
    let with = crate::ImageFeatures::from_names(&["shadow-paging"]);
    assert!(with.vhe && with.shadow_paging);
}
