//! Shared code of the probe guests (`cargo xtask experiment`, `cargo xtask bench …`).
//!
//! # Clock
//! Probes time with the PMU cycle counter PMCCNTR_EL0, not CNTVCT_EL0: QEMU derives the
//! cycle counter from its virtual clock at 1 GHz, so under `-icount shift=0` one count is
//! one emulated instruction (CNTVCT only ticks every 16). PMCCFILTR_EL0.NSH is set so that
//! it keeps counting while the hypervisor runs at EL2; the counter is the physical one,
//! shared by every VM on a CPU (the hypervisor does not virtualise the PMU), so VMs on one
//! CPU can subtract each other's stamps. Without icount the unit is nanoseconds of QEMU's
//! virtual clock (wall-clock mode).
//!
//! # Output (parsed by xtask/src/experiment/probe.rs)
//! ```text
//! PROBE <name> <hv|native> iters=<n> warmup=<w>
//! METRIC <id> <metric> <count>
//! SAMPLES <id> <v> <v> …          (16 values a line, warm-up rounds excluded)
//! RESULT status pass
//! ```
//! Under the hypervisor every sample is also sent as a TELEMETRY_MARKER (id
//! [`MARKER_SAMPLE`] + metric id, value), after the timed phase; the timed phases are
//! bracketed by markers [`MARKER_BEGIN`]/[`MARKER_END`] (value = metric id) so that the
//! runner can count the traps and switches of one iteration in the telemetry stream.
#![cfg_attr(target_os = "none", no_std)]

#[cfg(target_arch = "aarch64")]
mod imp;
#[cfg(target_arch = "aarch64")]
pub use imp::*;

/// Marker id: a timed phase begins (value: metric id).
pub const MARKER_BEGIN: u64 = 1;
/// Marker id: a timed phase ends (value: metric id).
pub const MARKER_END: u64 = 2;
/// Marker id base of samples: `MARKER_SAMPLE + metric id`, value = the sample.
pub const MARKER_SAMPLE: u64 = 0x100;

/// Samples per run (`PROBE_ITERS` at build time, default 1000, at most [`MAX_SAMPLES`]).
pub const ITERS: usize = {
    let n = parse(option_env!("PROBE_ITERS"), 1000);
    if n > MAX_SAMPLES {
        MAX_SAMPLES
    } else if n == 0 {
        1
    } else {
        n
    }
};
/// Rounds run before the timed ones and dropped (`PROBE_WARMUP`, default 16).
pub const WARMUP: usize = parse(option_env!("PROBE_WARMUP"), 16);
/// `PROBE_QUIET` set at build time: no samples printed or sent (profiling builds, whose
/// output must not grow with the iterations).
pub const QUIET: bool = option_env!("PROBE_QUIET").is_some();
/// Capacity of one sample buffer.
pub const MAX_SAMPLES: usize = 10_000;

const fn parse(s: Option<&str>, default: usize) -> usize {
    let Some(s) = s else { return default };
    let b = s.as_bytes();
    if b.is_empty() {
        return default;
    }
    let mut n = 0usize;
    let mut i = 0;
    while i < b.len() {
        if b[i] < b'0' || b[i] > b'9' {
            return default;
        }
        n = n * 10 + (b[i] - b'0') as usize;
        i += 1;
    }
    n
}
