//! Telemetry hooks of the image: the run loop, the trap path, the console and the log call
//! these; with no `telemetry-*` feature they are empty inline functions (zero cost).
//!
//! With a transport feature (`telemetry-uart`: frames on the PL011 instead of text;
//! `telemetry-net`: UDP datagrams through a virtio-net device, the PL011 keeps its text) each
//! physical CPU encodes its events into its own ring ([`hv_telemetry::CpuTelemetry`]) without
//! a lock, and the ring is drained outside the trap path: before entering a guest when the
//! transport is free (and, for the network, when a datagram's worth waits), and in the idle
//! loop. The UART's lock holder sends its own ring; the network's sends every CPU's. CPU 0
//! sends the hello first; the others wait for it before sending.
//!
//! Where the events come from:
//! - [`enter`] (before ERET): finishes the pending `Trap` (entry → now), `Hypercall`, emits a
//!   `Switch` when another vCPU runs, the periodic `Counters`, then drains;
//! - [`exit`] (after the guest trapped): timestamps the entry and classifies it;
//! - [`idle`] / [`power_off`]: switch to idle, final counters, blocking drain;
//! - [`vm_exit`], [`console`], [`log_line`] (hvlog through defmt), [`marker`],
//!   [`lrs_filled`] (interrupts injected), [`hypercall`] for the others.
use super::generated;

/// Cargo features that change the image, in the hello and the build id. The transports
/// are listed as they take effect: `telemetry-null` overrides `telemetry-net`, which
/// replaces the default `telemetry-uart` (the UART then carries text).
pub const FEATURES: &[(&str, bool)] = &[
    (
        "telemetry-uart",
        cfg!(all(
            feature = "telemetry-uart",
            not(any(feature = "telemetry-net", feature = "telemetry-null"))
        )),
    ),
    (
        "telemetry-net",
        cfg!(all(
            feature = "telemetry-net",
            not(feature = "telemetry-null")
        )),
    ),
    ("telemetry-null", cfg!(feature = "telemetry-null")),
];

/// What an lwVM's shadow paging did (the operation of a `Shadow` record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // made only with the `shadow-paging` feature
pub enum ShadowOp {
    /// A shadow entry filled from the lwVM's tables.
    Fill,
    /// A store to one of its live tables emulated.
    TableWrite,
    /// A TLBI emulated.
    Tlbi,
    /// The pool ran out and every shadow table was dropped.
    Flush,
    /// A fault of its own tables delivered to its handler.
    GuestFault,
    /// Another address space installed.
    Switch,
}

/// Whether VM console output also goes out as telemetry records (the monitor reassembles
/// them, so a partial line can be sent early).
pub const CONSOLE_RECORDS: bool = cfg!(all(feature = "telemetry", target_os = "none"));

/// Identifies this build: the configuration id mixed with the package version and features.
/// (No code hash is available at compile time: two builds of different sources with the same
/// configuration, version and features share an id.)
pub const BUILD_ID: u64 = {
    let mut h = generated::CONFIG_ID ^ hv_core_fnv(env!("CARGO_PKG_VERSION").as_bytes());
    let mut i = 0;
    while i < FEATURES.len() {
        if FEATURES[i].1 {
            h = h.rotate_left(13) ^ hv_core_fnv(FEATURES[i].0.as_bytes());
        }
        i += 1;
    }
    h
};

/// FNV-1a 64 (the same function the protocol uses for its schema hash).
const fn hv_core_fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// The build id in the ELF, where `hvmon --elf` checks it against the stream's hello.
#[unsafe(link_section = ".hv_build_id")]
#[used]
static BUILD_ID_SECTION: [u8; 8] = BUILD_ID.to_le_bytes();

/// Index of the physical CPU running this code (its position in `SYSTEM.cpus`): a search,
/// for the hooks called from outside the run loop (console, log, markers).
#[cfg(all(feature = "telemetry", target_os = "none"))]
pub fn this_cpu() -> usize {
    let mpidr = hv_arch::cpu::mpidr();
    generated::SYSTEM
        .cpus
        .iter()
        .position(|c| c.mpidr == mpidr)
        .unwrap_or(0)
}

// Some hooks (markers, injections, power-off) wait for their callers. Host test builds
// take the empty hooks: the telemetry stream is tested by the integration cases.
#[cfg(all(feature = "telemetry", target_os = "none"))]
#[allow(dead_code)]
mod enabled;
#[cfg(all(feature = "telemetry", target_os = "none"))]
pub use enabled::*;

#[cfg(not(all(feature = "telemetry", target_os = "none")))]
#[allow(dead_code)]
mod disabled;
#[cfg(not(all(feature = "telemetry", target_os = "none")))]
pub use disabled::*;
