//! `cargo xtask …`: the one entry point for building, running and testing the project.
//!
//! It picks the firmware toolchain route by itself (see [`toolchain`]), builds the guests
//! and the hypervisor image for a system description, and boots it under QEMU.
mod bench_linux;
mod bench_probe;
mod bench_switch;
mod certify;
mod experiment;
mod firmware;
mod itest;
mod itest_telemetry;
mod linux;
mod monitor;
mod paths;
mod qemu;
mod toolchain;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run and test the hypervisor")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build a system and boot it under QEMU (the default system is `hello`).
    Run(RunArgs),
    /// Build a system's hypervisor image (prints its path).
    Build(BuildArgs),
    /// Run every test: host unit tests, then QEMU integration tests.
    Test {
        /// Only run the QEMU integration tests whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Skip the host unit tests.
        #[arg(long)]
        no_unit: bool,
        /// Cargo features added to every integration case's image (e.g. `lwvm`).
        #[arg(long, default_value = "")]
        features: String,
    },
    /// Print a system's memory map and table summary.
    Layout {
        /// System name (a file in boards/<board>/systems/) or path.
        #[arg(default_value = "hello")]
        system: String,
        #[arg(long, default_value = "qemu-virt")]
        board: String,
    },
    /// Build a system and prove its isolation properties on the linked image (the
    /// certificate lands beside hv.elf; docs/CERTIFICATE.md). Without a system: every
    /// system of the board, with the time each check took.
    Certify {
        /// System name (a file in boards/<board>/systems/) or path; all when omitted.
        system: Option<String>,
        #[arg(long, default_value = "qemu-virt")]
        board: String,
        /// Cargo features of the hypervisor image (with one system).
        #[arg(long, default_value = "")]
        features: String,
    },
    /// Check the firmware toolchain (installing what is missing when root).
    Setup,
    /// Run a benchmark and print its figures (`telemetry`: events/s, cost of one event;
    /// `switch`: instructions per VM↔VM and VM↔lwVM switch; `hypercall`, `pingpong`,
    /// `linux-boot`: see xtask/src/bench_probe.rs and bench_linux.rs).
    Bench {
        #[arg(default_value = "telemetry")]
        what: String,
    },
    /// Run declarative experiments (experiments/*.toml): `<name>`, `all` or `list`.
    Experiment(experiment::Args),
    /// Fetch the pinned Debian kernel and busybox and build the initramfs.
    Linux {
        /// Also boot it natively under QEMU (no hypervisor) and report the time to the marker.
        #[arg(long)]
        boot: bool,
    },
}

#[derive(clap::Args, Clone)]
struct BuildArgs {
    /// System name (a file in boards/<board>/systems/) or path to a system TOML.
    #[arg(long, default_value = "hello")]
    system: String,
    /// Board name (a folder in boards/).
    #[arg(long, default_value = "qemu-virt")]
    board: String,
    /// Cargo features of the hypervisor image (extensions), comma separated.
    #[arg(long, default_value = "")]
    features: String,
    /// Without the image's default features: plain-text console instead of telemetry.
    #[arg(long)]
    no_default_features: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Save the raw telemetry stream to this file (replayable with `hvmon`).
    #[arg(long)]
    record: Option<std::path::PathBuf>,
    /// Plain monitor lines even on a terminal (no TUI).
    #[arg(long)]
    plain: bool,
    /// No monitor: the serial port as is on the terminal (for images without telemetry).
    #[arg(long)]
    raw: bool,
    /// Extra arguments passed to QEMU.
    #[arg(last = true)]
    qemu_args: Vec<String>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Setup => {
            let tc = toolchain::Toolchain::detect_or_install()?;
            println!("{tc}");
            qemu::ensure_installed()?;
            Ok(())
        }
        Cmd::Build(b) => {
            let img = firmware::build_system(&b.to_spec())?;
            eprintln!(
                "xtask: certified: {}",
                img.elf.with_file_name("certificate.md").display()
            );
            println!("{}", img.elf.display());
            Ok(())
        }
        Cmd::Run(r) => {
            qemu::ensure_installed()?;
            let img = firmware::build_system(&r.build.to_spec())?;
            let status = if r.raw {
                qemu::run_interactive(&img, &r.qemu_args)?
            } else {
                monitor::run(&img, &r.qemu_args, r.record.clone(), r.plain)?
            };
            std::process::exit(status);
        }
        Cmd::Bench { what } if what == "switch" => bench_switch::run(),
        Cmd::Bench { what } if what == "switch-profile" => bench_switch::profile(),
        Cmd::Bench { what } if bench_probe::handles(&what) => bench_probe::run(&what),
        Cmd::Bench { what } if what == "linux-boot" => bench_linux::run(),
        Cmd::Bench { what } => monitor::bench(&what),
        Cmd::Experiment(a) => experiment::run_cli(&a),
        Cmd::Certify {
            system,
            board,
            features,
        } => certify::run_cli(&board, system.as_deref(), &features),
        Cmd::Layout { system, board } => firmware::print_layout(&board, &system),
        Cmd::Linux { boot } => {
            let art = linux::fetch_and_build()?;
            println!(
                "kernel {}\ninitrd {}",
                art.kernel.display(),
                art.initrd.display()
            );
            if boot {
                let b = linux::check_native()?;
                println!(
                    "native boot: {:.2} s to the marker, {:.2} s in all",
                    b.to_marker.as_secs_f64(),
                    b.total.as_secs_f64()
                );
            }
            Ok(())
        }
        Cmd::Test {
            filter,
            no_unit,
            features,
        } => itest::run_all(filter.as_deref(), !no_unit, &features),
    }
}

impl BuildArgs {
    fn to_spec(&self) -> firmware::SystemSpec {
        let spec = firmware::SystemSpec::new(&self.board, &self.system, &self.features);
        if self.no_default_features {
            spec.plain()
        } else {
            spec
        }
    }
}
