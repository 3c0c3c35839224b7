//! The extension seam of the offline pipeline: what an extension adds to validation,
//! payloads, layout, page tables, the emitted description and the `layout` report, all
//! through one trait, [`ConfigExtension`].
//!
//! It is the offline half of `hv_core::ext::Extension` (the run-time seam): the image
//! composes `type Extensions = (Lwvm, ())`, the toolkit composes
//! [`crate::EXTENSIONS`], and each stage of the pipeline calls every extension of the
//! list at its point, in list order. No stage names an extension.
//!
//! Where this module sits: below the stages that call it (validate, payload, layout,
//! pagetable, desc, explain) and above the mechanisms its methods hand over (the
//! [`Checker`], the [`Fetcher`], the [`Allocator`], the [`Tables`] builder). An
//! extension module (e.g. [`crate::lwvm`]) implements the trait with those mechanisms
//! and never calls a stage; the crate root names the list and passes it down. So the
//! modules form a DAG: mechanisms → this seam → stages and extensions → the crate root.
//!
//! Results an extension needs in a later stage are kept by the stages, one entry per
//! extension in list order ([`crate::payload::Payloads::ext`], [`crate::layout::Layout::ext`]);
//! the extension itself holds no state, so one `&'static` value serves every plan.
//!
//! Ballooning ([`crate::balloon`]) uses the seam for an elastic memory pool
//! ([`ConfigExtension::place`]), extra stage-2 table sets per VM
//! ([`ConfigExtension::tables`]), and their roots in the description
//! ([`ConfigExtension::describe`]).
//!
//! Shadow paging is part of the lwVM extension ([`crate::lwvm`]): a per-lwVM pool of
//! table pages ([`ConfigExtension::place`], mapped for the hypervisor only with
//! [`ConfigExtension::el2_regions`]) and its grants in the description.

use crate::alloc::{Allocator, Placed};
use crate::config::Config;
use crate::diag::Checker;
use crate::dtb::GuestDevice;
use crate::error::{ConfigError, Diagnostic};
use crate::files::Fetcher;
use crate::image::Payload;
use crate::tables::Tables;
use hv_core::sysdesc::{ChannelDesc, ElasticDesc, SystemDesc, VcpuDesc, VmDesc};

/// The extensions a pipeline runs, in order. A slice of trait objects, not a tuple as in
/// the image: the toolkit runs on the host, once per build, so dynamic dispatch costs
/// nothing that matters, and a slice lets a stage keep each extension's results by
/// position (`Payloads::ext[i]`, `Layout::ext[i]`) and lets a test run the pipeline with
/// another list (none, or a no-op extension) without a new type.
pub type Extensions = [&'static dyn ConfigExtension];

/// A range of physical memory an extension pins at a fixed base (from the description).
/// Validation checks it against RAM, reserved ranges and every other fixed range; the
/// layout places nothing over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedMemory {
    /// Physical base.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    /// Who claims it in diagnostics (`lwvm "svc"`).
    pub who: String,
    /// The field that fixes it (`lwvm[0].base`).
    pub field: String,
    /// Its owner in the memory map (`lwvm svc memory`).
    pub owner: String,
}

/// Why a system needs the hypervisor to run with HCR_EL2.E2H=1: the field to name and
/// what needs it, for the error when the image is built without VHE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedsVhe {
    /// The field named in the error (`lwvm`).
    pub field: &'static str,
    /// What needs it (`lightweight VMs ([[lwvm]])`).
    pub what: &'static str,
}

/// What the layout decided for one extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtLayout {
    /// The ranges [`ConfigExtension::place`] returned, in its order.
    pub memory: Vec<Placed>,
    /// Physical address, in the image store, of each of its payloads' image (in the
    /// order of [`ConfigExtension::load_payloads`]).
    pub image_store: Vec<u64>,
}

/// One identity-mapped region of the hypervisor's EL2 map: (base, size, attributes,
/// what). Attributes in the E2H=0 encoding when contributed, in the regime's own
/// encoding when handed to [`ConfigExtension::tables`].
pub type El2Region = (u64, u64, u64, String);

/// What the page-table stage hands an extension for its own regimes.
#[derive(Debug, Clone, Copy)]
pub struct TablesInput<'a> {
    /// Its layout.
    pub own: &'a ExtLayout,
    /// Each VM's RAM, in VM order.
    pub vm_ram: &'a [Placed],
    /// Each shared region, in description order.
    pub shared: &'a [Placed],
    /// The hypervisor's EL2 map as generated (attributes in the regime's encoding), for
    /// regimes that copy it.
    pub el2: &'a [El2Region],
}

/// What an extension sees of the plan when it describes itself: its own payloads and
/// layout, and every table generated.
#[derive(Debug, Clone, Copy)]
pub struct ExtView<'a> {
    /// Its payloads.
    pub payloads: &'a [Payload],
    /// Its layout.
    pub layout: &'a ExtLayout,
    /// All generated tables (its regimes are named as it named them).
    pub tables: &'a Tables,
    /// Where the layout placed each shared region, in description order.
    pub shared: &'a [Placed],
}

/// The parts of the description an extension may add to, before the schedules are made
/// from the vCPU list.
#[derive(Debug, Default)]
pub struct DescParts {
    /// Every VM of the description: the full VMs first, then what extensions add.
    pub vms: Vec<VmDesc>,
    /// Every vCPU (execution context); each CPU's schedule is made from this list.
    pub vcpus: Vec<VcpuDesc>,
    /// The channels, in description order.
    pub channels: Vec<ChannelDesc>,
    /// Elastic memory pools.
    pub elastic: Vec<ElasticDesc>,
}

/// One extension of the offline pipeline. Every method has a no-op default: an
/// extension implements the points it needs. The methods are listed in pipeline order;
/// each is called for every extension of the list, in list order.
pub trait ConfigExtension {
    /// The extension's name (for `Debug` and reports).
    fn name(&self) -> &'static str;

    /// Validation: checks the extension's part of the description, reporting through
    /// `c` (the system file's checker) so that every diagnostic names file and field.
    /// Runs after the VMs' rules; every problem is reported at once.
    fn validate(&self, _cfg: &Config, _c: &mut Checker) {}

    /// Validation and layout: the memory the description pins at fixed physical bases.
    fn fixed_memory(&self, _cfg: &Config) -> Vec<FixedMemory> {
        Vec::new()
    }

    /// Whether (and why) the system needs HCR_EL2.E2H=1 because of this extension.
    fn needs_vhe(&self, _cfg: &Config) -> Option<NeedsVhe> {
        None
    }

    /// Payloads: reads the images of the guests the extension adds. They are stored in
    /// the image store after the VMs' and hashed into the configuration id after them.
    fn load_payloads(
        &self,
        _cfg: &Config,
        _files: &mut Fetcher,
    ) -> Result<Vec<Payload>, Vec<Diagnostic>> {
        Ok(Vec::new())
    }

    /// Layout: places the extension's memory (guest memory, pools) with the layout's
    /// allocator, after the VMs' RAM and the shared regions. Fixed ranges
    /// ([`ConfigExtension::fixed_memory`]) are claimed already: return them in place.
    fn place(&self, _cfg: &Config, _alloc: &mut Allocator) -> Result<Vec<Placed>, ConfigError> {
        Ok(Vec::new())
    }

    /// Payloads: the devices the extension emulates for VM `vm`, as nodes of its device
    /// tree (a Linux VM's; other VMs have none).
    fn guest_devices(&self, _cfg: &Config, _vm: usize) -> Vec<GuestDevice> {
        Vec::new()
    }

    /// Page tables: regions the hypervisor's own EL2 map must cover for this extension
    /// (mapped after the VMs' RAM, before the shared regions).
    fn el2_regions(&self, _cfg: &Config, _own: &ExtLayout) -> Vec<El2Region> {
        Vec::new()
    }

    /// Page tables: generates the extension's own regimes after the VMs' stage 2. An
    /// error describes the mapping conflict.
    fn tables(
        &self,
        _cfg: &Config,
        _input: TablesInput<'_>,
        _t: &mut Tables,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Description: adds the extension's entries (VMs, vCPUs, channel targets) to the
    /// emitted `SystemDesc`.
    fn describe(&self, _cfg: &Config, _own: ExtView<'_>, _d: &mut DescParts) {}

    /// The `layout` report: the extension's section, written after the VMs'.
    fn explain(&self, _d: &SystemDesc, _out: &mut String) {}
}

impl std::fmt::Debug for dyn ConfigExtension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
