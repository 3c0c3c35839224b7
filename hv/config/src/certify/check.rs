//! The checker: walks every translation regime a descriptor references and proves the
//! properties of [`super::property`] — for a plan before the build
//! ([`crate::isolation::check`]) and for a linked image (`certify`). It reads only the
//! table bytes, the descriptor and the hypervisor's sections, never the generator's
//! state, so it holds the generator, the emitter and the linker to what the descriptor
//! promises.

use super::elf::Kind;
use super::property::{Property, Violation};
use crate::fmt::{hex, overlaps};
use crate::tables::{MAIR_EL2, TCR_EL2, VTCR_EL2};
use crate::walk::{Leaf, Walker, coalesce};
use hv_core::sysdesc::{Passthrough, SystemDesc};
use std::collections::HashSet;

/// A hypervisor section the EL2 map must cover with the rights its kind needs.
#[derive(Debug, Clone)]
pub struct HvSection {
    /// Name (`.text`, `hypervisor code`, …).
    pub name: String,
    /// First byte.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    /// Rights it needs.
    pub kind: Kind,
}

/// What is checked.
pub struct Subject<'a> {
    /// The descriptor.
    pub desc: &'a SystemDesc,
    /// The table area's bytes.
    pub tables: &'a [u8],
    /// Where those bytes are loaded.
    pub tables_at: u64,
    /// The hypervisor's own sections (code, read-only data, data) and the table area and
    /// image store as loaded.
    pub sections: Vec<HvSection>,
}

/// Counts for one walked regime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegimeCount {
    /// `EL2`, `vm <name> stage 2`, `lwvm <name> stage 1`.
    pub name: String,
    /// Root table.
    pub root: u64,
    /// Tables reached.
    pub tables: usize,
    /// Leaf descriptors.
    pub leaves: usize,
    /// 4 KiB pages mapped.
    pub pages: u64,
}

/// The result of a check.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every regime walked.
    pub regimes: Vec<RegimeCount>,
    /// Every violation found (empty: every property holds).
    pub violations: Vec<Violation>,
    /// Items checked per property (regions, routes, vCPUs, pages).
    pub checked: std::collections::BTreeMap<&'static str, u64>,
}

impl Report {
    pub(crate) fn fail(
        &mut self,
        property: Property,
        regime: &str,
        address: Option<u64>,
        message: impl Into<String>,
    ) {
        // A broken table can repeat one violation many times: keep the report readable.
        if self.violations.len() < 200 {
            self.violations.push(Violation {
                property,
                regime: regime.to_string(),
                address,
                message: message.into(),
            });
        }
    }

    pub(crate) fn count(&mut self, p: Property, n: u64) {
        *self.checked.entry(p.name()).or_default() += n;
    }

    /// The first violation of `p`, if any.
    pub fn first(&self, p: Property) -> Option<&Violation> {
        self.violations.iter().find(|v| v.property == p)
    }
}

/// A named physical range.
pub(crate) type Area = (u64, u64, String);

/// The hypervisor's memory a VM must never reach.
pub(crate) fn hv_memory(s: &Subject) -> Vec<Area> {
    let h = &s.desc.hv;
    vec![
        (h.image_base, h.image_size, "hypervisor image".into()),
        (h.tables_base, h.tables_size, "page tables".into()),
        (h.images_base, h.images_size, "image store".into()),
    ]
}

/// The devices the hypervisor owns.
pub(crate) fn hv_devices(d: &SystemDesc) -> Vec<Area> {
    let dv = &d.devices;
    let mut v = vec![
        (dv.uart_base, 0x1000, "UART".into()),
        (dv.gicd_base, 0x1_0000, "GIC distributor".into()),
        (
            dv.gicr_base,
            dv.gicr_stride * d.cpus.len() as u64,
            "GIC redistributors".into(),
        ),
    ];
    if dv.virtio_mmio_count > 0 {
        let size = (dv.virtio_mmio_stride * u64::from(dv.virtio_mmio_count)).div_ceil(0x1000);
        // The window's pages given to VMs are theirs, checked as passthrough.
        for page in (0..size).map(|k| dv.virtio_mmio_base + k * 0x1000) {
            if passthrough_at(d, page).is_none() {
                v.push((page, 0x1000, "virtio-mmio window".into()));
            }
        }
    }
    v
}

/// The passed-through device whose pages hold `pa`.
pub(crate) fn passthrough_at(d: &SystemDesc, pa: u64) -> Option<&Passthrough> {
    d.passthrough
        .iter()
        .find(|p| pa >= p.pa && pa < p.pa.saturating_add(p.size))
}

/// Runs every check.
pub fn run(s: &Subject) -> Report {
    let mut r = Report::default();
    let d = s.desc;
    let w = Walker::new(s.tables, s.tables_at);
    check_area(s, &mut r);
    let mut regimes = vec![("EL2".to_string(), d.hv.ttbr0_el2)];
    for v in d.vms {
        match &v.lwvm {
            None => regimes.push((format!("vm {} stage 2", v.name), v.s2_root)),
            Some(l) => regimes.push((format!("lwvm {} stage 1", v.name), l.root)),
        }
    }
    let mut seen = HashSet::new();
    let mut walked: Vec<Option<Vec<Leaf>>> = Vec::new();
    for (name, root) in &regimes {
        let tables = match w.tables(*root) {
            Ok(t) => t,
            Err(e) => {
                r.fail(Property::TablesWellFormed, name, Some(*root), e.to_string());
                walked.push(None);
                continue;
            }
        };
        for t in &tables {
            if !seen.insert(*t) {
                r.fail(
                    Property::TablesWellFormed,
                    name,
                    Some(*t),
                    "table is shared with another regime",
                );
            }
        }
        match w.leaves(*root) {
            Ok(leaves) => {
                r.regimes.push(RegimeCount {
                    name: name.clone(),
                    root: *root,
                    tables: tables.len(),
                    leaves: leaves.len(),
                    pages: leaves.iter().map(|l| l.size / 0x1000).sum(),
                });
                walked.push(Some(coalesce(&leaves)));
            }
            Err(e) => {
                r.fail(Property::TablesWellFormed, name, Some(*root), e.to_string());
                walked.push(None);
            }
        }
    }
    r.count(Property::TablesWellFormed, seen.len() as u64);
    super::check_vm::check_tags(d, &mut r);
    super::check_vm::check_irqs(s, &mut r);
    super::check_derived::check_derived(d, &mut r);
    super::check_vm::check_placement(d, &mut r);
    let el2 = walked.first().cloned().flatten();
    for (i, vm) in d.vms.iter().enumerate() {
        let Some(leaves) = walked.get(i + 1).cloned().flatten() else {
            continue;
        };
        let regime = &regimes[i + 1].0;
        match &vm.lwvm {
            None => super::check_vm::check_stage2(s, &w, i, regime, &leaves, &mut r),
            Some(_) => super::check_el2::check_lwvm(s, i, regime, &leaves, el2.as_deref(), &mut r),
        }
    }
    if let Some(el2) = &el2 {
        super::check_el2::check_el2(s, &w, el2, &mut r);
    }
    super::check_elastic::check_elastic(s, &w, &mut seen, &mut r);
    r
}

/// The table area: in place, and the registers match the tables' geometry.
fn check_area(s: &Subject, r: &mut Report) {
    let h = &s.desc.hv;
    if s.tables_at != h.tables_base || (s.tables.len() as u64) < h.tables_size {
        r.fail(
            Property::TablesWellFormed,
            "descriptor",
            Some(s.tables_at),
            format!(
                "the tables are loaded at {} ({:#x} bytes) but the descriptor puts them at {} ({:#x} bytes)",
                hex(s.tables_at),
                s.tables.len(),
                hex(h.tables_base),
                h.tables_size
            ),
        );
    }
    let tcr = if h.e2h {
        crate::vhe::TCR_EL2_VHE
    } else {
        TCR_EL2
    };
    for (reg, got, want) in [
        ("TCR_EL2", h.tcr_el2, tcr),
        ("VTCR_EL2", h.vtcr_el2, VTCR_EL2),
        ("MAIR_EL2", h.mair_el2, MAIR_EL2),
    ] {
        if got != want {
            r.fail(
                Property::TablesWellFormed,
                "descriptor",
                None,
                format!("{reg} is {got:#x}; the tables need {want:#x} (4K granule, 39-bit input, start level 1)"),
            );
        }
    }
    for (what, base, size) in [
        ("hypervisor image", h.image_base, h.image_size),
        ("page tables", h.tables_base, h.tables_size),
        ("image store", h.images_base, h.images_size),
    ] {
        if base % 0x1000 != 0 || size % 0x1000 != 0 {
            r.fail(
                Property::TablesWellFormed,
                "descriptor",
                Some(base),
                format!("{what} is not page aligned ({size:#x} bytes)"),
            );
        }
    }
    // The image's own sections must lie in its memory, or "no VM reaches the hypervisor
    // image" would say nothing about them.
    for sec in &s.sections {
        let inside = |b: u64, n: u64| sec.base >= b && sec.base + sec.size <= b + n;
        if !(inside(h.image_base, h.image_size)
            || inside(h.tables_base, h.tables_size)
            || inside(h.images_base, h.images_size))
        {
            r.fail(
                Property::NoHypervisorMemory,
                "descriptor",
                Some(sec.base),
                format!(
                    "section {} ({:#x} bytes) lies outside the hypervisor's memory",
                    sec.name, sec.size
                ),
            );
        }
    }
}

/// Whether `[a, a+n)` overlaps any area; returns the first.
pub(crate) fn hit(areas: &[Area], a: u64, n: u64) -> Option<&Area> {
    areas.iter().find(|x| overlaps(a, n, x.0, x.1))
}
