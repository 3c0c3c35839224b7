//! `hvconfig`: the configuration toolkit on the command line.
//!
//! - `hvconfig check --board B --system S [--images DIR]` validates (and reads the
//!   guest images when a directory is given);
//! - `hvconfig layout --board B --system S [--images DIR] [--placeholder SIZE]` prints
//!   the memory map, VMIDs, vCPU placement, schedule and table statistics; missing
//!   images become placeholders (with a warning) so a layout can be seen before the
//!   guests are built;
//! - `hvconfig generate --board B --system S --images DIR --out DIR` writes what the
//!   hypervisor's build script would.

use clap::{Args, Parser, Subcommand};
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
}

fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).ok_or_else(|| format!("\"{s}\" is not a byte count (e.g. 64K)"))
}

fn run(cli: Cli) -> Result<(), hv_config::error::ConfigError> {
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
