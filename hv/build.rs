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
//!
//! A host build (the image's host tests, on hv-arch's simulated machine) always takes
//! `hv/host/system.toml` on the qemu-virt board, with a placeholder payload written here:
//! the tests script their guests, and need no cross-built guest.
use std::env;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=hv.ld");
    for v in ["HV_SYSTEM", "HV_BOARD", "HV_IMAGES_DIR"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        host(&root, &manifest, &out);
        return;
    }
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

    // The `lwvm` feature runs the hypervisor with E2H=1: the tables come in that flavour.
    let features = hv_config::ImageFeatures {
        vhe: env::var_os("CARGO_FEATURE_LWVM").is_some(),
        virtio_net: env::var_os("CARGO_FEATURE_TELEMETRY_NET").is_some(),
        balloon: env::var_os("CARGO_FEATURE_BALLOON").is_some(),
        big_little: env::var_os("CARGO_FEATURE_BIG_LITTLE").is_some(),
        shadow_paging: env::var_os("CARGO_FEATURE_SHADOW_PAGING").is_some(),
    };
    generate(&board, &system, &images, &out, features);
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-search={}", manifest.display());
    println!("cargo:rustc-link-arg-bins=-Thv.ld");
}

/// The host build: the host-test system's tables (no linker script: nothing is placed).
fn host(root: &Path, manifest: &Path, out: &Path) {
    let system = manifest.join("host/system.toml");
    println!("cargo:rerun-if-changed={}", system.display());
    let images = out.join("host-images");
    std::fs::create_dir_all(&images).expect("OUT_DIR/host-images");
    // A raw binary (`wfi; b .`): the VMs' RAM gets a payload, which the tests never run.
    let payload = [0x7f, 0x20, 0x03, 0xd5, 0x00, 0x00, 0x00, 0x14];
    // Written only when different: it is an input of the configuration, and a fresh
    // mtime would re-run this script at every build.
    let file = images.join("host-guest");
    if std::fs::read(&file).ok().as_deref() != Some(&payload[..]) {
        std::fs::write(&file, payload).expect("host payload");
    }
    let board = root.join("boards/qemu-virt/board.toml");
    generate(
        &board,
        &system,
        &images,
        out,
        hv_config::ImageFeatures::default(),
    );
}

/// Runs the configuration toolkit; a failure stops the build with its message.
fn generate(
    board: &Path,
    system: &Path,
    images: &Path,
    out: &Path,
    features: hv_config::ImageFeatures,
) {
    let req = hv_config::GenerateRequest {
        board,
        system,
        images_dir: images,
        out_dir: out,
    };
    match hv_config::generate_with_features(&req, features) {
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
}
