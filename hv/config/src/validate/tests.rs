//! One test per rule; each checks that the message names the file and the field.

use super::validate;
use crate::config::Config;
use std::path::Path;

pub(crate) fn board_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../boards/qemu-virt/board.toml");
    std::fs::read_to_string(path).unwrap()
}

/// Validates `system` (written to a temp file called `sys.toml`) on the qemu-virt board.
fn errors(system: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("board.toml");
    let s = dir.path().join("sys.toml");
    std::fs::write(&b, board_text()).unwrap();
    std::fs::write(&s, system).unwrap();
    let cfg = match Config::load(&b, &s) {
        Ok(c) => c,
        Err(e) => return e.to_string().replace(&dir.path().display().to_string(), ""),
    };
    match validate(&cfg, crate::EXTENSIONS) {
        Ok(()) => String::new(),
        Err(e) => e.to_string().replace(&dir.path().display().to_string(), ""),
    }
}

const VM_A: &str =
    "[[vm]]\nname = \"a\"\nmemory = \"16M\"\nimage = \"hello\"\nvcpus = [{ cpu = 0 }]\n";
const VM_B: &str =
    "[[vm]]\nname = \"b\"\nmemory = \"16M\"\nimage = \"hello\"\nvcpus = [{ cpu = 1 }]\n";

fn sys(extra: &str) -> String {
    format!("name = \"t\"\n{VM_A}{VM_B}{extra}")
}

fn expect(system: &str, needle: &str) {
    let e = errors(system);
    assert!(e.contains(needle), "expected {needle:?} in:\n{e}");
}

#[test]
fn minimal_system_is_valid() {
    assert_eq!(errors(&sys("")), "");
}

#[test]
fn overlapping_fixed_vms() {
    let s = "name = \"t\"\n[[vm]]\nname = \"a\"\nmemory = \"16M\"\nbase = 0x4800_0000\nimage = \"x\"\nvcpus = [{ cpu = 0 }]\n\
             [[vm]]\nname = \"b\"\nmemory = \"16M\"\nbase = 0x4880_0000\nimage = \"x\"\nvcpus = [{ cpu = 1 }]\n";
    expect(
        s,
        "/sys.toml: vm[1].base: vm \"b\" memory 0x4880_0000..0x4980_0000 overlaps vm \"a\" (0x4800_0000..0x4900_0000)",
    );
}

#[test]
fn fixed_vm_overlapping_reserved() {
    let s = sys("").replace("name = \"a\"\n", "name = \"a\"\nbase = 0x4000_0000\n");
    expect(
        &s,
        "sys.toml: vm[0].base: vm \"a\" memory 0x4000_0000..0x4100_0000 overlaps reserved",
    );
}

#[test]
fn memory_beyond_board_ram() {
    let s = sys("").replace("name = \"a\"\n", "name = \"a\"\nbase = 0x7f80_0000\n");
    expect(
        &s,
        "sys.toml: vm[0].base: vm \"a\" memory 0x7f80_0000..0x8080_0000 lies beyond the board's RAM",
    );
}

#[test]
fn shared_overlapping_fixed_vm() {
    let s = sys("[[shared]]\nname = \"r\"\nsize = \"64K\"\nbase = 0x5000_0000\nmaps = [{ vm = \"a\", ipa = 0x1000_0000 }]\n")
        .replace("name = \"a\"\n", "name = \"a\"\nbase = 0x5000_0000\n");
    expect(
        &s,
        "sys.toml: shared[0].base: shared \"r\" memory 0x5000_0000..0x5001_0000 overlaps vm \"a\"",
    );
}

#[test]
fn vcpu_on_missing_cpu() {
    let s = sys("").replace("cpu = 1", "cpu = 7");
    expect(
        &s,
        "sys.toml: vm[1].vcpus[0].cpu: CPU 7 does not exist (the board has CPUs 0..=3)",
    );
}

#[test]
fn two_vcpus_of_one_vm_on_one_cpu() {
    let s = sys("").replace("[{ cpu = 1 }]", "[{ cpu = 1 }, { cpu = 1 }]");
    expect(
        &s,
        "sys.toml: vm[1].vcpus[1].cpu: vCPUs 0 and 1 of vm \"b\" are both on CPU 1",
    );
}

#[test]
fn unknown_key() {
    expect(
        &sys("")
            .replace("console", "consle")
            .replace("image = \"hello\"\n", "image = \"hello\"\nconsle = true\n"),
        "sys.toml:6:1: vm[0].consle: unknown field `consle` — did you mean \"console\"?",
    );
}

#[test]
fn misaligned_size_and_base() {
    let s = sys("").replace("memory = \"16M\"\nimage", "memory = 0x1800\nimage");
    expect(
        &s,
        "sys.toml: vm[0].memory: vm \"a\" memory size 0x1800 is not a multiple of 4K",
    );
    let s = sys("").replace("name = \"b\"\n", "name = \"b\"\nbase = 0x5000_0800\n");
    expect(
        &s,
        "sys.toml: vm[1].base: vm \"b\" memory base 0x5000_0800 is not 4K aligned",
    );
}

#[test]
fn duplicate_vm_names() {
    expect(
        &sys("").replace("name = \"b\"", "name = \"a\""),
        "sys.toml: vm[1].name: duplicate vm name \"a\" (also vm[0])",
    );
}

#[test]
fn unknown_vm_in_channel_suggests() {
    let s = sys("[[channel]]\nname = \"c\"\nfrom = \"a\"\nto = \"bb\"\nintid = 100\n");
    expect(
        &s,
        "sys.toml: channel[0].to: unknown vm \"bb\" — did you mean \"b\"?",
    );
    let s = format!(
        "name = \"t\"\n{}{VM_B}[[shared]]\nname = \"r\"\nsize = \"4K\"\nmaps = [{{ vm = \"linx\", ipa = 0x1000_0000 }}]\n",
        VM_A.replace("\"a\"", "\"linux\"")
    );
    expect(
        &s,
        "sys.toml: shared[0].maps[0].vm: unknown vm \"linx\" — did you mean \"linux\"?",
    );
    let s = sys(
        "[[emulated]]\nvm = \"a\"\nbase = 0x0a00_0000\nsize = \"4K\"\nby = \"c\"\nintid = 100\n",
    );
    expect(&s, "sys.toml: emulated[0].by: unknown vm \"c\"");
}

#[test]
fn a_reflection_needs_a_timeout_above_zero() {
    let s = sys(&format!(
        "{VM_B}[[emulated]]\nvm = \"a\"\nbase = 0x1000_0000\nsize = \"4K\"\nby = \"b\"\nintid = 100\ntimeout-us = 0\n"
    ));
    expect(&s, "sys.toml: emulated[0].timeout-us: must be at least 1");
}

#[test]
fn irq_owned_twice_or_needed_by_hypervisor() {
    let s = sys("")
        .replace("console", "x")
        .replace(
            "vcpus = [{ cpu = 0 }]",
            "vcpus = [{ cpu = 0 }]\nirqs = [112]",
        )
        .replace(
            "vcpus = [{ cpu = 1 }]",
            "vcpus = [{ cpu = 1 }]\nirqs = [33, 112, 79]",
        );
    expect(
        &s,
        "sys.toml: vm[1].irqs[0]: IRQ 33 is needed by the hypervisor (the hypervisor's UART)",
    );
    expect(
        &s,
        "sys.toml: vm[1].irqs[1]: IRQ 112 is already owned by vm \"a\" (vm[0].irqs[0])",
    );
    // The virtio-mmio slots (INTIDs 48..=79 on qemu-virt) are the hypervisor's devices.
    expect(
        &s,
        "sys.toml: vm[1].irqs[2]: IRQ 79 is the interrupt of virtio-mmio slot 31, which the hypervisor keeps for itself",
    );
    let s = sys("").replace(
        "vcpus = [{ cpu = 0 }]",
        "vcpus = [{ cpu = 0 }]\nirqs = [27]",
    );
    expect(&s, "sys.toml: vm[0].irqs[0]: IRQ 27 is not an SPI");
}

#[test]
fn shared_overlapping_vm_memory_ipa() {
    let s = sys(
        "[[shared]]\nname = \"r\"\nsize = \"64K\"\nmaps = [{ vm = \"a\", ipa = 0x4080_0000, access = \"ro\" }]\n",
    );
    expect(
        &s,
        "sys.toml: shared[0].maps[0].ipa: shared \"r\" at IPA 0x4080_0000..0x4081_0000 overlaps vm \"a\" RAM",
    );
}

#[test]
fn channel_intid_rules() {
    let s = sys("[[channel]]\nname = \"c\"\nfrom = \"a\"\nto = \"b\"\nintid = 5\n");
    expect(
        &s,
        "sys.toml: channel[0].intid: INTID 5 is not an SPI (32..=1019)",
    );
    let s = sys("[[channel]]\nname = \"c\"\nfrom = \"a\"\nto = \"b\"\nintid = 33\n");
    expect(
        &s,
        "sys.toml: channel[0].intid: INTID 33 is used by the hypervisor",
    );
    let s = sys("[[channel]]\nname = \"c\"\nfrom = \"a\"\nto = \"b\"\nintid = 112\n").replace(
        "vcpus = [{ cpu = 1 }]",
        "vcpus = [{ cpu = 1 }]\nirqs = [112]",
    );
    expect(
        &s,
        "sys.toml: channel[0].intid: INTID 112 of vm \"b\" is already used by vm[1].irqs[0]",
    );
}

#[test]
fn vm_without_vcpus() {
    expect(
        &sys("").replace("vcpus = [{ cpu = 1 }]", "vcpus = []"),
        "sys.toml: vm[1].vcpus: vm \"b\" has no vCPU",
    );
}

#[test]
fn payload_rules() {
    expect(
        &sys("").replace(
            "image = \"hello\"\nvcpus = [{ cpu = 1 }]",
            "vcpus = [{ cpu = 1 }]",
        ),
        "sys.toml: vm[1]: vm \"b\" has neither",
    );
    expect(
        &sys("").replace(
            "image = \"hello\"\nvcpus = [{ cpu = 1 }]",
            "image = \"x\"\ninitrd = \"i\"\nvcpus = [{ cpu = 1 }]",
        ),
        "sys.toml: vm[1].initrd: `initrd` needs a Linux `kernel`",
    );
}

#[test]
fn slot_rules() {
    let s = sys("[[slots]]\ncpu = 0\ntable = [{ vcpu = \"b\", us = 10 }, { us = 5, ticks = 3 }]\n");
    expect(
        &s,
        "sys.toml: slots[0].table[0].vcpu: vCPU 0 of vm \"b\" is pinned to CPU 1, not CPU 0",
    );
    expect(
        &s,
        "sys.toml: slots[0].table[1]: give a slot's length as exactly one of `us` or `ticks`",
    );
    expect(
        &s,
        "sys.toml: slots[0].table: vCPU 0 of vm \"a\" is pinned to CPU 0 but has no slot in its table",
    );
    assert_eq!(
        errors(&sys(
            "[[slots]]\ncpu = 0\ntable = [{ vcpu = \"a:0\", us = 10 }, { ticks = 100 }]\n"
        )),
        ""
    );
}

#[test]
fn emulated_region_must_stay_unmapped() {
    let s = sys(
        "[[emulated]]\nvm = \"a\"\nbase = 0x4000_0000\nsize = \"4K\"\nby = \"b\"\nintid = 100\n",
    );
    expect(
        &s,
        "sys.toml: emulated[0].base: emulated region 0x4000_0000..0x4000_1000 of vm \"a\" overlaps vm \"a\" RAM",
    );
    assert_eq!(
        errors(&sys(
            "[[emulated]]\nvm = \"a\"\nbase = 0x0a00_0000\nsize = \"4K\"\nby = \"b\"\nintid = 100\n"
        )),
        ""
    );
}

#[test]
fn board_errors_name_the_board_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("board.toml");
    let s = dir.path().join("sys.toml");
    std::fs::write(&b, board_text().replace("version = 3", "version = 2")).unwrap();
    std::fs::write(&s, sys("")).unwrap();
    let e = validate(&Config::load(&b, &s).unwrap(), crate::EXTENSIONS)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("board.toml: gic.version: GIC version 2 is not supported"),
        "{e}"
    );
}
