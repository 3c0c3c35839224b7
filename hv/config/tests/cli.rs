//! The `hvconfig` binary against the real qemu-virt descriptions.

use std::path::Path;
use std::process::Command;

fn repo(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(p)
        .display()
        .to_string()
}

fn hvconfig(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hvconfig"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn layout_works_before_the_guests_are_built() {
    let empty = tempfile::tempdir().unwrap();
    let board = repo("boards/qemu-virt/board.toml");
    let system = repo("boards/qemu-virt/systems/hello.toml");
    let images = empty.path().display().to_string();
    let (ok, out, err) = hvconfig(&[
        "layout", "--board", &board, "--system", &system, "--images", &images,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("warning: vm[0].image:"), "{out}");
    assert!(
        out.contains("0x4020_0000   0x4060_0000       4M  hypervisor image"),
        "{out}"
    );
    assert!(out.contains("vmid 1  hello"), "{out}");
    assert!(
        out.contains(
            "EL2 W^X: code 0x4020_0000..0x4030_0000 RX | read-only data 0x4030_0000..0x4040_0000 R"
        ),
        "{out}"
    );
    assert!(out.contains("x 2M"), "{out}");
}

#[test]
fn check_reports_errors_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("bad.toml");
    std::fs::write(
        &sys,
        "name = \"x\"\n[[vm]]\nname = \"a\"\nmemory = \"16Q\"\n",
    )
    .unwrap();
    let board = repo("boards/qemu-virt/board.toml");
    let (ok, _, err) = hvconfig(&[
        "check",
        "--board",
        &board,
        "--system",
        &sys.display().to_string(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("bad.toml:4:10: vm[0].memory: size \"16Q\" is not a byte count"),
        "{err}"
    );
    let (ok, out, _) = hvconfig(&[
        "check",
        "--board",
        &board,
        "--system",
        &repo("boards/qemu-virt/systems/hello.toml"),
    ]);
    assert!(ok && out.ends_with(": ok\n"), "{out}");
}

#[test]
fn dtb_writes_a_linux_vms_tree_and_names_unknown_vms() {
    let dir = tempfile::tempdir().unwrap();
    let board = repo("boards/qemu-virt/board.toml");
    let mut image = vec![0u8; 4096];
    image[16..24].copy_from_slice(&0x10_0000u64.to_le_bytes());
    image[56..60].copy_from_slice(b"ARM\x64");
    std::fs::write(dir.path().join("Image"), image).unwrap();
    let system = dir.path().join("sys.toml");
    std::fs::write(
        &system,
        "name = \"t\"\n[[vm]]\nname = \"linux\"\nmemory = \"16M\"\nkernel = \"Image\"\nvcpus = [{ cpu = 0 }]\n",
    )
    .unwrap();
    let system = system.display().to_string();
    let images = dir.path().display().to_string();
    let out = dir.path().join("linux.dtb");
    let out_s = out.display().to_string();
    let args = |vm| {
        [
            "dtb", "--board", &board, "--system", &system, "--images", &images, "--vm", vm,
            "--out", &out_s,
        ]
    };
    let (ok, stdout, err) = hvconfig(&args("linux"));
    assert!(ok, "{err}");
    assert!(stdout.contains("loaded at IPA 0x4020_0000"), "{stdout}");
    assert_eq!(std::fs::read(&out).unwrap()[..4], [0xd0, 0x0d, 0xfe, 0xed]);
    let (ok, _, err) = hvconfig(&args("linx"));
    assert!(!ok);
    assert!(
        err.contains("vm: no vm \"linx\" (the system has linux)"),
        "{err}"
    );
}

#[test]
fn certify_refuses_what_is_not_a_linked_image() {
    let (ok, _, err) = hvconfig(&["certify", &repo("boards/qemu-virt/board.toml")]);
    assert!(!ok);
    assert!(err.contains("board.toml: not an ELF file"), "{err}");
    let (ok, _, err) = hvconfig(&["certify", "/no/such/hv.elf"]);
    assert!(!ok);
    assert!(err.contains("/no/such/hv.elf"), "{err}");
}
