//! The Rockchip boards (boards/rk3588, boards/rk3399): the files parse and validate as
//! they are, every system of theirs lays out and passes the isolation checks, the image
//! gets their 16550, and a wrong `[uart]` or `[psci]` is refused naming the field.

use super::repo;
use crate::board::Board;
use crate::image::tests::tiny_elf;
use crate::{GenerateRequest, generate, plan};
use hv_core::sysdesc::{Ns16550Regs, UartModel};
use std::path::Path;

const BOARDS: [&str; 2] = ["rk3588", "rk3399"];

fn board_text(name: &str) -> String {
    std::fs::read_to_string(repo().join(format!("boards/{name}/board.toml"))).unwrap()
}

/// A temp dir with `board` as `board.toml` and fake guest ELFs for the images the
/// boards' systems use.
fn dir_with(board: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("board.toml"), board).unwrap();
    let code: Vec<u8> = (0..100u8).collect();
    for image in ["hello", "smp-ipi"] {
        std::fs::write(
            dir.path().join(image),
            tiny_elf(0x4000_0000, &[(0x4000_0000, &code, 0x2000)]),
        )
        .unwrap();
    }
    dir
}

fn systems(board: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(repo().join(format!("boards/{board}/systems")))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// The planning error of `system` on `board` (a board text).
fn plan_err(board: &str, system: &Path) -> String {
    let d = dir_with(board);
    plan(&d.path().join("board.toml"), system, d.path(), None)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_rockchip_boards_have_the_facts_of_their_device_trees() {
    let p = |n: &str| Board::parse(Path::new(n), &board_text(n)).unwrap();
    let rk3588 = p("rk3588");
    let caps: Vec<(u64, u16)> = rk3588
        .cpus()
        .iter()
        .map(|(_, c, cpu)| (cpu.mpidr, c.capacity))
        .collect();
    let want: Vec<(u64, u16)> = (0..8u64)
        .map(|i| (i << 8, if i < 4 { 530 } else { 1024 }))
        .collect();
    assert_eq!(caps, want);
    assert_eq!(rk3588.gic.distributor.base.0, 0xfe60_0000);
    assert_eq!(
        (
            rk3588.gic.redistributor.base.0,
            rk3588.gic.redistributor.stride.0
        ),
        (0xfe68_0000, 0x2_0000)
    );
    assert_eq!((rk3588.uart.base.0, rk3588.uart.intid), (0xfeb5_0000, 365));
    let regs = UartModel::Ns16550(Ns16550Regs {
        reg_shift: 2,
        io_width: 4,
    });
    assert_eq!(rk3588.uart.desc_model(), Some(regs));
    assert_eq!(rk3588.psci.conduit, "smc");

    let rk3399 = p("rk3399");
    let caps: Vec<(u64, u16)> = rk3399
        .cpus()
        .iter()
        .map(|(_, c, cpu)| (cpu.mpidr, c.capacity))
        .collect();
    assert_eq!(
        caps,
        [
            (0x0, 485),
            (0x1, 485),
            (0x2, 485),
            (0x3, 485),
            (0x100, 1024),
            (0x101, 1024)
        ]
    );
    assert_eq!(rk3399.gic.distributor.base.0, 0xfee0_0000);
    assert_eq!(
        (
            rk3399.gic.redistributor.base.0,
            rk3399.gic.redistributor.stride.0
        ),
        (0xfef0_0000, 0x2_0000)
    );
    assert_eq!((rk3399.uart.base.0, rk3399.uart.intid), (0xff1a_0000, 132));
    assert_eq!(rk3399.uart.desc_model(), Some(regs));
    // ARMv8.0 cores: no VHE, so the lwVM rules see none.
    assert!(rk3399.cluster.iter().all(|c| c.features.is_empty()));
}

#[test]
fn every_system_of_the_rockchip_boards_lays_out_and_is_isolated() {
    for b in BOARDS {
        let found = systems(b);
        assert!(!found.is_empty(), "boards/{b}/systems has no system");
        for sys in found {
            let d = dir_with(&board_text(b));
            // `plan` validates, lays out, generates the tables and runs the isolation
            // checks of the certificate on them.
            let p = plan(&d.path().join("board.toml"), &sys, d.path(), None)
                .unwrap_or_else(|e| panic!("{b}/{}: {e}", sys.display()));
            assert_eq!(p.desc.board, b);
            assert!(matches!(
                p.desc.devices.uart_model,
                UartModel::Ns16550(Ns16550Regs {
                    reg_shift: 2,
                    io_width: 4
                })
            ));
            let ram = 0x0020_0000
                ..0x0020_0000
                    + if b == "rk3588" {
                        0xefe0_0000
                    } else {
                        0x7fe0_0000
                    };
            assert!(
                ram.contains(&p.desc.hv.image_base),
                "{b}: {:#x}",
                p.desc.hv.image_base
            );
            for vm in p.desc.vms {
                assert!(ram.contains(&vm.ram_pa) && ram.contains(&(vm.ram_pa + vm.ram_size - 1)));
            }
        }
    }
}

#[test]
fn the_image_is_told_its_16550() {
    let d = dir_with(&board_text("rk3588"));
    let out = d.path().join("out");
    generate(&GenerateRequest {
        board: &d.path().join("board.toml"),
        system: &repo().join("boards/rk3588/systems/hello.toml"),
        images_dir: d.path(),
        out_dir: &out,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let rs = std::fs::read_to_string(out.join("system.rs")).unwrap();
    assert!(
        rs.contains(
            "uart_model: hv_core::sysdesc::UartModel::Ns16550(hv_core::sysdesc::Ns16550Regs {"
        ),
        "{rs}"
    );
    assert!(rs.contains("reg_shift: 2,") && rs.contains("io_width: 4,"));
    assert!(rs.contains("uart_base: 0xfeb5_0000"), "{rs}");
}

#[test]
fn qemu_virt_keeps_its_pl011() {
    let text = board_text("qemu-virt");
    let b = Board::parse(Path::new("qemu-virt"), &text).unwrap();
    assert_eq!(b.uart.desc_model(), Some(UartModel::Pl011));
    assert_eq!(b.psci.conduit, "smc", "the default conduit");
}

/// `board` with its `[uart]` / `[psci]` lines edited, planned with its hello system.
fn edited(board: &str, from: &str, to: &str) -> String {
    let text = board_text(board);
    assert!(text.contains(from), "{from}");
    let sys = repo().join(format!("boards/{board}/systems/hello.toml"));
    plan_err(&text.replace(from, to), &sys)
}

#[test]
fn an_unknown_uart_model_is_refused_naming_the_field() {
    let e = edited("rk3588", "model = \"ns16550\"", "model = \"ns1655\"");
    assert!(e.contains("uart.model"), "{e}");
    assert!(e.contains("unknown UART model \"ns1655\""), "{e}");
    assert!(e.contains("did you mean"), "{e}");
}

#[test]
fn an_unsupported_reg_shift_or_width_is_refused_naming_the_field() {
    let e = edited("rk3588", "reg-shift = 2", "reg-shift = 1");
    assert!(e.contains("uart.reg-shift"), "{e}");
    assert!(e.contains("reg-shift 1 is not supported"), "{e}");
    let e = edited("rk3399", "reg-io-width = 4", "reg-io-width = 2");
    assert!(e.contains("uart.reg-io-width"), "{e}");
    let e = edited("rk3399", "reg-shift = 2", "reg-shift = 0");
    assert!(e.contains("uart.reg-io-width"), "{e}");
    assert!(e.contains("do not fit registers 1 byte(s) apart"), "{e}");
}

#[test]
fn a_pl011_takes_no_register_placement() {
    let text =
        board_text("qemu-virt").replace("model = \"pl011\"", "model = \"pl011\"\nreg-shift = 2");
    let sys = repo().join("boards/qemu-virt/systems/hello.toml");
    let e = plan_err(&text, &sys);
    assert!(e.contains("uart.reg-shift"), "{e}");
    assert!(
        e.contains("only an ns16550 UART takes a register placement"),
        "{e}"
    );
}

#[test]
fn psci_through_hvc_is_refused_naming_the_field() {
    let e = edited("rk3399", "conduit = \"smc\"", "conduit = \"hvc\"");
    assert!(e.contains("psci.conduit"), "{e}");
    assert!(e.contains("runs at EL2"), "{e}");
}
