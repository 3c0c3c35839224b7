//! `hvconfig`: the configuration toolkit on the command line.
//!
//! - `hvconfig check --board B --system S [--images DIR]` validates (and reads the
//!   guest images when a directory is given);
//! - `hvconfig layout --board B --system S [--images DIR] [--placeholder SIZE]` prints
//!   the memory map, VMIDs, vCPU placement, schedule and table statistics; missing
//!   images become placeholders (with a warning) so a layout can be seen before the
//!   guests are built;
//! - `hvconfig generate --board B --system S --images DIR --out DIR` writes what the
//!   hypervisor's build script would;
//! - `hvconfig dtb --board B --system S [--images DIR] --vm NAME --out FILE` writes the
//!   device tree generated for a Linux VM (inspect it with `dtc -I dtb`); other VMs'
//!   images may be missing;
//! - `hvconfig certify IMAGE [--json FILE] [--markdown FILE]` proves the isolation
//!   properties on a linked hypervisor ELF (docs/CERTIFICATE.md) and prints a summary;
//!   it fails, naming property, regime and address, when one does not hold.

use clap::{Args, Parser, Subcommand};
use hv_config::error::ConfigError;
use hv_config::{GenerateRequest, check, explain::explain, generate, plan, size::parse_size};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hvconfig",
    about = "Offline configuration toolkit of the static hypervisor"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct Inputs {
    /// Board description (boards/<board>/board.toml).
    #[arg(long)]
    board: PathBuf,
    /// System description (boards/<board>/systems/<system>.toml).
    #[arg(long)]
    system: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate the descriptions (and the guest images, with --images).
    Check {
        #[command(flatten)]
        inputs: Inputs,
        /// Directory of the guest images.
        #[arg(long)]
        images: Option<PathBuf>,
    },
    /// Print the memory map, VM and vCPU placement, schedule and table statistics.
    Layout {
        #[command(flatten)]
        inputs: Inputs,
        /// Directory of the guest images (missing ones become placeholders).
        #[arg(long, default_value = ".")]
        images: PathBuf,
        /// Size assumed for a missing image.
        #[arg(long, default_value = "64K", value_parser = size_arg)]
        placeholder: u64,
    },
    /// Write system.rs, tables.bin, images.bin, memory.x and layout.txt.
    Generate {
        #[command(flatten)]
        inputs: Inputs,
        /// Directory of the guest images.
        #[arg(long)]
        images: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Prove the isolation properties on a linked hypervisor image (hv.elf).
    Certify {
        /// The linked image.
        image: PathBuf,
        /// Write the certificate (JSON) here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the Markdown summary here.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Write the device tree generated for a Linux VM.
    Dtb {
        #[command(flatten)]
        inputs: Inputs,
        /// Directory of the guest images.
        #[arg(long, default_value = ".")]
        images: PathBuf,
        /// The VM (by name).
        #[arg(long)]
        vm: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).ok_or_else(|| format!("\"{s}\" is not a byte count (e.g. 64K)"))
}

fn run(cli: Cli) -> Result<(), ConfigError> {
    match cli.cmd {
        Cmd::Check { inputs, images } => {
            match images {
                Some(dir) => drop(plan(&inputs.board, &inputs.system, &dir, None)?),
                None => drop(check(&inputs.board, &inputs.system)?),
            }
            println!("{}: ok", inputs.system.display());
        }
        Cmd::Layout {
            inputs,
            images,
            placeholder,
        } => {
            let p = plan(&inputs.board, &inputs.system, &images, Some(placeholder))?;
            print!("{}", explain(&p));
        }
        Cmd::Generate {
            inputs,
            images,
            out,
        } => {
            let g = generate(&GenerateRequest {
                board: &inputs.board,
                system: &inputs.system,
                images_dir: &images,
                out_dir: &out,
            })?;
            print!("{}", g.layout_text);
            println!("wrote {}", out.display());
        }
        Cmd::Certify {
            image,
            json,
            markdown,
        } => {
            let c = hv_config::certify::certify_file(&image)
                .map_err(|e| ConfigError::one(&image, "", e))?;
            if let Some(j) = json {
                hv_config::error::write_file(&j, c.json())?;
            }
            if let Some(m) = markdown {
                hv_config::error::write_file(&m, c.markdown())?;
            }
            println!("{}", c.summary());
            if !c.holds() {
                let lines: Vec<String> =
                    c.report.violations.iter().map(|v| v.to_string()).collect();
                return Err(ConfigError::one(
                    &image,
                    "",
                    format!("not certified:\n{}", lines.join("\n")),
                ));
            }
        }
        Cmd::Dtb {
            inputs,
            images,
            vm,
            out,
        } => {
            // Other VMs' missing images do not change this VM's tree: placeholders.
            let p = plan(&inputs.board, &inputs.system, &images, Some(0x1_0000))?;
            let names: Vec<&str> = p.config.system.vm.iter().map(|v| v.name.as_str()).collect();
            let Some(i) = p.config.system.vm_index(&vm) else {
                return Err(ConfigError::one(
                    &inputs.system,
                    "vm",
                    format!("no vm \"{vm}\" (the system has {})", names.join(", ")),
                ));
            };
            let Some(dtb) = &p.payloads.vms[i].dtb else {
                return Err(ConfigError::one(
                    &inputs.system,
                    format!("vm[{i}]"),
                    format!("vm \"{vm}\" boots a bare-metal image: it has no device tree"),
                ));
            };
            let prefix = format!("vm[{i}].");
            if let Some(w) = p.payloads.warnings.iter().find(|w| w.starts_with(&prefix)) {
                return Err(ConfigError::one(
                    &inputs.system,
                    format!("vm[{i}]"),
                    format!("{w}; its device tree needs the real files"),
                ));
            }
            hv_config::error::write_file(&out, &dtb.bytes)?;
            println!(
                "wrote {} ({} bytes, loaded at IPA {})",
                out.display(),
                dtb.bytes.len(),
                hv_config::fmt::hex(dtb.load_ipa)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::FAILURE
        }
    }
}
