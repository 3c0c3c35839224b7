//! What the probe guests print (guests/probe-bench/src/lib.rs): parsed back into samples.
//!
//! ```text
//! PROBE <name> <hv|native> iters=<n> warmup=<w>
//! METRIC <id> <metric> <count>
//! SAMPLES <id> <v> <v> …
//! RESULT status pass
//! ```
//! Under the hypervisor the lines come tagged with the VM (`[ping] METRIC …` on the plain
//! console, or per VM in the telemetry stream); natively they are bare.
use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// The samples of one metric of one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSamples {
    pub vm: String,
    pub metric: String,
    pub values: Vec<u64>,
}

/// What one VM's console said.
#[derive(Debug, Default, Clone)]
pub struct VmReport {
    pub probe: Option<String>,
    pub native: bool,
    /// Metric id → (name, announced count).
    pub metrics: BTreeMap<u64, (String, usize)>,
    pub samples: BTreeMap<u64, Vec<u64>>,
    /// `RESULT status …` value.
    pub status: Option<String>,
}

/// Parses one VM's console lines.
pub fn parse_vm(lines: &[String]) -> VmReport {
    let mut r = VmReport::default();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["PROBE", name, mode, ..] => {
                r.probe = Some((*name).to_string());
                r.native = *mode == "native";
            }
            ["METRIC", id, name, count] => {
                if let (Ok(id), Ok(n)) = (id.parse(), count.parse()) {
                    r.metrics.insert(id, ((*name).to_string(), n));
                }
            }
            ["SAMPLES", id, values @ ..] => {
                if let Ok(id) = id.parse() {
                    r.samples
                        .entry(id)
                        .or_default()
                        .extend(values.iter().filter_map(|v| v.parse::<u64>().ok()));
                }
            }
            ["RESULT", "status", rest @ ..] => r.status = Some(rest.join(" ")),
            _ => {}
        }
    }
    r
}

/// Splits a plain serial log into console lines per VM (`[vm] …`); untagged lines (a
/// native run, the hypervisor's `hv: …`) go to `native`.
pub fn split_plain(out: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in out.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some((vm, line)) = l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            m.entry(vm.to_string()).or_default().push(line.to_string());
        } else if !l.starts_with("hv: ") {
            m.entry("native".into()).or_default().push(l.to_string());
        }
    }
    m
}

/// All metrics of all VMs of a run; fails when a probe did not pass or a metric lost
/// samples.
pub fn collect(consoles: &BTreeMap<String, Vec<String>>) -> Result<Vec<MetricSamples>> {
    let mut out = Vec::new();
    let mut probes = 0;
    for (vm, lines) in consoles {
        let r = parse_vm(lines);
        if r.probe.is_none() {
            continue;
        }
        probes += 1;
        match r.status.as_deref() {
            Some("pass") => {}
            other => bail!(
                "VM `{vm}` ({}) did not pass: status {other:?}; last lines: {:?}",
                r.probe.unwrap_or_default(),
                tail(lines)
            ),
        }
        for (id, (name, count)) in &r.metrics {
            let values = r.samples.get(id).cloned().unwrap_or_default();
            if values.len() != *count {
                bail!(
                    "VM `{vm}`: metric {name}: {} samples printed, {count} announced",
                    values.len()
                );
            }
            out.push(MetricSamples {
                vm: vm.clone(),
                metric: name.clone(),
                values,
            });
        }
    }
    if probes == 0 {
        bail!(
            "no probe output (no `PROBE` line) in: {:?}",
            consoles
                .iter()
                .map(|(k, v)| (k, tail(v)))
                .collect::<Vec<_>>()
        );
    }
    Ok(out)
}

fn tail(lines: &[String]) -> Vec<&String> {
    lines.iter().rev().take(5).rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = "hv: system\r\n[ping] PROBE probe-ping hv iters=3 warmup=1\r\n[ping] METRIC 0 rt 3\r\n\
        [ping] SAMPLES 0 5 6\r\n[ping] SAMPLES 0 7\r\n[ping] RESULT status pass\r\n[pong] hello\r\n";

    #[test]
    fn plain_lines_become_samples() {
        let c = split_plain(PLAIN);
        let m = collect(&c).unwrap();
        assert_eq!(
            m,
            vec![MetricSamples {
                vm: "ping".into(),
                metric: "rt".into(),
                values: vec![5, 6, 7]
            }]
        );
    }

    #[test]
    fn missing_samples_and_failures_are_errors() {
        let c = split_plain(&PLAIN.replace("SAMPLES 0 7", "x"));
        assert!(
            collect(&c)
                .unwrap_err()
                .to_string()
                .contains("2 samples printed")
        );
        let c = split_plain(&PLAIN.replace("status pass", "status fail x"));
        assert!(
            collect(&c)
                .unwrap_err()
                .to_string()
                .contains("did not pass")
        );
        assert!(collect(&split_plain("nothing\n")).is_err());
    }

    #[test]
    fn native_output_is_untagged() {
        let c = split_plain(
            "PROBE probe-timer native iters=1 warmup=0\nMETRIC 0 t 1\nSAMPLES 0 42\nRESULT status pass\n",
        );
        let r = parse_vm(&c["native"]);
        assert!(r.native);
        assert_eq!(collect(&c).unwrap()[0].values, vec![42]);
    }
}
