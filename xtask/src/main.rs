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
mod fuzz;
mod itest;
mod itest_telemetry;
mod layers;
mod linux;
mod monitor;
mod paths;
mod progress;
mod qemu;
mod select;
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
        /// System name (a file in boards/<board>/systems/, e.g. `pingpong`) or path.
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
        /// Which benchmark: telemetry, switch, switch-profile, hypercall, pingpong, linux-boot.
        #[arg(default_value = "telemetry")]
        what: String,
    },
    /// The telemetry monitor (`hvmon`), built from this checkout: `cargo xtask hvmon summary
    /// rec.bin`, `cargo xtask hvmon -- --help`. (Or install it: `cargo install --path monitor`.)
    Hvmon {
        /// Arguments for hvmon.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run declarative experiments (experiments/*.toml): `<name>`, `all` or `list`.
    Experiment(experiment::Args),
    /// Fuzz the monitor's stream decoder and session (coverage-guided, cargo-fuzz; installs
    /// it when missing): `cargo xtask fuzz [stream|frames] [--seconds N]`.
    Fuzz {
        /// Targets to run (default: all): `stream` (any bytes), `frames` (valid framing,
        /// arbitrary records).
        targets: Vec<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Fetch the pinned Debian kernel and busybox and build the initramfs.
    Linux {
        /// Also boot it natively under QEMU (no hypervisor) and report the time to the marker.
        #[arg(long)]
        boot: bool,
    },
}

#[derive(clap::Args, Clone)]
struct BuildArgs {
    /// System name (a file in boards/<board>/systems/, e.g. `pingpong`) or path to a
    /// system TOML; the same as `--system`.
    #[arg(value_name = "SYSTEM", conflicts_with = "system")]
    name: Option<String>,
    /// System name or path [default: hello].
    #[arg(long)]
    system: Option<String>,
    /// Board name (a folder in boards/).
    #[arg(long, default_value = "qemu-virt")]
    board: String,
    /// Cargo features of the hypervisor image (extensions), comma separated; checked
    /// against hv/Cargo.toml before anything is built.
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
    /// No monitor: the serial port as is on the terminal (needs a text console:
    /// `--no-default-features` or `--features telemetry-net`).
    #[arg(long)]
    raw: bool,
    /// Extra arguments passed to QEMU.
    #[arg(last = true)]
    qemu_args: Vec<String>,
}

/// Every benchmark `cargo xtask bench` knows.
const BENCHES: &[&str] = &[
    "telemetry",
    "switch",
    "switch-profile",
    "hypercall",
    "pingpong",
    "linux-boot",
];

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
            let img = firmware::build_system(&b.to_spec()?)?;
            eprintln!(
                "xtask: certified: {}",
                img.elf.with_file_name("certificate.md").display()
            );
            println!("{}", img.elf.display());
            Ok(())
        }
        Cmd::Run(r) => {
            select::bootable(&r.build.board)?;
            let spec = r.build.to_spec()?;
            if r.raw && spec.default_features && !spec.features.iter().any(|f| f == "telemetry-net")
            {
                anyhow::bail!(
                    "--raw shows the serial port as it is, but with the default features it carries \
                     binary telemetry frames (telemetry-uart).\nUse `--raw --no-default-features` \
                     (text console, no telemetry) or `--raw --features telemetry-net` (text on the \
                     serial port, telemetry over UDP), or leave out --raw to see the decoded view."
                );
            }
            qemu::ensure_installed()?;
            let img = firmware::build_system(&spec)?;
            let status = if r.raw {
                qemu::run_interactive(&img, &r.qemu_args)?
            } else {
                monitor::run(&img, &r.qemu_args, r.record.clone(), r.plain)?
            };
            std::process::exit(status);
        }
        Cmd::Bench { what } if !BENCHES.contains(&what.as_str()) => {
            let known: Vec<String> = BENCHES.iter().map(|b| b.to_string()).collect();
            let hint = select::near_miss(&what, &known)
                .map_or(String::new(), |k| format!(" — did you mean `{k}`?"));
            anyhow::bail!(
                "unknown benchmark `{what}`{hint}\nbenchmarks: {}",
                BENCHES.join(", ")
            )
        }
        Cmd::Hvmon { args } => {
            let status = std::process::Command::new(
                std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
            )
            .current_dir(paths::root())
            .args(["run", "--quiet", "-p", "hvmon", "--"])
            .args(&args)
            .status()?;
            std::process::exit(status.code().unwrap_or(1));
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
        Cmd::Fuzz { targets, seconds } => fuzz::run(&targets, seconds),
        Cmd::Layout { system, board } => {
            let path = select::system(&board, &system)?;
            firmware::print_layout(&board, &path.to_string_lossy())
        }
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
    /// The system to build, after checking the board, the system name, the features and
    /// the description itself (nothing is built when one of them is wrong).
    fn to_spec(&self) -> Result<firmware::SystemSpec> {
        let name = self
            .name
            .as_deref()
            .or(self.system.as_deref())
            .unwrap_or("hello");
        let path = select::system(&self.board, name)?;
        let spec = firmware::SystemSpec::new(&self.board, &path.to_string_lossy(), &self.features);
        select::features(&spec.features)?;
        select::config(&self.board, &spec.system, &spec.features)?;
        Ok(if self.no_default_features {
            spec.plain()
        } else {
            spec
        })
    }
}
