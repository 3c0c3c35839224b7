//! `hvmon`: the host side of the hypervisor's telemetry.
//!
//! The hypervisor emits small fixed events (see `hv-protocol`); everything else — names, rates,
//! latency statistics, exports, plots — happens here (Humility's principle: the host tool bears
//! the complexity). The library is what the binary and the experiment runner share:
//! - [`source`]: where bytes come from (serial, TCP, unix socket, UDP, file, stdin);
//! - [`session`]: bytes → frames → [`metrics`] and console lines, with the decoder's loss counts;
//! - [`summary`], [`export`], [`plot`]: what a recording turns into;
//! - [`view`]: the live terminal UI and its plain-text fallback;
//! - [`elf`]: the hypervisor ELF's build id and defmt table.
#![forbid(unsafe_code)]

pub mod console;
pub mod elf;
pub mod export;
pub mod info;
pub mod metrics;
pub mod plot;
pub mod replay;
pub mod report;
pub mod session;
pub mod source;
pub mod stat;
pub mod summary;
pub mod time;
pub mod view;

pub use session::Session;
pub use summary::Summary;
