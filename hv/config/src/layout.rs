//! Physical memory layout: where every byte of the board's RAM goes.
//!
//! Order (first fit, upward from the RAM base, around reserved ranges and fixed bases):
//! the hypervisor image (2 MiB aligned), the page-table area, the pristine image store
//! (each blob 4 KiB aligned, identical blobs stored once), each VM's RAM (2 MiB aligned
//! unless it has a fixed base), then shared regions (2 MiB aligned when their size is a
//! multiple of 2 MiB, else 4 KiB), then each extension's memory (its
//! `ConfigExtension::place`, in list order). The extensions' fixed ranges are claimed
//! after the VMs' and before the shared regions'; their payloads follow the VMs' in the
//! image store. VMIDs are 1.. in VM order (0 stays unused).
//! The table area's size is an input: [`crate::plan()`] iterates until it fits.

pub use crate::alloc::{MapEntry, Placed, free_ranges};

use crate::alloc::{Allocator, Store};
use crate::config::Config;
use crate::error::ConfigError;
use crate::ext::{ExtLayout, Extensions};
use crate::payload::Payloads;
use crate::size::{KIB4, MIB2};

/// One VM's memory.
#[derive(Debug, Clone)]
pub struct VmLayout {
    /// VMID (1..).
    pub vmid: u16,
    /// Physical RAM.
    pub ram: Placed,
    /// Guest-physical RAM base.
    pub ipa: u64,
    /// Physical address of the image in the store.
    pub image_store: u64,
    /// Physical address of the initrd in the store.
    pub initrd_store: Option<u64>,
    /// Physical address of the device tree in the store.
    pub dtb_store: Option<u64>,
}

/// The decided layout.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Hypervisor image (the three parts below, in this order).
    pub hv: Placed,
    /// Its code (`.text`): read-only, executable at EL2.
    pub hv_code: Placed,
    /// Its read-only data (`.rodata`, build id): read-only, execute-never.
    pub hv_rodata: Placed,
    /// Its data, bss and stacks: read-write, execute-never.
    pub hv_data: Placed,
    /// Page-table area.
    pub tables: Placed,
    /// Image store.
    pub images: Placed,
    /// Per VM, in order.
    pub vms: Vec<VmLayout>,
    /// Per shared region, in order.
    pub shared: Vec<Placed>,
    /// Per extension, in list order: what it placed and where its payloads are stored.
    pub ext: Vec<ExtLayout>,
    /// The image store's contents (`images.size` bytes).
    pub store: Vec<u8>,
    /// Every region, sorted by address (for the memory map).
    pub map: Vec<MapEntry>,
}

/// Lays out physical memory for a validated configuration.
pub fn layout(
    cfg: &Config,
    payloads: &Payloads,
    tables_size: u64,
    exts: &Extensions,
) -> Result<Layout, ConfigError> {
    let b = &cfg.board;
    let s = &cfg.system;
    let ram = Placed {
        base: b.memory.ram.base.0,
        size: b.memory.ram.size.0,
    };
    let mut a = Allocator {
        ram,
        cursor: ram.base,
        taken: Vec::new(),
    };
    for r in &b.memory.reserved {
        let why = r.why.as_deref().unwrap_or("board");
        a.taken.push(MapEntry {
            at: Placed {
                base: r.base.0,
                size: r.size.0,
            },
            owner: format!("reserved ({why})"),
        });
    }
    for (i, v) in s.vm.iter().enumerate() {
        if let Some(base) = cfg.vm_base(i) {
            a.taken.push(MapEntry {
                at: Placed {
                    base,
                    size: v.memory.0,
                },
                owner: format!("vm {} RAM", v.name),
            });
        }
    }
    for e in exts {
        for f in e.fixed_memory(cfg) {
            a.claim(f.base, f.size, f.owner);
        }
    }
    for sh in &s.shared {
        if let Some(base) = sh.base {
            a.taken.push(MapEntry {
                at: Placed {
                    base: base.0,
                    size: sh.size.0,
                },
                owner: format!("shared {}", sh.name),
            });
        }
    }
    let hv = a.alloc(
        s.hypervisor.memory.0,
        MIB2,
        "hypervisor image".into(),
        cfg,
        "hypervisor.memory",
    )?;
    let tables = a.alloc(tables_size, KIB4, "page tables".into(), cfg, "hypervisor")?;
    let (code, rodata, _) = s.hypervisor.split();
    let hv_code = Placed {
        base: hv.base,
        size: code,
    };
    let hv_rodata = Placed {
        base: hv_code.end(),
        size: rodata,
    };
    let hv_data = Placed {
        base: hv_rodata.end(),
        size: hv.end() - hv_rodata.end(),
    };

    // Image store: blobs in VM order, then the extensions' guests; identical ones once.
    let mut store = Store::default();
    let mut offsets: Vec<(u64, Option<u64>, Option<u64>)> = Vec::new();
    for p in &payloads.vms {
        let img = store.put(&p.image.bytes);
        let initrd = p.initrd.as_ref().map(|i| store.put(&i.bytes));
        let dtb = p.dtb.as_ref().map(|d| store.put(&d.bytes));
        offsets.push((img, initrd, dtb));
    }
    let ext_offsets: Vec<Vec<u64>> = (0..exts.len())
        .map(|i| {
            payloads
                .of(i)
                .iter()
                .map(|p| store.put(&p.image.bytes))
                .collect()
        })
        .collect();
    let store = store.bytes;
    let images = a.alloc(store.len() as u64, KIB4, "image store".into(), cfg, "vm")?;

    let mut vms = Vec::new();
    for (i, v) in s.vm.iter().enumerate() {
        let ram = match cfg.vm_base(i) {
            Some(base) => Placed {
                base,
                size: v.memory.0,
            },
            None => a.alloc(
                v.memory.0,
                MIB2,
                format!("vm {} RAM", v.name),
                cfg,
                &format!("vm[{i}].memory"),
            )?,
        };
        let (img, initrd, dtb) = offsets.get(i).copied().unwrap_or((0, None, None));
        vms.push(VmLayout {
            vmid: (i + 1) as u16,
            ram,
            ipa: cfg.vm_ipa(i),
            image_store: images.base + img,
            initrd_store: initrd.map(|o| images.base + o),
            dtb_store: dtb.map(|o| images.base + o),
        });
    }
    let mut shared = Vec::new();
    for (i, sh) in s.shared.iter().enumerate() {
        let align = if sh.size.0 % MIB2 == 0 { MIB2 } else { KIB4 };
        shared.push(match sh.base {
            Some(base) => Placed {
                base: base.0,
                size: sh.size.0,
            },
            None => a.alloc(
                sh.size.0,
                align,
                format!("shared {}", sh.name),
                cfg,
                &format!("shared[{i}].size"),
            )?,
        });
    }
    let mut ext = Vec::new();
    for (e, offsets) in exts.iter().zip(ext_offsets) {
        ext.push(ExtLayout {
            memory: e.place(cfg, &mut a)?,
            image_store: offsets.iter().map(|o| images.base + o).collect(),
        });
    }
    let mut map = a.taken;
    map.sort_by_key(|m| m.at.base);
    Ok(Layout {
        hv,
        hv_code,
        hv_rodata,
        hv_data,
        tables,
        images,
        vms,
        shared,
        ext,
        store,
        map,
    })
}
