//! QEMU integration cases judged by the telemetry stream (UART transport, default features).
//!
//! `cases()` is merged into the suite of `itest.rs`; each case boots a system with a
//! deadline through [`crate::monitor::decode_run`] and checks what the stream said.
use std::time::Duration;

use anyhow::{Result, bail};

use crate::firmware::SystemImage;
use crate::monitor::{DecodedRun, decode_run};

/// One telemetry integration case.
pub struct TelemetryCase {
    pub name: &'static str,
    pub system: &'static str,
    /// Hypervisor features besides the defaults (which carry `telemetry-uart`).
    pub features: &'static str,
    pub timeout: Duration,
    pub check: fn(&DecodedRun) -> Result<()>,
}

impl TelemetryCase {
    /// Boots `img` (built from this case's system and features) and checks the stream.
    pub fn run(&self, img: &SystemImage) -> Result<()> {
        let r = decode_run(img, self.timeout)?;
        (self.check)(&r).map_err(|e| {
            e.context(format!(
                "stream: {}\n      hv log: {:?}\n      consoles: {:?}\n      QEMU status {:?}, stderr: {}",
                r.summary, r.log, r.consoles, r.status, r.qemu_stderr.trim()
            ))
        })
    }
}

pub fn cases() -> Vec<TelemetryCase> {
    vec![TelemetryCase {
        name: "telemetry_uart_hello",
        system: "hello",
        features: "",
        timeout: Duration::from_secs(60),
        check: check_hello_stream,
    }]
}

fn check_hello_stream(r: &DecodedRun) -> Result<()> {
    let Some(h) = &r.hello else { bail!("no hello received") };
    if h.cpus != 4 {
        bail!("hello says {} CPUs, the machine has 4", h.cpus);
    }
    if h.vms != ["hello"] {
        bail!("hello names VMs {:?}, expected [\"hello\"]", h.vms);
    }
    if !h.features.iter().any(|f| f == "telemetry-uart") {
        bail!("hello lists features {:?} without telemetry-uart", h.features);
    }
    let lines = r.lines("hello");
    for want in ["Hello from a VM at EL1 with stage-2 translation on", "PSCI version 1.1", "hello: done"] {
        if !lines.iter().any(|l| l == want) {
            bail!("VM `hello` did not print {want:?}; it printed {lines:?}");
        }
    }
    if !r.log.iter().any(|l| l.contains("vm hello: powered off")) {
        bail!("no decoded hypervisor log line reports the VM's power-off: {:?}", r.log);
    }
    if r.vm_exits != [("hello".to_string(), "power_off".to_string())] {
        bail!("VM exits {:?}, expected hello powering off", r.vm_exits);
    }
    match r.switches_reported {
        Some(n) if n == r.switches_seen && n > 0 => {}
        Some(n) => bail!("{} switches received, the hypervisor counted {n}", r.switches_seen),
        None => bail!("no Counters record received"),
    }
    if r.decode_errors != 0 || r.seq_lost != 0 || r.dropped != 0 {
        bail!("stream not clean: {}", r.summary);
    }
    match r.status {
        Some(0) => Ok(()),
        Some(c) => bail!("QEMU exited with status {c}"),
        None => bail!("no power-off within the deadline (killed)"),
    }
}
