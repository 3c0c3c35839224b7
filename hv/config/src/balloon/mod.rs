//! Elastic memory (`[[elastic]]`, the `balloon` extension of the image): memory that moves
//! between VMs at run time without a page-table entry being written, by switching among
//! stage-2 table sets generated here ([`Balloon`] implements the offline seam).
//!
//! Why sets per count: the core's guarantee is that every translation a VM can use was
//! generated and checked before the image was built. A pool of `blocks` blocks is
//! shared by one or two holders; each holder gets one stage-2 root per number of blocks
//! it may hold (`0..=blocks`), and the run time only picks which root a VM runs with.
//! Holder 0 holds the pool's lowest blocks (window block `i` is pool block `i`), holder 1
//! its highest (window block `i` is pool block `blocks - 1 - i`), so a holder that grows
//! or shrinks keeps the data of the blocks it keeps, and any two counts that add up to at
//! most `blocks` map disjoint memory — the invariant the run-time protocol keeps and the
//! certificate proves for every such pair.
//!
//! What each stage gets:
//! - validate (`validate.rs`): names, sizes, holders, window, initial counts, manager,
//!   notification SPI; fixed bases join the core's overlap checks;
//! - layout: the pool after the VMs, aligned to 2 MiB;
//! - tables: the pool in the hypervisor's EL2 map (it scrubs released blocks); per
//!   holder and count `k ≥ 1` a root copied from the VM's own root plus one level-2
//!   table for the window's 1 GiB slot holding `k` 2 MiB block descriptors. Every other
//!   entry points at the VM's own sub-tables, shared by all its sets, so a set costs two
//!   pages; count 0 is the VM's own root (the window unmapped);
//! - description: one [`ElasticDesc`] per pool; each holder's VM starts with the root of
//!   its initial count; the pool's SPI joins the owned SPIs of its holders and manager
//!   (derived by the core's builder from `elastic`);
//! - report: the pools, their holders and the sets' table memory.

mod validate;

use crate::alloc::{Allocator, Placed};
use crate::config::Config;
use crate::diag::Checker;
use crate::dtb::GuestDevice;
use crate::error::ConfigError;
use crate::ext::{
    ConfigExtension, DescParts, El2Region, ExtLayout, ExtView, FixedMemory, TablesInput,
};
use crate::fmt::hex;
use crate::parts::{leak, text};
use crate::size::{MIB2, human};
use crate::system::Elastic;
use crate::tables::{EL2_DATA, S2_RAM, Tables};
use hv_core::mmio::VIRTIO_MMIO_SIZE;
use hv_core::sysdesc::{ElasticDesc, ElasticHolder, PlannedMove, SystemDesc, VmIndex};
use std::fmt::Write;

/// Bytes of input address one level-1 entry covers: a window lies in one such slot.
pub const SLOT: u64 = 1 << 30;

/// Name of the regime of holder `vm`'s set with `k` blocks of pool `pool`.
fn set_name(pool: &str, vm: &str, k: u32) -> String {
    format!("vm {vm} elastic {pool} x{k}")
}

/// Bytes per block.
pub fn block_size(e: &Elastic) -> u64 {
    e.size.0 / u64::from(e.blocks.max(1))
}

/// The elastic-memory extension. Stateless: `ExtLayout::memory[p]` is pool `p`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Balloon;

impl ConfigExtension for Balloon {
    fn name(&self) -> &'static str {
        "balloon"
    }

    fn validate(&self, cfg: &Config, c: &mut Checker) {
        validate::check(cfg, c);
    }

    fn fixed_memory(&self, cfg: &Config) -> Vec<FixedMemory> {
        let pools = cfg.system.elastic.iter().enumerate();
        pools
            .filter_map(|(p, e)| {
                e.base.map(|base| FixedMemory {
                    base: base.0,
                    size: e.size.0,
                    who: format!("elastic \"{}\"", e.name),
                    field: format!("elastic[{p}].base"),
                    owner: format!("elastic {} pool", e.name),
                })
            })
            .collect()
    }

    fn place(&self, cfg: &Config, a: &mut Allocator) -> Result<Vec<Placed>, ConfigError> {
        let mut out = Vec::new();
        for (p, e) in cfg.system.elastic.iter().enumerate() {
            out.push(match e.base {
                Some(base) => Placed {
                    base: base.0,
                    size: e.size.0,
                },
                None => a.alloc(
                    e.size.0,
                    MIB2,
                    format!("elastic {} pool", e.name),
                    cfg,
                    &format!("elastic[{p}].size"),
                )?,
            });
        }
        Ok(out)
    }

    /// A holder that sees a pool through virtio-mem gets a `virtio,mmio` node: its
    /// registers and the pool's SPI.
    fn guest_devices(&self, cfg: &Config, vm: usize) -> Vec<GuestDevice> {
        let name = &cfg.system.vm[vm].name;
        let pools = cfg.system.elastic.iter();
        pools
            .filter_map(|e| {
                e.virtio_mem
                    .as_ref()
                    .filter(|v| v.vm == *name)
                    .map(|v| (e, v))
            })
            .map(|(e, v)| GuestDevice {
                node: "virtio_mmio".into(),
                compatible: vec!["virtio,mmio".into()],
                base: v.ipa(),
                size: VIRTIO_MMIO_SIZE,
                intid: e.intid,
                dma_coherent: true,
            })
            .collect()
    }

    fn el2_regions(&self, cfg: &Config, own: &ExtLayout) -> Vec<El2Region> {
        let pools = cfg.system.elastic.iter().zip(&own.memory);
        pools
            .map(|(e, m)| (m.base, m.size, EL2_DATA, format!("elastic {} pool", e.name)))
            .collect()
    }

    /// Per holder and count `k ≥ 1`: the VM's root copied, plus the window's blocks.
    fn tables(&self, cfg: &Config, input: TablesInput<'_>, t: &mut Tables) -> Result<(), String> {
        for (p, e) in cfg.system.elastic.iter().enumerate() {
            let pool = input.own.memory[p];
            let bs = block_size(e);
            for (h, name) in e.vms.iter().enumerate() {
                let base = t
                    .regimes
                    .iter()
                    .find(|r| r.name == format!("vm {name}"))
                    .map(|r| r.root)
                    .ok_or_else(|| format!("elastic {}: vm {name} has no stage 2", e.name))?;
                let slot = e.ipa.0 / SLOT;
                if t.entry(base, slot as usize) != 0 {
                    return Err(format!(
                        "elastic[{p}].ipa: the 1 GiB slot {}..{} of vm {name} holds other \
                         mappings of that VM (its RAM, shared regions or devices); the \
                         pool's window needs a slot of its own",
                        hex(slot * SLOT),
                        hex((slot + 1) * SLOT)
                    ));
                }
                for k in 1..=e.blocks {
                    let root = t.start_regime_from(set_name(&e.name, name, k), base);
                    for i in 0..k {
                        let b = if h == 0 { i } else { e.blocks - 1 - i };
                        let pa = pool.base + u64::from(b) * bs;
                        t.map(root, e.ipa.0 + u64::from(i) * bs, pa, bs, S2_RAM)
                            .map_err(|err| format!("elastic {} set of vm {name}: {err}", e.name))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn describe(&self, cfg: &Config, own: ExtView<'_>, d: &mut DescParts) {
        let s = &cfg.system;
        let vm_index = |n: &str| s.vm.iter().position(|v| v.name == n).unwrap_or(0) as VmIndex;
        for (p, e) in s.elastic.iter().enumerate() {
            let pool = own.layout.memory[p];
            let holders = e.vms.iter().enumerate().map(|(h, name)| {
                let vm = vm_index(name);
                let mut roots = vec![d.vms[usize::from(vm)].s2_root];
                for k in 1..=e.blocks {
                    let n = set_name(&e.name, name, k);
                    let r = own.tables.regimes.iter().find(|r| r.name == n);
                    roots.push(r.map_or(0, |r| r.root));
                }
                let initial = e.initial.get(h).copied().unwrap_or(0);
                let virtio = e.virtio_mem.as_ref().filter(|v| v.vm == *name);
                ElasticHolder {
                    vm,
                    ipa: e.ipa.0,
                    initial,
                    virtio_ipa: virtio.map(|v| v.ipa()),
                    roots: leak(roots),
                }
            });
            let holders: Vec<ElasticHolder> = holders.collect();
            for h in &holders {
                d.vms[usize::from(h.vm)].s2_root = h.roots[h.initial as usize];
            }
            d.elastic.push(ElasticDesc {
                name: text(&e.name),
                pa: pool.base,
                block_size: block_size(e),
                blocks: e.blocks,
                holders: leak(holders),
                manager: e.manager.as_deref().map(vm_index),
                virt_intid: e.intid,
                deadline_us: e.deadline_us.unwrap_or(Elastic::DEFAULT_DEADLINE_US),
                plan: leak(
                    e.plan
                        .iter()
                        .map(|m| PlannedMove {
                            at_us: u64::from(m.at_ms) * 1000,
                            to: e.vms.iter().position(|v| *v == m.to).unwrap_or(0) as u8,
                            blocks: m.blocks,
                        })
                        .collect(),
                ),
            });
        }
    }

    fn explain(&self, d: &SystemDesc, out: &mut String) {
        if d.elastic.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nelastic memory (balloon):");
        for e in d.elastic {
            let _ = writeln!(
                out,
                "  {}: {} blocks of {} at {}, notification SPI {}, deadline {} us, manager {}",
                e.name,
                e.blocks,
                human(e.block_size),
                hex(e.pa),
                e.virt_intid,
                e.deadline_us,
                e.manager
                    .map_or("none".to_string(), |m| d.vms[usize::from(m)]
                        .name
                        .to_string()),
            );
            for (h, x) in e.holders.iter().enumerate() {
                let end = if h == 0 { "lowest" } else { "highest" };
                let _ = writeln!(
                    out,
                    "    {:<12} window {} holds the {end} blocks, {} at boot; {} stage-2 \
                     sets (regimes \"vm {} elastic {} xK\")",
                    d.vms[usize::from(x.vm)].name,
                    hex(x.ipa),
                    x.initial,
                    x.roots.len(),
                    d.vms[usize::from(x.vm)].name,
                    e.name,
                );
            }
            for m in e.plan {
                let to = e.holders.get(usize::from(m.to)).map(|x| x.vm);
                let _ = writeln!(
                    out,
                    "    plan: at {} ms move {} blocks to {}",
                    m.at_us / 1000,
                    m.blocks,
                    to.map_or("?", |v| d.vms[usize::from(v)].name),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
