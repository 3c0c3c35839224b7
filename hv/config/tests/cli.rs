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
