//! Payload formats end to end: an ELF, a raw binary and a Linux `Image` each booted with
//! or without the generated device tree, and the errors that name the file.

use super::Setup;
use crate::plan;
use fdt::Fdt;

const RAM: u64 = 0x4000_0000;

fn system(payload: &str) -> String {
    format!(
        "name = \"t\"\n[[vm]]\nname = \"a\"\nmemory = \"16M\"\n{payload}\nvcpus = [{{ cpu = 0 }}]\n"
    )
}

fn plan_err(s: &Setup) -> String {
    plan(&s.board(), &s.system(), s.dir.path(), None)
        .unwrap_err()
        .to_string()
}

#[test]
fn elf_image_gets_no_tree_unless_asked() {
    let s = Setup::new(&system("image = \"hello\""));
    let p = s.plan();
    assert!(p.desc.vms[0].dtb.is_none());
    let s = Setup::new(&system("image = \"hello\"\ndtb = true"));
    let p = s.plan();
    let vm = &p.desc.vms[0];
    assert_eq!((vm.image.load_ipa, vm.entry_ipa), (RAM, RAM));
    // Half-way up the 16 MiB, where QEMU would put it, clear of the ELF's BSS.
    assert_eq!(vm.dtb.unwrap().load_ipa, RAM + (8 << 20));
    let fdt = Fdt::new(&p.payloads.vms[0].dtb.as_ref().unwrap().bytes).unwrap();
    let mem = fdt.memory().regions().next().unwrap();
    assert_eq!(
        (mem.starting_address as u64, mem.size),
        (RAM, Some(16 << 20))
    );
    crate::isolation::check(&p).unwrap();
}

#[test]
fn raw_binary_loads_at_0x80000_with_its_tree() {
    let s = Setup::new(&system("kernel = \"fw.bin\""));
    std::fs::write(s.dir.path().join("fw.bin"), vec![0x14u8; 0x3000]).unwrap();
    let p = s.plan();
    let vm = &p.desc.vms[0];
    assert_eq!(
        (vm.image.load_ipa, vm.entry_ipa),
        (RAM + 0x8_0000, RAM + 0x8_0000)
    );
    assert_eq!(vm.image.size, 0x3000);
    assert_eq!(vm.dtb.unwrap().load_ipa, RAM + (8 << 20));
    // `dtb = false` leaves x0 = 0.
    let s = Setup::new(&system("image = \"fw.bin\""));
    std::fs::write(s.dir.path().join("fw.bin"), vec![0x14u8; 0x3000]).unwrap();
    assert!(s.plan().desc.vms[0].dtb.is_none());
}

#[test]
fn elf_kernel_gets_a_tree_by_default() {
    let s = Setup::new(&system("kernel = \"hello\""));
    let vm = &s.plan().desc.vms[0];
    assert_eq!(vm.dtb.unwrap().load_ipa, RAM + (8 << 20));
}

#[test]
fn raw_binary_bigger_than_ram_names_the_file() {
    let s = Setup::new(&system("image = \"big.bin\""));
    std::fs::write(s.dir.path().join("big.bin"), vec![1u8; 16 << 20]).unwrap();
    let e = plan_err(&s);
    assert!(
        e.contains("big.bin: raw binary of 16777216 bytes (no ELF or Linux Image header) does not fit at 0x4008_0000 in vm \"a\" RAM"),
        "{e}"
    );
}

#[test]
fn elf_outside_ram_names_the_file_and_segment() {
    let s = Setup::new(&system("image = \"far\""));
    std::fs::write(
        s.dir.path().join("far"),
        crate::image::tests::tiny_elf(0x5000_0000, &[(0x5000_0000, b"abcd", 4)]),
    )
    .unwrap();
    let e = plan_err(&s);
    assert!(
        e.contains("far: PT_LOAD segment 0 at 0x5000_0000..0x5000_0004 lies outside vm \"a\" RAM at IPA 0x4000_0000..0x4100_0000"),
        "{e}"
    );
}
