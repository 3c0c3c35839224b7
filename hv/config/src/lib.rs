//! The offline configuration toolkit: everything about a system that can be decided
//! before boot is decided here, from a board and a system description.
//!
//! Pipeline, one pure stage per module:
//! [`config`] (parse, via [`board`] and [`system`]) → [`validate`] → [`payload`] (guest
//! images, via [`image`]; Linux guests' device trees, via [`dtb`]) → [`layout`] (physical
//! memory, VMIDs) → [`pagetable`] (EL2 and stage-2 tables at their final addresses,
//! walked back and proven isolated by [`isolation`]) → [`desc`] (the typed
//! `hv_core::sysdesc::SystemDesc`) → [`emit`] (Rust source, blobs, linker fragment) and
//! [`explain`] (the human-readable map). Errors are [`error::ConfigError`]s that name
//! file and field; nothing panics on bad input.
//!
//! Extensions (lightweight VMs today: [`lwvm`]) plug into every stage through one trait,
//! [`ext::ConfigExtension`]; the stages call the extensions of the list they are given,
//! which is [`EXTENSIONS`], composed here and nowhere else. No stage names an extension.
//!
//! Modules form a DAG (a module imports only modules on its own or an earlier line;
//! checked with `grep -n "use crate::" src/**/*.rs`):
//! ```text
//! leaves       error, fmt, size, parse
//! descriptions board, system → config
//! mechanisms   image, dtb, diag (Checker), files (Fetcher), alloc (Allocator, Store),
//!              tables (encodings, table builder), vhe (E2H=1 encodings), walk, parts
//! seam         ext (ConfigExtension, the contribution types)
//! stages       validate, payload → layout → pagetable → desc (each calls the list)
//! extensions   lwvm (implements the trait with the mechanisms; never calls a stage)
//! results      plan (Plan) → isolation (via certify), emit, explain
//! root         lib: EXTENSIONS, check / plan / plan_with / generate (the driver)
//! ```
//! [`certify`] (the checks on a linked image) reads mechanisms and lwVM's window only.

pub mod alloc;
pub mod balloon;
pub mod board;
pub mod certify;
pub mod config;
pub mod derive;
pub mod desc;
pub mod diag;
pub mod dtb;
pub mod emit;
pub mod error;
pub mod explain;
pub mod ext;
pub mod files;
pub mod fmt;
pub mod image;
pub mod isolation;
pub mod layout;
pub mod lwvm;
pub mod pagetable;
pub mod parse;
pub mod parts;
pub mod payload;
pub mod plan;
pub mod size;
pub mod system;
pub mod tables;
#[cfg(test)]
mod tests;
pub mod validate;
pub mod vhe;
pub mod walk;

pub use plan::Plan;

use config::Config;
use error::ConfigError;
use ext::Extensions;
use payload::Payloads;
use std::path::{Path, PathBuf};

/// The extensions of the offline pipeline, in the order every stage calls them: the
/// one place they are composed (the image's counterpart is `type Extensions` in
/// `hv/src/image/ext.rs`). A new extension is a module implementing
/// [`ext::ConfigExtension`] and one entry here; no stage changes. Unlike the image's,
/// this list has no cargo features: the toolkit always knows every extension, and a
/// system that uses none gets exactly the output it would get without them (each hook
/// returns nothing for it).
pub const EXTENSIONS: &Extensions = &[&lwvm::Lwvm, &balloon::Balloon];

/// What the hypervisor's build script asks for.
pub struct GenerateRequest<'a> {
    /// `boards/<board>/board.toml`.
    pub board: &'a Path,
    /// `boards/<board>/systems/<system>.toml`.
    pub system: &'a Path,
    /// Directory holding the guest images named in the system.
    pub images_dir: &'a Path,
    /// Where to write `system.rs`, `tables.bin`, `images.bin`, `memory.x`, `layout.txt`.
    pub out_dir: &'a Path,
}

/// What [`generate`] produced.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Every file read (for `cargo::rerun-if-changed`).
    pub inputs: Vec<PathBuf>,
    /// The explain output (also written to `layout.txt`).
    pub layout_text: String,
}

/// Parses and validates both descriptions.
pub fn check(board: &Path, system: &Path) -> Result<Config, ConfigError> {
    let cfg = Config::load(board, system)?;
    validate::validate(&cfg, EXTENSIONS)?;
    Ok(cfg)
}

/// Runs every stage. With `placeholder = Some(size)`, missing guest images are replaced
/// by `size` zero bytes (see `Plan::payloads.warnings`).
pub fn plan(
    board: &Path,
    system: &Path,
    images_dir: &Path,
    placeholder: Option<u64>,
) -> Result<Plan, ConfigError> {
    let cfg = check(board, system)?;
    let payloads = payload::load_payloads(&cfg, images_dir, placeholder, EXTENSIONS)?;
    plan_with(cfg, payloads)
}

/// Lays out and generates tables for a validated configuration and its payloads.
///
/// The table area sits below the VMs, so its size must be known before the tables are
/// generated: start small and grow it until the generated tables fit (a few rounds).
pub fn plan_with(cfg: Config, payloads: Payloads) -> Result<Plan, ConfigError> {
    plan_with_extensions(cfg, payloads, EXTENSIONS)
}

/// [`plan_with`] for another extension list; `payloads` must have been loaded with it.
pub fn plan_with_extensions(
    cfg: Config,
    payloads: Payloads,
    exts: &'static Extensions,
) -> Result<Plan, ConfigError> {
    let mut tables_size = 4 * size::KIB4;
    for _ in 0..32 {
        let layout = layout::layout(&cfg, &payloads, tables_size, exts)?;
        let tables = pagetable::generate(&cfg, &layout, exts)
            .map_err(|e| ConfigError::one(&cfg.system_file, "", format!("page tables: {e}")))?;
        if tables.size() <= tables_size {
            let tables_blob = tables.to_bytes(tables_size);
            let id = desc::config_id(&cfg, &payloads);
            let desc = desc::build(&cfg, &payloads, &layout, &tables, id, exts);
            let plan = Plan {
                config: cfg,
                payloads,
                layout,
                tables,
                tables_blob,
                desc,
                extensions: exts,
            };
            // Every plan is proven isolated before anything is built from it.
            if let Err(e) = isolation::check(&plan) {
                return Err(ConfigError::one(
                    &plan.config.system_file,
                    "",
                    format!("isolation check of the generated tables failed: {e}"),
                ));
            }
            return Ok(plan);
        }
        tables_size = tables.size();
    }
    Err(ConfigError::one(
        &cfg.system_file,
        "",
        "page-table area size did not converge",
    ))
}

/// Runs every stage and writes the results into `req.out_dir`.
pub fn generate(req: &GenerateRequest) -> Result<Generated, ConfigError> {
    generate_for(req, false)
}

/// [`generate`] for an image that runs with HCR_EL2.E2H=1 when `vhe` (the `hv` crate's
/// `lwvm` feature): the EL2 tables come in their VHE flavour even if the system has no
/// lwVM. A system that needs VHE (lwVMs, `[hypervisor] vhe`) cannot be generated for
/// an image without it.
pub fn generate_for(req: &GenerateRequest, vhe: bool) -> Result<Generated, ConfigError> {
    generate_image(req, vhe, false)
}

/// The features of the image a system is generated for, as far as they decide what it
/// can hold (the `hv` crate's cargo features).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageFeatures {
    /// `lwvm`: the EL2 tables in their VHE flavour (E2H=1).
    pub vhe: bool,
    /// `telemetry-net`: the hypervisor drives the virtio-mmio window's top slot itself.
    pub virtio_net: bool,
    /// `balloon`: elastic memory.
    pub balloon: bool,
    /// `big-little`: vCPUs that move between clusters.
    pub big_little: bool,
    /// `shadow-paging`: lwVMs that manage their own page tables.
    pub shadow_paging: bool,
}

impl ImageFeatures {
    /// From cargo feature names.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> ImageFeatures {
        let has = |f: &str| names.iter().any(|n| n.as_ref() == f);
        ImageFeatures {
            // `shadow-paging` implies `lwvm` (the hv crate's feature list says so).
            vhe: has("lwvm") || has("shadow-paging"),
            virtio_net: has("telemetry-net"),
            balloon: has("balloon"),
            big_little: has("big-little"),
            shadow_paging: has("shadow-paging"),
        }
    }
}

/// [`check`], and what an image with `features` cannot hold: lwVMs or `[hypervisor] vhe`
/// without `lwvm`, `[[elastic]]` without `balloon`, a VM given the virtio-mmio slot the
/// `telemetry-net` transport uses. Run by `cargo xtask` before cargo (so an error is
/// printed once) and by the build script.
pub fn check_image(
    board: &Path,
    system: &Path,
    features: ImageFeatures,
) -> Result<Config, ConfigError> {
    let cfg = check(board, system)?;
    if !features.balloon && !cfg.system.elastic.is_empty() {
        return Err(ConfigError::one(
            system,
            "elastic",
            "elastic memory ([[elastic]]) needs the hypervisor built with the `balloon` feature (--features balloon)",
        ));
    }
    if !features.big_little
        && let Some((i, k)) = cfg
            .system
            .vm
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.vcpus.iter().position(|p| p.migratable()).map(|k| (i, k)))
    {
        return Err(ConfigError::one(
            system,
            format!("vm[{i}].vcpus[{k}].cpus"),
            "a vCPU that may run on several CPUs needs the hypervisor built with the `big-little` feature (--features big-little)",
        ));
    }
    if !features.shadow_paging
        && let Some(j) = cfg
            .system
            .lwvm
            .iter()
            .position(|l| l.paging == system::Paging::Shadow)
    {
        return Err(ConfigError::one(
            system,
            format!("lwvm[{j}].paging"),
            "an lwVM with `paging = \"shadow\"` needs the hypervisor built with the `shadow-paging` feature (--features shadow-paging)",
        ));
    }
    if let Some(v) = cfg.board.virtio_mmio.filter(|_| features.virtio_net) {
        let top = v.base.0 + u64::from(v.count.saturating_sub(1)) * v.stride.0;
        if let Some((i, d)) = cfg.device_owner(top) {
            let k = cfg.system.vm[i].devices.iter().position(|n| *n == d.name);
            return Err(ConfigError::one(
                system,
                format!("vm[{i}].devices[{}]", k.unwrap_or(0)),
                format!(
                    "device \"{}\" holds virtio-mmio slot {}, where the hypervisor's telemetry-net transport finds its network device: give the VM another page, or build without `telemetry-net`",
                    d.name,
                    v.count.saturating_sub(1)
                ),
            ));
        }
    }
    if cfg.vhe() && !features.vhe {
        let need = EXTENSIONS
            .iter()
            .find_map(|e| e.needs_vhe(&cfg))
            .unwrap_or(ext::NeedsVhe {
                field: "hypervisor.vhe",
                what: "`[hypervisor] vhe = true`",
            });
        return Err(ConfigError::one(
            system,
            need.field,
            format!(
                "{} need the hypervisor built with the `lwvm` feature (--features lwvm)",
                need.what
            ),
        ));
    }
    Ok(cfg)
}

/// [`generate_image`] for an image whose `balloon` feature is `balloon`: a system with
/// elastic memory cannot be generated for an image that cannot move it.
pub fn generate_with_balloon(
    req: &GenerateRequest,
    vhe: bool,
    virtio_net: bool,
    balloon: bool,
) -> Result<Generated, ConfigError> {
    let features = ImageFeatures {
        vhe,
        virtio_net,
        balloon,
        big_little: true,
        shadow_paging: true,
    };
    generate_checked(req, check_image(req.board, req.system, features)?, vhe)
}

/// Generates for an image with `features` (what the build script calls): a system that
/// needs an extension the image lacks is refused, naming the field.
pub fn generate_with_features(
    req: &GenerateRequest,
    features: ImageFeatures,
) -> Result<Generated, ConfigError> {
    generate_checked(
        req,
        check_image(req.board, req.system, features)?,
        features.vhe,
    )
}

/// [`generate_for`] for an image that also drives a virtio-mmio device itself when
/// `virtio_net` (the `hv` crate's `telemetry-net` feature: QEMU puts that network device
/// in the window's top slot): a system that gives the page holding that slot to a VM
/// cannot be generated for it.
pub fn generate_image(
    req: &GenerateRequest,
    vhe: bool,
    virtio_net: bool,
) -> Result<Generated, ConfigError> {
    let features = ImageFeatures {
        vhe,
        virtio_net,
        balloon: true,
        big_little: true,
        shadow_paging: true,
    };
    generate_checked(req, check_image(req.board, req.system, features)?, vhe)
}

/// Generates from a configuration [`check_image`] accepted.
fn generate_checked(
    req: &GenerateRequest,
    mut cfg: Config,
    vhe: bool,
) -> Result<Generated, ConfigError> {
    cfg.force_vhe = vhe;
    let payloads = payload::load_payloads(&cfg, req.images_dir, None, EXTENSIONS)?;
    let plan = plan_with(cfg, payloads)?;
    let layout_text = explain::explain(&plan);
    emit::write_all(&plan, &layout_text, req.out_dir)?;
    let mut inputs = vec![req.board.to_path_buf(), req.system.to_path_buf()];
    inputs.extend(plan.payloads.inputs.iter().cloned());
    Ok(Generated {
        inputs,
        layout_text,
    })
}
