//! Isolation of a plan, proven before anything is built.
//!
//! [`check`] runs the certificate's checker ([`crate::certify::check`]) over the plan's
//! table blob and descriptor, with the hypervisor's memory split as the layout decided
//! (code, read-only data, data; the tables and the image store). [`crate::plan_with`]
//! calls it for every plan, so `generate` (the image's build script), `layout` and
//! `check --images` refuse a system whose tables break a property; `certify` then
//! proves the same properties again on the linked image.

use crate::certify::check::{self, HvSection, Report, Subject};
use crate::certify::elf::Kind;
use crate::plan::Plan;

/// The hypervisor's sections as the layout placed them.
pub fn planned_sections(plan: &Plan) -> Vec<HvSection> {
    let l = &plan.layout;
    [
        (l.hv_code, Kind::Code, "hypervisor code"),
        (l.hv_rodata, Kind::ReadOnly, "hypervisor read-only data"),
        (l.hv_data, Kind::Writable, "hypervisor data"),
        (l.tables, Kind::ReadOnly, "page tables"),
        (l.images, Kind::ReadOnly, "image store"),
    ]
    .into_iter()
    .filter(|(p, _, _)| p.size > 0)
    .map(|(p, kind, name)| HvSection {
        name: name.into(),
        base: p.base,
        size: p.size,
        kind,
    })
    .collect()
}

/// Every property of the certificate, over the plan.
pub fn report(plan: &Plan) -> Report {
    check::run(&Subject {
        desc: plan.desc,
        tables: &plan.tables_blob,
        tables_at: plan.desc.hv.tables_base,
        sections: planned_sections(plan),
    })
}

/// Checks every property; the error names the first violation (property, regime,
/// address, what).
pub fn check(plan: &Plan) -> Result<(), String> {
    match report(plan).violations.first() {
        None => Ok(()),
        Some(v) => Err(v.to_string()),
    }
}
