//! QEMU integration cases judged by the telemetry stream: the UART transport (default
//! features) and the UDP one (`telemetry-net`, datagrams to 127.0.0.1:7777 — these cases
//! bind that port, so two suites must not run at once).
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
    vec![
        TelemetryCase {
            name: "telemetry_uart_hello",
            system: "hello",
            features: "",
            timeout: Duration::from_secs(60),
            check: check_hello_stream,
        },
        TelemetryCase {
            name: "telemetry_net_hello",
            system: "hello",
            features: "telemetry-net",
            timeout: Duration::from_secs(60),
            check: check_net_hello_stream,
        },
        TelemetryCase {
            name: "telemetry_net_two_cpus",
            system: "smp-ipi",
            features: "telemetry-net",
            timeout: Duration::from_secs(60),
            check: check_net_smp_stream,
        },
    ]
}

fn check_hello_stream(r: &DecodedRun) -> Result<()> {
    check_hello_with(r, "telemetry-uart")
}

/// The UDP stream says what the UART one does; the UART shows text.
fn check_net_hello_stream(r: &DecodedRun) -> Result<()> {
    check_hello_with(r, "telemetry-net")?;
    for want in [
        "hv: telemetry-net: UDP from 10.0.2.15 to 10.0.2.2:7777",
        "[hello] hello: done",
        "hv: vm hello: powered off",
    ] {
        if !r.serial.contains(want) {
            bail!("the UART text lacks {want:?}: {:?}", r.serial);
        }
    }
    Ok(())
}

/// Several CPUs' rings through the one CPU that drives the device at a time.
fn check_net_smp_stream(r: &DecodedRun) -> Result<()> {
    let Some(h) = &r.hello else {
        bail!("no hello received")
    };
    if !h.features.iter().any(|f| f == "telemetry-net") {
        bail!(
            "hello lists features {:?} without telemetry-net",
            h.features
        );
    }
    if r.cpus_with_records < 2 {
        bail!(
            "records from {} CPU(s) only: {}",
            r.cpus_with_records,
            r.summary
        );
    }
    check_counts_and_end(r)
}

fn check_hello_with(r: &DecodedRun, transport: &str) -> Result<()> {
    let Some(h) = &r.hello else {
        bail!("no hello received")
    };
    if h.cpus != 4 {
        bail!("hello says {} CPUs, the machine has 4", h.cpus);
    }
    if h.vms != ["hello"] {
        bail!("hello names VMs {:?}, expected [\"hello\"]", h.vms);
    }
    if !h.features.iter().any(|f| f == transport) {
        bail!("hello lists features {:?} without {transport}", h.features);
    }
    for other in ["telemetry-uart", "telemetry-net", "telemetry-null"]
        .iter()
        .filter(|f| **f != transport)
    {
        if h.features.iter().any(|f| f == other) {
            bail!(
                "hello lists features {:?}: {other} besides {transport}",
                h.features
            );
        }
    }
    let lines = r.lines("hello");
    for want in [
        "Hello from a VM at EL1 with stage-2 translation on",
        "PSCI version 1.1",
        "hello: done",
    ] {
        if !lines.iter().any(|l| l == want) {
            bail!("VM `hello` did not print {want:?}; it printed {lines:?}");
        }
    }
    if !r.log.iter().any(|l| l.contains("vm hello: powered off")) {
        bail!(
            "no decoded hypervisor log line reports the VM's power-off: {:?}",
            r.log
        );
    }
    if r.vm_exits != [("hello".to_string(), "power_off".to_string())] {
        bail!("VM exits {:?}, expected hello powering off", r.vm_exits);
    }
    check_counts_and_end(r)
}

/// Switches received == counted by the hypervisor, a clean stream, a power-off.
fn check_counts_and_end(r: &DecodedRun) -> Result<()> {
    match r.switches_reported {
        Some(n) if n == r.switches_seen && n > 0 => {}
        Some(n) => bail!(
            "{} switches received, the hypervisor counted {n}",
            r.switches_seen
        ),
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
