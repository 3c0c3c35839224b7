//! The certificate as JSON (for tools) and as a short Markdown summary (for people).

use super::Certificate;
use super::property::Property;
use crate::fmt::hex;
use serde_json::json;

impl Certificate {
    fn status(&self, p: Property) -> (&'static str, Vec<String>) {
        let v: Vec<String> = self
            .report
            .violations
            .iter()
            .filter(|v| v.property == p)
            .map(|v| v.to_string())
            .collect();
        if !v.is_empty() {
            return ("violated", v);
        }
        if p == Property::LwvmConfined && !self.e2h {
            return ("holds (no E2H=1 regime, no lwVM)", v);
        }
        ("holds", v)
    }

    /// The JSON document.
    pub fn json(&self) -> String {
        let properties: Vec<_> = Property::ALL
            .iter()
            .map(|&p| {
                let (status, violations) = self.status(p);
                json!({
                    "name": p.name(),
                    "meaning": p.meaning(),
                    "status": status,
                    "checked": self.report.checked.get(p.name()).copied().unwrap_or(0),
                    "violations": violations,
                })
            })
            .collect();
        let regimes: Vec<_> = self
            .report
            .regimes
            .iter()
            .map(|r| {
                json!({
                    "name": r.name, "root": hex(r.root), "tables": r.tables,
                    "leaves": r.leaves, "pages_4k": r.pages,
                })
            })
            .collect();
        let sections: Vec<_> = self
            .sections
            .iter()
            .map(|s| json!({"name": s.name, "base": hex(s.base), "size": s.size, "kind": format!("{:?}", s.kind)}))
            .collect();
        let doc = json!({
            "format": "hv-isolation-certificate/1",
            "image_sha256": self.sha256,
            "system": self.system,
            "board": self.board,
            "config_id": format!("{:#018x}", self.config_id),
            "el2_regime": if self.e2h { "E2H=1 (VHE)" } else { "E2H=0" },
            "result": if self.holds() { "certified" } else { "rejected" },
            "counts": {
                "vms": self.vms - self.lwvms,
                "lwvms": self.lwvms,
                "regimes": self.report.regimes.len(),
                "tables": self.report.regimes.iter().map(|r| r.tables).sum::<usize>(),
                "leaves": self.report.regimes.iter().map(|r| r.leaves).sum::<usize>(),
                "pages_4k": self.report.regimes.iter().map(|r| r.pages).sum::<u64>(),
                "sections": self.sections.len(),
            },
            "properties": properties,
            "not_applicable": {
                "balloon-sets": "no pregenerated balloon table sets in this image",
                "shadow-pools": "no shadow-paging pools in this image",
                "owned-devices": "the descriptor gives no device to a VM (no passthrough): any device mapping is a violation",
            },
            "regimes": regimes,
            "sections": sections,
            "elapsed_ms": self.elapsed.as_secs_f64() * 1e3,
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    }

    /// The Markdown summary.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Isolation certificate: system `{}` on `{}`\n\n\
             - result: **{}**\n- image SHA-256: `{}`\n- config id: `{:#018x}`\n\
             - EL2 regime: {}\n- {} VMs, {} lwVMs; {} regimes, {} tables, {} leaves, {} pages walked\n\
             - checked in {:.0} ms\n\n| property | status | checked |\n|---|---|---:|\n",
            self.system,
            self.board,
            if self.holds() {
                "certified"
            } else {
                "rejected"
            },
            self.sha256,
            self.config_id,
            if self.e2h { "E2H=1 (VHE)" } else { "E2H=0" },
            self.vms - self.lwvms,
            self.lwvms,
            self.report.regimes.len(),
            self.report.regimes.iter().map(|r| r.tables).sum::<usize>(),
            self.report.regimes.iter().map(|r| r.leaves).sum::<usize>(),
            self.report.regimes.iter().map(|r| r.pages).sum::<u64>(),
            self.elapsed.as_secs_f64() * 1e3,
        );
        for p in Property::ALL {
            let (status, _) = self.status(p);
            let n = self.report.checked.get(p.name()).copied().unwrap_or(0);
            s += &format!("| `{}` | {status} | {n} |\n", p.name());
        }
        if !self.holds() {
            s += "\n## Violations\n\n";
            for v in &self.report.violations {
                s += &format!("- {v}\n");
            }
        }
        s
    }

    /// One line for a terminal.
    pub fn summary(&self) -> String {
        format!(
            "{} {}: {} properties {}, {} regimes, {} pages walked, {:.0} ms, sha256 {}",
            self.system,
            if self.e2h { "(E2H=1)" } else { "(E2H=0)" },
            Property::ALL.len(),
            if self.holds() {
                "hold".to_string()
            } else {
                format!("checked, {} violations", self.report.violations.len())
            },
            self.report.regimes.len(),
            self.report.regimes.iter().map(|r| r.pages).sum::<u64>(),
            self.elapsed.as_secs_f64() * 1e3,
            &self.sha256[..16]
        )
    }
}
