//! Turns a board + system description into the image's static tables.
//!
//! The configuration toolkit (`hv-config`) validates and lays out the system and writes
//! `system.rs`, the page-table and guest-image blobs and `memory.x` into OUT_DIR; the
//! image `include!`s them and links with `hv.ld`, which places the blobs at the physical
//! addresses the tables were generated for.
//!
//! Inputs (set by `cargo xtask`, with defaults so that a plain `cargo build` of the
//! default system works once the guests are built):
//! - `HV_SYSTEM`: system description (default boards/qemu-virt/systems/hello.toml)
//! - `HV_BOARD`: board description (default: board.toml two folders above the system)
//! - `HV_IMAGES_DIR`: folder with the guest ELFs
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=hv.ld");
    for v in ["HV_SYSTEM", "HV_BOARD", "HV_IMAGES_DIR"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        // Host builds (e.g. `cargo check --workspace`) compile an empty image.
        return;
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let system = env::var_os("HV_SYSTEM")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("boards/qemu-virt/systems/hello.toml"));
    let board = env::var_os("HV_BOARD")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            system
                .parent()
                .and_then(|p| p.parent())
                .map(|p| p.join("board.toml"))
                .unwrap_or_default()
        });
    let images = env::var_os("HV_IMAGES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/firmware/aarch64-unknown-none/release"));
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    let req = hv_config::GenerateRequest {
        board: &board,
        system: &system,
        images_dir: &images,
        out_dir: &out,
    };
    // The `lwvm` feature runs the hypervisor with E2H=1: the tables come in that flavour.
    let vhe = env::var_os("CARGO_FEATURE_LWVM").is_some();
    let net = env::var_os("CARGO_FEATURE_TELEMETRY_NET").is_some();
    match hv_config::generate_image(&req, vhe, net) {
        Ok(generated) => {
            for input in &generated.inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
        }
        Err(e) => {
            eprintln!("{e}");
            println!(
                "cargo::error=configuration of {} failed: {e}",
                system.display()
            );
            std::process::exit(1);
        }
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-search={}", manifest.display());
    println!("cargo:rustc-link-arg-bins=-Thv.ld");
}
