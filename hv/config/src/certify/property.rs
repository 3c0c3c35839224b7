//! The properties a certificate proves, and how a violation of one is reported.

use crate::fmt::hex;

/// One property; its name is what the certificate and the error messages print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// Table area in place, every walk stays inside it, no table shared between
    /// regimes, translation registers match the geometry the tables were made for.
    TablesWellFormed,
    /// Each VM and lwVM maps exactly its RAM (all of it, at its IPA/VA, RWX for its
    /// guest) and the shared regions it declares (exact rights, never executable).
    VmMemoryExact,
    /// VMs' memories are pairwise disjoint; a shared region is reached only by the VMs
    /// that declare it.
    VmMemoryDisjoint,
    /// No VM or lwVM reaches hypervisor memory (code, data, stacks, tables, image store).
    NoHypervisorMemory,
    /// No VM or lwVM reaches a device of the hypervisor (the UART, the GIC frames, the
    /// virtio-mmio pages it keeps) or of another VM; a passed-through device page is
    /// mapped by its owner only, at IPA = PA, as Device-nGnRE, never executable.
    NoForeignDevice,
    /// Emulated ranges and the VM's emulated UART/GIC frames are unmapped (they trap);
    /// each VM's MMIO route table is sorted, disjoint and names exactly these.
    EmulatedTrap,
    /// Each physical SPI is routed to at most one VM, never one the hypervisor uses;
    /// routes and virtual INTIDs are consistent, and so are the tables the run time
    /// looks them up in (SPI routes, owned SPIs, channel peers).
    IrqOwnership,
    /// VMIDs and ASIDs are unique and non-zero (TLB entries never alias).
    TlbTagsUnique,
    /// The EL2 map identity-maps everything the hypervisor needs, with the right
    /// memory type.
    El2Coverage,
    /// EL2 is W^X: code RX, read-only data R, data/bss/stacks RW+XN, no leaf W and X.
    El2WxorX,
    /// The page tables are read-only in every regime that maps them.
    TablesReadOnly,
    /// lwVM address spaces: EL0 reaches only its own pages; the hypervisor's pages
    /// stay privileged, global and identical to the EL2 map.
    LwvmConfined,
    /// Every vCPU is on an existing CPU, in exactly one schedule, consistent with its
    /// VM; slot tables name only vCPUs pinned to their CPU.
    VcpuPlacement,
    /// Elastic memory: every stage-2 set of a pool's holder equals the holder's own
    /// stage 2 outside the pool's window and maps there exactly its count of blocks, from
    /// the holder's end of the pool; any two sets whose counts fit in the pool together
    /// are disjoint.
    ElasticSets,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 14] = [
        Property::TablesWellFormed,
        Property::VmMemoryExact,
        Property::VmMemoryDisjoint,
        Property::NoHypervisorMemory,
        Property::NoForeignDevice,
        Property::EmulatedTrap,
        Property::IrqOwnership,
        Property::TlbTagsUnique,
        Property::El2Coverage,
        Property::El2WxorX,
        Property::TablesReadOnly,
        Property::LwvmConfined,
        Property::VcpuPlacement,
        Property::ElasticSets,
    ];

    /// The name printed in certificates and errors.
    pub fn name(self) -> &'static str {
        match self {
            Property::TablesWellFormed => "tables-well-formed",
            Property::VmMemoryExact => "vm-memory-exact",
            Property::VmMemoryDisjoint => "vm-memory-disjoint",
            Property::NoHypervisorMemory => "no-hypervisor-memory",
            Property::NoForeignDevice => "no-foreign-device",
            Property::EmulatedTrap => "emulated-ranges-trap",
            Property::IrqOwnership => "irq-ownership",
            Property::TlbTagsUnique => "tlb-tags-unique",
            Property::El2Coverage => "el2-coverage",
            Property::El2WxorX => "el2-w-xor-x",
            Property::TablesReadOnly => "tables-read-only",
            Property::LwvmConfined => "lwvm-el0-confined",
            Property::VcpuPlacement => "vcpu-placement",
            Property::ElasticSets => "elastic-sets",
        }
    }

    /// One line: what the property means.
    pub fn meaning(self) -> &'static str {
        match self {
            Property::TablesWellFormed => {
                "the table area is where the descriptor says, every walk stays inside it, no table is shared between regimes, TCR/VTCR/MAIR match the tables' geometry"
            }
            Property::VmMemoryExact => {
                "each VM/lwVM maps all of its RAM at its IPA/VA (RWX for its guest) and the shared regions it declares with exactly the declared rights (never executable), nothing else"
            }
            Property::VmMemoryDisjoint => {
                "VM memories are pairwise disjoint; a shared region is reached only by the VMs that declare it"
            }
            Property::NoHypervisorMemory => {
                "no VM or lwVM reaches the hypervisor's code, data, stacks, page tables or image store"
            }
            Property::NoForeignDevice => {
                "no VM or lwVM reaches the UART, the GIC distributor/redistributors, the hypervisor's virtio-mmio pages or a device given to another VM; a passed-through device page is mapped only by its owner, at IPA = PA, as device memory, never executable"
            }
            Property::EmulatedTrap => {
                "emulated ranges and each VM's emulated UART/GICD/GICR frames are unmapped in its stage 2"
            }
            Property::IrqOwnership => {
                "each physical SPI is routed to at most one full VM and never one the hypervisor uses; virtual INTIDs are SPIs, unique per receiving VM"
            }
            Property::TlbTagsUnique => "VMIDs and ASIDs are unique and non-zero",
            Property::El2Coverage => {
                "the EL2 map identity-maps the image's sections, tables, image store, VM/lwVM/shared memory (normal) and the hypervisor's devices (device, XN)"
            }
            Property::El2WxorX => {
                "no EL2 leaf is writable and executable; code RX, read-only data R+XN, data/bss/stacks RW+XN; no page holds sections of two kinds"
            }
            Property::TablesReadOnly => {
                "every leaf of every regime that reaches the page tables is read-only"
            }
            Property::LwvmConfined => {
                "an lwVM's EL0 reaches only its window pages (ASID-tagged, PXN); its privileged mappings are exactly the EL2 map; no EL2 leaf is EL0-accessible"
            }
            Property::VcpuPlacement => {
                "every vCPU is on an existing CPU, in exactly its CPU's schedule, listed by its VM, no two of one VM on one CPU; slot tables name only vCPUs of their CPU"
            }
            Property::ElasticSets => {
                "each elastic pool holder's stage-2 set for k blocks equals its own stage 2 outside the pool's window and maps exactly k blocks from its end of the pool there (RWX); sets of two holders whose counts fit in the pool together never share a page"
            }
        }
    }
}

impl std::fmt::Display for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A property that does not hold, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The property.
    pub property: Property,
    /// The translation regime (`EL2`, `vm <name> stage 2`, `lwvm <name> stage 1`) or
    /// the descriptor table concerned.
    pub regime: String,
    /// The input address (VA/IPA) or physical address concerned, if any.
    pub address: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.property, self.regime)?;
        if let Some(a) = self.address {
            write!(f, " at {}", hex(a))?;
        }
        write!(f, ": {}", self.message)
    }
}
