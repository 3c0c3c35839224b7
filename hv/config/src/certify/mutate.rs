//! Mutations of a linked image, for the tests that show the certificate can fail: each
//! rewrites a few bytes of the ELF file the way a toolkit, emitter or linker bug could
//! and returns the property the checker must name.

use super::dwarf::{Types, Value};
use super::elf::{Elf, SYSTEM_SYMBOL, TABLES_SECTION};
use super::property::Property;
use crate::tables::bits;
use crate::walk::Walker;
use hv_core::sysdesc::SystemDesc;

/// A named mutation.
pub struct Mutation {
    /// Short name.
    pub name: &'static str,
    /// The property the checker must report as violated.
    pub expect: Property,
    apply: fn(&Elf, &SystemDesc, &mut [u8]) -> Result<(), String>,
}

impl Mutation {
    /// The mutated copy of `elf`'s bytes.
    pub fn apply(&self, elf: &Elf, desc: &SystemDesc) -> Result<Vec<u8>, String> {
        let mut bytes = elf.bytes.clone();
        (self.apply)(elf, desc, &mut bytes).map_err(|e| format!("mutation {}: {e}", self.name))?;
        Ok(bytes)
    }
}

/// Every mutation. `owned-spi-twice` needs an image whose descriptor routes two SPIs,
/// `device-page-in-two-vms` one that gives a device to one of two full VMs,
/// `elastic-set-reaches-the-other-holder` one with a two-holder elastic pool (feature
/// `balloon`).
pub fn all() -> Vec<Mutation> {
    vec![
        Mutation {
            name: "stage2-output-into-another-vm",
            expect: Property::VmMemoryDisjoint,
            apply: s2_into_other_vm,
        },
        Mutation {
            name: "el2-page-writable-and-executable",
            expect: Property::El2WxorX,
            apply: el2_wx,
        },
        Mutation {
            name: "gicd-mapped-into-a-vm",
            expect: Property::NoForeignDevice,
            apply: gicd_into_vm,
        },
        Mutation {
            name: "two-vms-one-spi",
            expect: Property::IrqOwnership,
            apply: spi_twice,
        },
        Mutation {
            name: "device-page-in-two-vms",
            expect: Property::NoForeignDevice,
            apply: device_twice,
        },
        Mutation {
            name: "tables-writable-at-el2",
            expect: Property::TablesReadOnly,
            apply: tables_writable,
        },
        Mutation {
            name: "elastic-set-reaches-the-other-holder",
            expect: Property::ElasticSets,
            apply: elastic_into_other_holder,
        },
    ]
}

fn walker<'a>(elf: &Elf, tables: &'a [u8]) -> Result<Walker<'a>, String> {
    Ok(Walker::new(tables, elf.section(TABLES_SECTION)?.addr))
}

fn tables(elf: &Elf) -> Result<Vec<u8>, String> {
    use super::dwarf::Memory;
    let t = elf.section(TABLES_SECTION)?;
    elf.read(t.addr, t.size)
}

/// Rewrites the leaf descriptor translating `va` in the regime at `root`.
fn rewrite(
    elf: &Elf,
    bytes: &mut [u8],
    root: u64,
    va: u64,
    f: impl Fn(u64, u8) -> u64,
) -> Result<(), String> {
    let t = tables(elf)?;
    let w = walker(elf, &t)?;
    let (at, d, level) = w
        .descriptor(root, va)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{va:#x} is unmapped"))?;
    let off = elf
        .file_offset(at)
        .ok_or_else(|| format!("descriptor at {at:#x} is not in the file"))?;
    bytes[off..off + 8].copy_from_slice(&f(d, level).to_le_bytes());
    Ok(())
}

fn full_vms(d: &SystemDesc) -> Vec<&hv_core::sysdesc::VmDesc> {
    d.vms.iter().filter(|v| v.lwvm.is_none()).collect()
}

fn block_mask(level: u8) -> u64 {
    !((1u64 << (39 - 9 * u32::from(level))) - 1) & bits::OA_MASK
}

fn s2_into_other_vm(elf: &Elf, d: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    let vms = full_vms(d);
    let [a, b, ..] = vms.as_slice() else {
        return Err("needs two full VMs".into());
    };
    rewrite(elf, bytes, a.s2_root, a.ram_ipa, |desc, level| {
        (desc & !bits::OA_MASK) | (b.ram_pa & block_mask(level))
    })
}

fn el2_wx(elf: &Elf, d: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    let text = elf.section(".text")?;
    // AP[2] (bit 7) clear: writable, in both the E2H=0 and E2H=1 encodings.
    rewrite(elf, bytes, d.hv.ttbr0_el2, text.addr, |desc, _| {
        desc & !(1 << 7)
    })
}

fn tables_writable(elf: &Elf, d: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    rewrite(elf, bytes, d.hv.ttbr0_el2, d.hv.tables_base, |desc, _| {
        desc & !(1 << 7)
    })
}

fn gicd_into_vm(elf: &Elf, d: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    let vm = full_vms(d).first().copied().ok_or("needs a full VM")?;
    let last = vm.ram_ipa + vm.ram_size - 0x1000;
    let gicd = d.devices.gicd_base;
    rewrite(elf, bytes, vm.s2_root, last, |desc, level| {
        (desc & !bits::OA_MASK) | (gicd & block_mask(level))
    })
}

fn spi_twice(elf: &Elf, _: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    let types = Types::load(|n| elf.debug_section(n))?;
    let ty = types.named("hv_core::sysdesc::SystemDesc")?;
    let (addr, _) = elf.symbol(SYSTEM_SYMBOL)?;
    let sys = Value::new(&types, elf, addr, ty);
    let routes = sys.slice("irqs")?;
    let (first, second) = (routes.first(), routes.get(1));
    let (Some(first), Some(second)) = (first, second) else {
        return Err("needs a descriptor with two IRQ routes".into());
    };
    if first.u("vm")? == second.u("vm")? {
        return Err("the first two routes go to the same VM".into());
    }
    let intid = first.u("intid")?;
    let f = second.field("intid")?;
    let off = elf
        .file_offset(f.addr)
        .ok_or("the route is not in the file")?;
    bytes[off..off + 4].copy_from_slice(&(intid as u32).to_le_bytes());
    Ok(())
}

fn device_twice(elf: &Elf, d: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    let g = d
        .passthrough
        .first()
        .ok_or("needs a passed-through device")?;
    let other = full_vms(d)
        .into_iter()
        .enumerate()
        .find(|(i, _)| *i != usize::from(g.vm))
        .map(|(_, v)| v)
        .ok_or("needs a second full VM")?;
    let last = other.ram_ipa + other.ram_size - 0x1000;
    rewrite(elf, bytes, other.s2_root, last, |desc, level| {
        (desc & !bits::OA_MASK) | (g.pa & block_mask(level))
    })
}

/// Holder 0's set for one block maps, instead of its own first block, the block holder 1's
/// set for one block maps: counts 1 + 1 fit the pool, so both could be in use at once.
fn elastic_into_other_holder(elf: &Elf, d: &SystemDesc, bytes: &mut [u8]) -> Result<(), String> {
    let e = d
        .elastic
        .iter()
        .find(|e| e.holders.len() == 2 && e.blocks >= 2)
        .ok_or("needs an elastic pool with two holders and two blocks")?;
    let (h0, theirs) = (&e.holders[0], e.block_pa(1, 0));
    rewrite(elf, bytes, h0.roots[1], h0.ipa, |desc, level| {
        (desc & !bits::OA_MASK) | (theirs & block_mask(level))
    })
}
