//! Linux guests end to end: payload placement, path resolution and the generated device
//! tree, parsed back with an independent FDT reader and checked against the description.

use super::{Setup, repo};
use crate::plan;
use fdt::Fdt;

const RAM: u64 = 0x4000_0000;
const IMAGE_SIZE: u64 = 0x140_0000; // 20 MiB with BSS

/// A fake arm64 `Image`: header with text_offset 0, image_size, magic.
fn fake_image() -> Vec<u8> {
    let mut img = vec![0u8; 0x1000];
    img[16..24].copy_from_slice(&IMAGE_SIZE.to_le_bytes());
    img[56..60].copy_from_slice(b"ARM\x64");
    img
}

const LINUX: &str = r#"name = "t"
[[vm]]
name = "linux"
memory = "64M"
kernel = "Image"
initrd = "sub/initrd.gz"
bootargs = "console=ttyAMA0 quiet"
vcpus = [{ cpu = 1 }, { cpu = 3 }]
console = true
"#;

fn linux_setup(system: &str) -> Setup {
    let s = Setup::new(system);
    std::fs::write(s.dir.path().join("Image"), fake_image()).unwrap();
    std::fs::create_dir(s.dir.path().join("sub")).unwrap();
    std::fs::write(s.dir.path().join("sub/initrd.gz"), vec![7u8; 5000]).unwrap();
    s
}

fn u64_prop(node: &fdt::node::FdtNode, name: &str) -> u64 {
    let v = node.property(name).unwrap().value;
    u64::from_be_bytes(v.try_into().unwrap())
}

fn cells(v: &[u8]) -> Vec<u32> {
    v.chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn linux_payload_is_laid_out_kernel_initrd_dtb() {
    let s = linux_setup(LINUX);
    let p = s.plan();
    let vm = &p.desc.vms[0];
    assert_eq!((vm.image.load_ipa, vm.entry_ipa), (RAM, RAM));
    let initrd = vm.initrd.unwrap();
    assert_eq!((initrd.load_ipa, initrd.size), (RAM + IMAGE_SIZE, 5000));
    let dtb = vm.dtb.unwrap();
    assert_eq!(
        dtb.load_ipa,
        RAM + 0x160_0000,
        "next 2 MiB after the initrd"
    );
    assert!(dtb.size > 0 && dtb.size < 0x1000);
    // The blob in the store is the one the payload stage produced.
    let off = (dtb.store_pa - p.desc.hv.images_base) as usize;
    let stored = &p.layout.store[off..off + dtb.size as usize];
    assert_eq!(stored, &p.payloads.vms[0].dtb.as_ref().unwrap().bytes[..]);
    assert!(crate::explain::explain(&p).contains("dtb"));
    crate::isolation::check(&p).unwrap();
}

#[test]
fn dtb_describes_the_vm() {
    let s = linux_setup(LINUX);
    let p = s.plan();
    let vm = &p.desc.vms[0];
    let blob = &p.payloads.vms[0].dtb.as_ref().unwrap().bytes;
    let fdt = Fdt::new(blob).unwrap();
    let root = fdt.find_node("/").unwrap();
    assert_eq!(root.property("#address-cells").unwrap().as_usize(), Some(2));

    // /memory: the VM's RAM at its IPA.
    let mem: Vec<_> = fdt.memory().regions().collect();
    assert_eq!(mem.len(), 1);
    assert_eq!(mem[0].starting_address as u64, RAM);
    assert_eq!(mem[0].size, Some(64 << 20));

    // /cpus: one per vCPU, reg = MPIDR affinity = index in the VM, PSCI.
    let cpus: Vec<_> = fdt.cpus().collect();
    assert_eq!(cpus.len(), 2);
    for (k, c) in cpus.iter().enumerate() {
        assert_eq!(c.ids().first(), k);
        assert_eq!(c.property("enable-method").unwrap().as_str(), Some("psci"));
        assert_eq!(
            (p.desc.vcpus[k].vmpidr & 0xff_ffff) as usize,
            k,
            "MPIDR affinity the guest reads"
        );
    }

    // /psci through HVC.
    let psci = fdt.find_node("/psci").unwrap();
    assert_eq!(psci.property("method").unwrap().as_str(), Some("hvc"));
    let compat: Vec<_> = psci.compatible().unwrap().all().collect();
    assert_eq!(compat, ["arm,psci-1.0", "arm,psci-0.2"]);

    // GICv3: distributor + one redistributor frame per vCPU, the root's interrupt parent.
    let gic = fdt.find_compatible(&["arm,gic-v3"]).unwrap();
    let regs: Vec<_> = gic.reg().unwrap().collect();
    assert_eq!(regs[0].starting_address as u64, vm.gicd_ipa);
    assert_eq!(regs[0].size, Some(64 << 10));
    assert_eq!(regs[1].starting_address as u64, vm.gicr_ipa);
    assert_eq!(regs[1].size, Some(2 * (128 << 10)));
    assert!(gic.property("interrupt-controller").is_some());
    assert_eq!(gic.interrupt_cells(), Some(3));
    assert_eq!(
        cells(gic.property("interrupts").unwrap().value),
        [1, 25 - 16, 4]
    );
    let phandle = gic.property("phandle").unwrap().as_usize().unwrap();
    assert_eq!(
        root.property("interrupt-parent").unwrap().as_usize(),
        Some(phandle)
    );

    // Timer: the board's four PPIs in binding order.
    let timer = fdt.find_compatible(&["arm,armv8-timer"]).unwrap();
    assert_eq!(
        cells(timer.property("interrupts").unwrap().value),
        [1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]
    );

    // PL011 at the emulated UART with SPI 1 and the 24 MHz clock twice.
    let uart = fdt.find_compatible(&["arm,pl011"]).unwrap();
    assert_eq!(uart.name, "pl011@9000000");
    assert_eq!(
        uart.reg().unwrap().next().unwrap().starting_address as u64,
        vm.uart_ipa
    );
    assert_eq!(cells(uart.property("interrupts").unwrap().value), [0, 1, 4]);
    let clk = fdt.find_node("/apb-pclk").unwrap();
    assert_eq!(
        clk.property("clock-frequency").unwrap().as_usize(),
        Some(24_000_000)
    );
    let clk_ph = clk.property("phandle").unwrap().as_usize().unwrap() as u32;
    assert_eq!(
        cells(uart.property("clocks").unwrap().value),
        [clk_ph, clk_ph]
    );

    // /chosen: command line, console, initrd range.
    let chosen = fdt.chosen();
    assert_eq!(chosen.bootargs(), Some("console=ttyAMA0 quiet"));
    assert_eq!(chosen.stdout().unwrap().name, "pl011@9000000");
    let ch = fdt.find_node("/chosen").unwrap();
    let initrd = vm.initrd.unwrap();
    assert_eq!(u64_prop(&ch, "linux,initrd-start"), initrd.load_ipa);
    assert_eq!(
        u64_prop(&ch, "linux,initrd-end"),
        initrd.load_ipa + initrd.size
    );
}

#[test]
fn vm_without_console_or_initrd_gets_neither_node() {
    let s = linux_setup(
        "name = \"t\"\n[[vm]]\nname = \"l\"\nmemory = \"32M\"\nkernel = \"Image\"\nvcpus = [{ cpu = 0 }]\n",
    );
    let p = s.plan();
    let vm = &p.desc.vms[0];
    assert_eq!(vm.dtb.unwrap().load_ipa, RAM + IMAGE_SIZE);
    let blob = &p.payloads.vms[0].dtb.as_ref().unwrap().bytes;
    let fdt = Fdt::new(blob).unwrap();
    assert!(fdt.find_compatible(&["arm,pl011"]).is_none());
    let ch = fdt.find_node("/chosen").unwrap();
    assert!(ch.property("linux,initrd-start").is_none());
    assert!(ch.property("bootargs").is_none());
}

#[test]
fn dtb_without_room_names_the_vm_memory() {
    // 20 MiB kernel + initrd end just above 20 MiB: the DTB would start at 22 MiB.
    let s = linux_setup(&LINUX.replace("64M", "22M"));
    let e = plan(&s.board(), &s.system(), s.dir.path(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sys.toml: vm[0].memory: no room for the device tree"),
        "{e}"
    );
}

#[test]
fn bare_metal_vms_get_no_dtb() {
    let text = std::fs::read_to_string(repo().join("boards/qemu-virt/systems/hello.toml")).unwrap();
    assert!(Setup::new(&text).plan().desc.vms[0].dtb.is_none());
}

#[test]
fn linux_duo_lays_out() {
    // The kernel may or may not have been fetched: placeholders stand in for what is missing.
    let sys = repo().join("boards/qemu-virt/systems/linux-duo.toml");
    let board = repo().join("boards/qemu-virt/board.toml");
    let empty = tempfile::tempdir().unwrap();
    let p = plan(&board, &sys, empty.path(), Some(64 << 10)).unwrap_or_else(|e| panic!("{e}"));
    let d = p.desc;
    assert_eq!(d.vms.len(), 2);
    let (linux, hb) = (&d.vms[0], &d.vms[1]);
    assert_eq!((linux.name, linux.ram_size), ("linux", 256 << 20));
    assert_eq!(linux.vcpus.len(), 2);
    assert!(linux.dtb.is_some() && linux.initrd.is_some());
    assert_eq!((hb.name, hb.vcpus.len()), ("heartbeat", 2));
    let on: Vec<_> = d.vcpus.iter().map(|v| (v.vm, v.cpu)).collect();
    assert_eq!(on, [(0, 0), (0, 1), (1, 2), (1, 3)]);
    // The kernel and initrd are looked up under target/linux/current, relative to the
    // system file — never in the images directory.
    let mut seen: Vec<String> = p.payloads.warnings.clone();
    seen.extend(p.payloads.inputs.iter().map(|i| i.display().to_string()));
    let linux_files = seen
        .iter()
        .filter(|w| w.contains("target/linux/current/"))
        .count();
    assert_eq!(linux_files, 2, "{seen:?}");
    crate::isolation::check(&p).unwrap();
}
