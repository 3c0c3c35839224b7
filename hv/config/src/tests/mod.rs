//! End-to-end tests: the real board, systems written to temp files, fake guest ELFs.

mod biglittle;
mod boards;
mod certify;
mod devices;
mod dtb;
mod ext;
mod formats;
mod isolation;
mod lwvm;

use crate::image::tests::tiny_elf;
use crate::{GenerateRequest, Plan, generate, plan};
use std::path::{Path, PathBuf};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A temp dir with the qemu-virt board, `system` as `sys.toml` and a guest ELF called
/// `hello` (and `other`) linked at the default RAM IPA.
pub(crate) struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(system: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo().join("boards/qemu-virt/board.toml"),
            dir.path().join("board.toml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("sys.toml"), system).unwrap();
        let code: Vec<u8> = (0..100u8).collect();
        std::fs::write(
            dir.path().join("hello"),
            tiny_elf(0x4000_0000, &[(0x4000_0000, &code, 0x2000)]),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("other"),
            tiny_elf(0x4000_0010, &[(0x4000_0000, b"other", 5)]),
        )
        .unwrap();
        Setup { dir }
    }
    pub fn board(&self) -> PathBuf {
        self.dir.path().join("board.toml")
    }
    pub fn system(&self) -> PathBuf {
        self.dir.path().join("sys.toml")
    }
    pub fn plan(&self) -> Plan {
        plan(&self.board(), &self.system(), self.dir.path(), None).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[test]
fn hello_generates_everything() {
    let text = std::fs::read_to_string(repo().join("boards/qemu-virt/systems/hello.toml")).unwrap();
    let s = Setup::new(&text);
    let out = s.dir.path().join("out");
    let g = generate(&GenerateRequest {
        board: &s.board(),
        system: &s.system(),
        images_dir: s.dir.path(),
        out_dir: &out,
    })
    .unwrap();
    assert_eq!(g.inputs.len(), 3);
    let memory_x = std::fs::read_to_string(out.join("memory.x")).unwrap();
    // The DTB reserve takes the first 2 MiB: the hypervisor lands at the next 2 MiB.
    assert!(memory_x.contains("HV_BASE = 0x40200000;"), "{memory_x}");
    assert!(memory_x.contains("HV_SIZE = 0x400000;"), "{memory_x}");
    assert!(memory_x.contains("TABLES_BASE = 0x40600000;"), "{memory_x}");
    for sym in ["TABLES_SIZE", "IMAGES_BASE", "IMAGES_SIZE"] {
        assert!(memory_x.contains(&format!("{sym} = 0x")), "{memory_x}");
    }
    let rs = std::fs::read_to_string(out.join("system.rs")).unwrap();
    assert!(rs.contains(
        "pub static SYSTEM: hv_core::sysdesc::SystemDesc = hv_core::sysdesc::SystemDesc {"
    ));
    assert!(rs.contains("#[unsafe(link_section = \".hv_tables\")]"));
    assert!(rs.contains("name: \"hello\""));
    let tables = std::fs::read(out.join("tables.bin")).unwrap();
    let images = std::fs::read(out.join("images.bin")).unwrap();
    assert!(rs.contains(&format!("PageAligned<[u8; {}]>", tables.len())));
    assert!(rs.contains(&format!("PageAligned<[u8; {}]>", images.len())));
    assert_eq!(images.len(), 4096);
    assert!(
        g.layout_text.contains("hypervisor image"),
        "{}",
        g.layout_text
    );
    assert_eq!(
        std::fs::read_to_string(out.join("layout.txt")).unwrap(),
        g.layout_text
    );
}

#[test]
fn hello_plan_matches_the_design() {
    let text = std::fs::read_to_string(repo().join("boards/qemu-virt/systems/hello.toml")).unwrap();
    let p = Setup::new(&text).plan();
    let d = p.desc;
    assert_eq!(d.hv.image_base, 0x4020_0000);
    assert_eq!(d.hv.ttbr0_el2, d.hv.tables_base);
    let vm = &d.vms[0];
    assert_eq!(
        (vm.vmid, vm.ram_ipa, vm.ram_size),
        (1, 0x4000_0000, 16 << 20)
    );
    assert_eq!(vm.ram_pa % (2 << 20), 0);
    assert!(vm.ram_pa >= d.hv.images_base + d.hv.images_size);
    assert_eq!(
        (vm.image.store_pa, vm.image.size, vm.image.load_ipa),
        (d.hv.images_base, 100, 0x4000_0000)
    );
    assert_eq!(d.vcpus[0].vmpidr, 1 << 31);
    assert_eq!(d.cpus.len(), 4);
    assert_eq!(d.cpus[0].schedule, &[0]);
    assert_eq!(p.layout.store[..100], (0..100u8).collect::<Vec<_>>()[..]);
    crate::isolation::check(&p).unwrap();
}

#[test]
fn missing_image_is_a_clear_error_unless_placeholders_are_allowed() {
    let s = Setup::new(
        "name = \"t\"\n[[vm]]\nname = \"a\"\nmemory = \"16M\"\nimage = \"nope\"\nvcpus = [{ cpu = 0 }]\n",
    );
    let e = plan(&s.board(), &s.system(), s.dir.path(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sys.toml: vm[0].image: cannot read "), "{e}");
    assert!(e.contains("/nope"), "{e}");
    let p = plan(&s.board(), &s.system(), s.dir.path(), Some(0x8000)).unwrap();
    assert_eq!(p.payloads.warnings.len(), 1);
    assert_eq!(p.desc.vms[0].image.size, 0x8000);
}

#[test]
fn out_of_memory_names_the_vm() {
    let s = Setup::new(
        "name = \"t\"\n[[vm]]\nname = \"big\"\nmemory = \"2G\"\nimage = \"hello\"\nvcpus = [{ cpu = 0 }]\n",
    );
    let e = plan(&s.board(), &s.system(), s.dir.path(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sys.toml: vm[0].memory: out of memory: vm big RAM needs 2G"),
        "{e}"
    );
}

#[test]
fn identical_images_are_stored_once() {
    let vm = |n: &str, cpu: u8| {
        format!(
            "[[vm]]\nname = \"{n}\"\nmemory = \"4M\"\nimage = \"hello\"\nvcpus = [{{ cpu = {cpu} }}]\n"
        )
    };
    let s = Setup::new(&format!("name = \"t\"\n{}{}", vm("a", 0), vm("b", 1)));
    let p = s.plan();
    assert_eq!(p.desc.vms[0].image.store_pa, p.desc.vms[1].image.store_pa);
    assert_eq!(p.layout.store.len(), 4096);
}

#[test]
fn schedule_is_by_priority_and_stable() {
    let vm = |n: &str, prio: u8| {
        format!(
            "[[vm]]\nname = \"{n}\"\nmemory = \"4M\"\nimage = \"hello\"\nvcpus = [{{ cpu = 2, priority = {prio} }}]\n"
        )
    };
    let s = Setup::new(&format!(
        "name = \"t\"\n{}{}{}",
        vm("a", 1),
        vm("b", 5),
        vm("c", 1)
    ));
    let d = s.plan().desc;
    assert_eq!(d.cpus[2].schedule, &[1, 0, 2]);
    assert_eq!(d.vms.iter().map(|v| v.vmid).collect::<Vec<_>>(), [1, 2, 3]);
}
