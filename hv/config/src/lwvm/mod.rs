//! Lightweight VMs (`[[lwvm]]`): the worked example of the offline extension seam
//! ([`crate::ext::ConfigExtension`]), implemented by [`Lwvm`].
//!
//! Why: an lwVM is a program without a kernel that the hypervisor runs at EL0 of its own
//! EL2&0 translation regime (ARMv8.1 VHE, encodings in [`crate::vhe`]). What the
//! extension adds to each stage:
//! - validate (`validate.rs`): the lwVMs' own rules, channels into lwVMs, their shared
//!   maps; fixed bases join the core's overlap checks; VHE is required on every CPU;
//! - payloads: each lwVM's ELF, flattened for its window;
//! - layout: each lwVM's memory after the VMs and shared regions (2 MiB aligned when its
//!   size is a multiple of 2 MiB, else 4 KiB), its image after the VMs' in the store;
//! - tables: the lwVMs' memory in the hypervisor's EL2 map (it loads their images), and
//!   per lwVM one EL2&0 regime: the EL2 map copied plus its user pages ([`lw_regions`]);
//! - description and report (`describe.rs`): lwVMs are `vms` entries after the full VMs
//!   (`lwvm: Some(LwvmDesc)`, ASIDs 1.. in lwVM order, 0 being the hypervisor's), each
//!   with one execution context; a channel into an lwVM raises the event bit of its
//!   own index.
//!
//! Invariants:
//! - Every lwVM address space is a copy of the hypervisor's EL2 map — the same identity
//!   mappings, all privileged-only (AP\[1\]=0), global (nG=0), UXN — plus the lwVM's own
//!   pages: its memory and its shared regions in the *lwVM window*
//!   [`WINDOW_BASE`]..[`WINDOW_END`], EL0-accessible (AP\[1\]=1), PXN (the hypervisor never
//!   executes lwVM code), nG=1 (tagged with its ASID). Switching TTBR0_EL2 between the
//!   hypervisor's tables and an lwVM's therefore never changes a hypervisor translation.
//! - The window lies above every physical address the hypervisor maps (validated), so an
//!   lwVM page never shadows a hypervisor mapping.

mod describe;
mod validate;

use crate::alloc::{Allocator, Placed};
use crate::config::Config;
use crate::diag::Checker;
use crate::error::{ConfigError, Diagnostic};
use crate::ext::{
    ConfigExtension, DescParts, El2Region, ExtLayout, ExtView, FixedMemory, NeedsVhe, TablesInput,
};
use crate::files::Fetcher;
use crate::image::{Payload, elf_to_blob};
use crate::size::{KIB4, MIB2};
use crate::system::Access;
use crate::tables::{EL2_DATA, Tables, bits};
use crate::vhe::vbits;
use hv_core::sysdesc::SystemDesc;

/// First virtual address of every lwVM's memory (each lwVM has its own address space).
pub const WINDOW_BASE: u64 = 0x40_0000_0000;
/// End of the lwVM window (the 39-bit input range ends here).
pub const WINDOW_END: u64 = 1 << 39;

/// An lwVM's own memory: normal write-back, EL0 read-write-execute, PXN, not global.
pub const LW_RAM: u64 =
    bits::attr_index(0) | vbits::AP_EL0 | bits::SH_INNER | bits::AF | vbits::NG | vbits::PXN;

/// An lwVM's mapping of a shared region: normal non-cacheable (MAIR attr 2, so that it
/// is coherent with a full VM that accesses the region with its MMU off), never
/// executable, read-only or read-write at EL0, not global.
pub fn lw_shared(access: Access) -> u64 {
    let ro = if access == Access::Ro {
        vbits::AP_RO
    } else {
        0
    };
    bits::attr_index(2)
        | vbits::AP_EL0
        | ro
        | bits::SH_INNER
        | bits::AF
        | vbits::NG
        | vbits::PXN
        | vbits::UXN
}

/// The user regions of lwVM `j`, whose memory was placed at `mem`: (va, pa, size,
/// attributes). `shared` is where the layout placed each shared region.
pub fn lw_regions(
    cfg: &Config,
    shared: &[Placed],
    j: usize,
    mem: Placed,
) -> Vec<(u64, u64, u64, u64)> {
    let v = &cfg.system.lwvm[j];
    let mut r = vec![(WINDOW_BASE, mem.base, mem.size, LW_RAM)];
    for (s, p) in cfg.system.shared.iter().zip(shared) {
        for m in s.maps.iter().filter(|m| m.vm == v.name) {
            r.push((m.ipa.0, p.base, p.size, lw_shared(m.access)));
        }
    }
    r
}

/// The lwVMs whose tables are their own (`paging = "shadow"`), in lwVM order.
pub fn shadowed(cfg: &Config) -> impl Iterator<Item = &crate::system::Lwvm> {
    let lws = cfg.system.lwvm.iter();
    lws.filter(|l| l.paging == crate::system::Paging::Shadow)
}

/// The lightweight-VM extension. Stateless: what it decides is kept by the stages
/// (its payloads, its [`ExtLayout`]: `memory[j]` and `image_store[j]` are lwVM `j`'s).
#[derive(Debug, Clone, Copy, Default)]
pub struct Lwvm;

/// lwVM `j`'s ELF, flattened for its window.
fn load(cfg: &Config, j: usize, f: &mut Fetcher) -> Result<Payload, Diagnostic> {
    let lw = &cfg.system.lwvm[j];
    let (va, size) = (WINDOW_BASE, lw.memory.0);
    let field = format!("lwvm[{j}].image");
    let Some(data) = f.fetch(cfg, &field, &lw.image)? else {
        return Ok(Payload {
            image: f.filler(va),
            initrd: None,
            dtb: None,
            entry_ipa: lw.entry.map_or(va, |e| e.0),
        });
    };
    let (blob, entry) = elf_to_blob(&f.resolve(cfg, &lw.image), &lw.name, &data, va, size)?;
    Ok(Payload {
        image: blob,
        initrd: None,
        dtb: None,
        entry_ipa: lw.entry.map_or(entry, |e| e.0),
    })
}

impl ConfigExtension for Lwvm {
    fn name(&self) -> &'static str {
        "lwvm"
    }

    fn validate(&self, cfg: &Config, c: &mut Checker) {
        validate::check(cfg, c);
    }

    fn fixed_memory(&self, cfg: &Config) -> Vec<FixedMemory> {
        let lws = cfg.system.lwvm.iter().enumerate();
        lws.filter_map(|(j, lw)| {
            lw.base.map(|base| FixedMemory {
                base: base.0,
                size: lw.memory.0,
                who: format!("lwvm \"{}\"", lw.name),
                field: format!("lwvm[{j}].base"),
                owner: format!("lwvm {} memory", lw.name),
            })
        })
        .collect()
    }

    fn needs_vhe(&self, cfg: &Config) -> Option<NeedsVhe> {
        (!cfg.system.lwvm.is_empty()).then_some(NeedsVhe {
            field: "lwvm",
            what: "lightweight VMs ([[lwvm]])",
        })
    }

    fn load_payloads(
        &self,
        cfg: &Config,
        files: &mut Fetcher,
    ) -> Result<Vec<Payload>, Vec<Diagnostic>> {
        let mut out = Vec::new();
        let mut diags = Vec::new();
        for j in 0..cfg.system.lwvm.len() {
            match load(cfg, j, files) {
                Ok(p) => out.push(p),
                Err(d) => diags.push(d),
            }
        }
        if diags.is_empty() {
            Ok(out)
        } else {
            Err(diags)
        }
    }

    fn place(&self, cfg: &Config, a: &mut Allocator) -> Result<Vec<Placed>, ConfigError> {
        let mut out = Vec::new();
        for (j, lw) in cfg.system.lwvm.iter().enumerate() {
            let align = if lw.memory.0 % MIB2 == 0 { MIB2 } else { KIB4 };
            out.push(match lw.base {
                Some(base) => Placed {
                    base: base.0,
                    size: lw.memory.0,
                },
                None => a.alloc(
                    lw.memory.0,
                    align,
                    format!("lwvm {} memory", lw.name),
                    cfg,
                    &format!("lwvm[{j}].memory"),
                )?,
            });
        }
        // Then the shadow pools, in lwVM order (`memory[lwvm count + k]` is the k-th).
        for (j, lw) in cfg.system.lwvm.iter().enumerate() {
            let pool = lw.shadow_pool_bytes();
            if pool > 0 {
                out.push(a.alloc(
                    pool,
                    KIB4,
                    format!("lwvm {} shadow pool", lw.name),
                    cfg,
                    &format!("lwvm[{j}].shadow-pool"),
                )?);
            }
        }
        Ok(out)
    }

    fn el2_regions(&self, cfg: &Config, own: &ExtLayout) -> Vec<El2Region> {
        let lws = cfg.system.lwvm.iter().zip(&own.memory);
        let mut r: Vec<El2Region> = lws
            .map(|(v, m)| (m.base, m.size, EL2_DATA, format!("lwvm {} memory", v.name)))
            .collect();
        // The pools: the hypervisor writes the shadow tables there. Only in the EL2 map
        // (privileged), never in a user mapping: the certificate checks the pools are
        // disjoint from every VM's memory and shared region.
        for (lw, p) in shadowed(cfg).zip(&own.memory[cfg.system.lwvm.len()..]) {
            r.push((
                p.base,
                p.size,
                EL2_DATA,
                format!("lwvm {} shadow pool", lw.name),
            ));
        }
        r
    }

    /// Each lwVM: a copy of the EL2 map (privileged only) plus its own user pages.
    fn tables(&self, cfg: &Config, input: TablesInput<'_>, t: &mut Tables) -> Result<(), String> {
        let (own, el2) = (input.own, input.el2);
        for (j, v) in cfg.system.lwvm.iter().enumerate() {
            let root = t.start_regime(format!("lwvm {}", v.name));
            for (base, size, attrs, what) in el2 {
                t.map(root, *base, *base, *size, *attrs)
                    .map_err(|e| format!("lwvm {} copy of the EL2 map of {what}: {e}", v.name))?;
            }
            for (va, pa, size, attrs) in lw_regions(cfg, input.shared, j, own.memory[j]) {
                t.map(root, va, pa, size, attrs)
                    .map_err(|e| format!("lwvm {} map: {e}", v.name))?;
            }
        }
        Ok(())
    }

    fn describe(&self, cfg: &Config, own: ExtView<'_>, d: &mut DescParts) {
        describe::describe(cfg, own, d);
    }

    fn explain(&self, d: &SystemDesc, out: &mut String) {
        describe::explain(d, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vhe::{VhePerms, vhe_perms};

    #[test]
    fn lwvm_leaves_are_user_only_executable() {
        let p = vhe_perms(LW_RAM);
        assert_eq!(
            p,
            VhePerms {
                el0: true,
                read_only: false,
                el0_exec: true,
                el2_exec: false,
                ng: true
            }
        );
        let s = vhe_perms(lw_shared(Access::Ro));
        assert!(s.el0 && s.read_only && !s.el0_exec && !s.el2_exec && s.ng);
        assert!(!vhe_perms(lw_shared(Access::Rw)).read_only);
    }

    #[test]
    fn window_ends_with_the_input_range() {
        const { assert!(WINDOW_BASE < WINDOW_END && WINDOW_END == crate::tables::VA_LIMIT) };
    }
}
