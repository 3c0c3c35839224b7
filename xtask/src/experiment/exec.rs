//! Booting a variant under QEMU and collecting what it said.
//!
//! - [`boot_plain`]: an image without telemetry (the measured runs: the hypervisor's
//!   telemetry would add its own cost to every trap); the probes' lines come from the
//!   serial text.
//! - [`boot_native`]: a probe ELF straight from QEMU's `-kernel` at EL1 (no
//!   `virtualization=on`).
//! - [`boot_traced`]: an image with the UART telemetry; the raw stream is recorded to a
//!   file and decoded with the monitor library (`hvmon::Session`): console lines, the
//!   probes' samples sent as markers, and the traps and switches between each timed
//!   phase's begin/end markers (per iteration).
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hv_protocol::{Event, TRAP_KINDS, TrapKind};
use hvmon::Session;
use hvmon::session::Update;

use super::def::Mode;
use super::probe::{self, MetricSamples};
use crate::firmware::SystemImage;
use crate::qemu::{self, QEMU};

/// Marker ids of the probes (guests/probe-bench/src/lib.rs).
const MARKER_BEGIN: u16 = 1;
const MARKER_END: u16 = 2;
const MARKER_SAMPLE: u16 = 0x100;

/// One boot.
#[derive(Debug)]
pub struct Boot {
    pub samples: Vec<MetricSamples>,
    /// The QEMU command line, as run.
    pub command: String,
    /// Everything on the serial port (text runs) or a note where the recording is.
    pub log: String,
}

/// The machine of the `qemu-virt` board, with or without the virtualization extensions.
pub fn machine(kernel: &Path, virt: bool, mode: Mode) -> Command {
    let mut cmd = Command::new(QEMU);
    let m = if virt {
        "virt,virtualization=on,gic-version=3"
    } else {
        "virt,gic-version=3"
    };
    cmd.args([
        "-M",
        m,
        "-cpu",
        "max,pauth-impdef=on",
        "-smp",
        "4",
        "-m",
        "1G",
    ])
    .args([
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-kernel",
    ])
    .arg(kernel)
    .args(mode.qemu_args());
    cmd
}

/// The command as a shell line (for the report).
pub fn render(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        let a = a.to_string_lossy();
        if a.contains([' ', ',', '=']) && !a.starts_with('-') {
            s.push_str(&format!(" '{a}'"));
        } else {
            s.push(' ');
            s.push_str(&a);
        }
    }
    s
}

fn text_boot(cmd: Command, timeout: Duration) -> Result<Boot> {
    let command = render(&cmd);
    let o = qemu::run_bounded(cmd, timeout, None)?;
    let consoles = probe::split_plain(&o.output);
    let samples = probe::collect(&consoles).with_context(|| format!("`{command}`"))?;
    match o.status {
        Some(0) => {}
        Some(c) => bail!("QEMU exited with status {c}: `{command}`"),
        None => bail!("no power-off within {timeout:?}: `{command}`"),
    }
    Ok(Boot {
        samples,
        command,
        log: o.output,
    })
}

/// Boots a plain image (no telemetry).
pub fn boot_plain(img: &SystemImage, mode: Mode, timeout: Duration) -> Result<Boot> {
    text_boot(machine(&img.elf, true, mode), timeout)
}

/// Boots a probe natively.
pub fn boot_native(elf: &Path, mode: Mode, timeout: Duration) -> Result<Boot> {
    let b = text_boot(machine(elf, false, mode), timeout)?;
    let natives = probe::split_plain(&b.log)
        .get("native")
        .map(|l| probe::parse_vm(l).native)
        .unwrap_or(false);
    if !natives {
        bail!(
            "the probe did not run natively (it found a hypervisor): `{}`",
            b.command
        );
    }
    Ok(b)
}

/// Traps and switches of one timed phase (between a probe's begin and end markers).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Phase {
    /// VM whose markers delimit it.
    pub vm: String,
    /// Metric id (the markers' value) and its name.
    pub metric: String,
    /// Iterations in the phase (warm-up included: the markers enclose it).
    pub rounds: u64,
    /// Traps by kind on all CPUs between the markers.
    pub traps: BTreeMap<String, u64>,
    /// Mean trap duration by kind in counter ticks ×16 (≈ instructions under icount; coarse).
    pub trap_mean_insn: BTreeMap<String, f64>,
    pub switches: u64,
    pub injected: u64,
}

/// What a traced boot gave.
#[derive(Debug)]
pub struct Traced {
    pub boot: Boot,
    pub recording: PathBuf,
    pub phases: Vec<Phase>,
    /// Samples sent as markers (cross-checked against the text).
    pub marker_samples: Vec<MetricSamples>,
    /// Records lost or dropped (a clean stream has none).
    pub lost: u64,
}

#[derive(Debug, Clone, Copy)]
enum Rec {
    Trap {
        ts: u64,
        kind: TrapKind,
        dur: u32,
    },
    Switch {
        ts: u64,
    },
    Inject {
        ts: u64,
    },
    Marker {
        ts: u64,
        vcpu: u16,
        id: u16,
        value: u64,
    },
}

/// Boots a telemetry image, recording the raw stream to `recording`.
pub fn boot_traced(
    img: &SystemImage,
    mode: Mode,
    timeout: Duration,
    recording: &Path,
    rounds: u64,
) -> Result<Traced> {
    let mut cmd = machine(&img.elf, true, mode);
    let command = render(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {QEMU}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st.code();
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let raw = reader.join().unwrap_or_default();
    std::fs::write(recording, &raw).with_context(|| format!("writing {}", recording.display()))?;
    if status != Some(0) {
        bail!(
            "traced boot ended with {status:?} (recording {}): `{command}`",
            recording.display()
        );
    }

    let mut recs = Vec::new();
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let session = Session::replay_file(recording, |info, u| match u {
        Update::Record(h, e) => match **e {
            Event::Trap {
                kind,
                duration_ticks,
                ..
            } => recs.push(Rec::Trap {
                ts: h.ts,
                kind,
                dur: duration_ticks,
            }),
            Event::Switch { .. } => recs.push(Rec::Switch { ts: h.ts }),
            Event::IrqInjected { .. } => recs.push(Rec::Inject { ts: h.ts }),
            Event::Marker { vcpu, id, value } => recs.push(Rec::Marker {
                ts: h.ts,
                vcpu,
                id,
                value,
            }),
            _ => {}
        },
        Update::ConsoleLine { vm, line } => {
            let name = info.map_or(format!("vm{vm}"), |i| i.vm_name(*vm));
            lines.entry(name).or_default().push(line.to_string());
        }
        _ => {}
    })?;
    let info = session
        .info()
        .cloned()
        .context("no telemetry hello in the recording")?;
    let stats = session.stats();
    let lost = stats.seq_lost + stats.dropped_reported + stats.decode_errors;
    let samples = probe::collect(&lines)?;

    // Metric names per (VM, id) from the text, to name the markers.
    let mut names: BTreeMap<(String, u64), String> = BTreeMap::new();
    for (vm, l) in &lines {
        for (id, (name, _)) in probe::parse_vm(l).metrics {
            names.insert((vm.clone(), id), name);
        }
    }
    // A phase may be marked by the VM that drives it while another VM measures (virq-tx).
    let name_of = |vm: &str, id: u64| {
        names
            .get(&(vm.to_string(), id))
            .or_else(|| names.iter().find(|((_, i), _)| *i == id).map(|(_, n)| n))
            .cloned()
            .unwrap_or(format!("metric{id}"))
    };
    let vm_of = |vcpu: u16| {
        info.vm_of(vcpu)
            .map_or(format!("vcpu{vcpu}"), |v| info.vm_name(v))
    };
    let mut by_marker: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
    let mut open: BTreeMap<(u16, u64), u64> = BTreeMap::new();
    let mut phases = Vec::new();
    for r in &recs {
        let Rec::Marker {
            ts,
            vcpu,
            id,
            value,
        } = *r
        else {
            continue;
        };
        match id {
            MARKER_BEGIN => {
                open.insert((vcpu, value), ts);
            }
            MARKER_END => {
                if let Some(t0) = open.remove(&(vcpu, value)) {
                    let vm = vm_of(vcpu);
                    let metric = name_of(&vm, value);
                    phases.push(phase(&recs, t0, ts, vm, metric, rounds));
                }
            }
            id if id >= MARKER_SAMPLE => {
                by_marker
                    .entry((vm_of(vcpu), u64::from(id - MARKER_SAMPLE)))
                    .or_default()
                    .push(value);
            }
            _ => {}
        }
    }
    let marker_samples = by_marker
        .into_iter()
        .map(|((vm, id), values)| {
            let metric = names
                .get(&(vm.clone(), id))
                .cloned()
                .unwrap_or(format!("metric{id}"));
            MetricSamples { vm, metric, values }
        })
        .collect();
    let boot = Boot {
        samples,
        command,
        log: format!("(telemetry stream recorded to {})", recording.display()),
    };
    Ok(Traced {
        boot,
        recording: recording.to_path_buf(),
        phases,
        marker_samples,
        lost,
    })
}

/// Counts the records strictly between the begin (`t0`) and end (`t1`) markers, without
/// the marker hypercalls' own traps.
fn phase(recs: &[Rec], t0: u64, t1: u64, vm: String, metric: String, rounds: u64) -> Phase {
    let mut traps = [0u64; TRAP_KINDS];
    let mut dur = [0u64; TRAP_KINDS];
    let (mut switches, mut injected) = (0, 0);
    for r in recs {
        match *r {
            Rec::Trap {
                ts, kind, dur: d, ..
            } if ts > t0 && ts < t1 => {
                traps[kind as usize] += 1;
                dur[kind as usize] += u64::from(d);
            }
            Rec::Switch { ts } if ts > t0 && ts < t1 => switches += 1,
            Rec::Inject { ts } if ts > t0 && ts < t1 => injected += 1,
            _ => {}
        }
    }
    // The end marker's own hypercall trap was entered before the marker was stamped.
    if traps[TrapKind::Hvc as usize] > 0 {
        traps[TrapKind::Hvc as usize] -= 1;
    }
    let mut by_kind = BTreeMap::new();
    let mut mean = BTreeMap::new();
    for k in TrapKind::ALL {
        let i = k as usize;
        if traps[i] > 0 {
            by_kind.insert(k.name().to_string(), traps[i]);
            mean.insert(k.name().to_string(), dur[i] as f64 * 16.0 / traps[i] as f64);
        }
    }
    Phase {
        vm,
        metric,
        rounds,
        traps: by_kind,
        trap_mean_insn: mean,
        switches,
        injected,
    }
}
