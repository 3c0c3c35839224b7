//! Physical memory layout: where every byte of the board's RAM goes.
//!
//! Order (first fit, upward from the RAM base, around reserved ranges and fixed bases):
//! the hypervisor image (2 MiB aligned), the page-table area, the pristine image store
//! (each blob 4 KiB aligned, identical blobs stored once), each VM's RAM (2 MiB aligned
//! unless it has a fixed base), then shared regions (2 MiB aligned when their size is a
//! multiple of 2 MiB, else 4 KiB), then each lwVM's memory (aligned like shared
//! regions). VMIDs are 1.. in VM order (0 stays unused); ASIDs 1.. in lwVM order (0 is
//! the hypervisor's own address space).
//! The table area's size is an input: [`crate::plan`] iterates until it fits.

use crate::config::Config;
use crate::error::ConfigError;
use crate::fmt::{hex, overlaps, range};
use crate::payload::Payloads;
use crate::size::{KIB4, MIB2, align_up, human};

/// A placed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Physical base.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

impl Placed {
    /// End (exclusive).
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

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

/// One lwVM's memory.
#[derive(Debug, Clone)]
pub struct LwLayout {
    /// ASID (1.. in lwVM order; 0 is the hypervisor's).
    pub asid: u16,
    /// Physical memory.
    pub mem: Placed,
    /// Physical address of the image in the store.
    pub image_store: u64,
}

/// A line of the memory map.
#[derive(Debug, Clone)]
pub struct MapEntry {
    /// The range.
    pub at: Placed,
    /// Who owns it.
    pub owner: String,
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
    /// Per lwVM, in order (placed after the VMs).
    pub lwvms: Vec<LwLayout>,
    /// The image store's contents (`images.size` bytes).
    pub store: Vec<u8>,
    /// Every region, sorted by address (for the memory map).
    pub map: Vec<MapEntry>,
}

/// First-fit placement around claimed ranges.
struct Allocator {
    ram: Placed,
    cursor: u64,
    taken: Vec<MapEntry>,
}

impl Allocator {
    fn alloc(
        &mut self,
        size: u64,
        align: u64,
        owner: String,
        cfg: &Config,
        field: &str,
    ) -> Result<Placed, ConfigError> {
        let oom = || {
            ConfigError::one(
                &cfg.system_file,
                field,
                format!(
                    "out of memory: {owner} needs {} but the board's RAM {} has no such free range left",
                    human(size),
                    range(self.ram.base, self.ram.size)
                ),
            )
        };
        let mut at = self.cursor;
        loop {
            at = align_up(at, align).ok_or_else(oom)?;
            if at.checked_add(size).is_none_or(|end| end > self.ram.end()) {
                return Err(oom());
            }
            match self
                .taken
                .iter()
                .find(|t| overlaps(at, size, t.at.base, t.at.size))
            {
                Some(t) => at = t.at.end(),
                None => break,
            }
        }
        let placed = Placed { base: at, size };
        self.cursor = placed.end();
        if size > 0 {
            self.taken.push(MapEntry { at: placed, owner });
        }
        Ok(placed)
    }
}

/// Lays out physical memory for a validated configuration.
pub fn layout(cfg: &Config, payloads: &Payloads, tables_size: u64) -> Result<Layout, ConfigError> {
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
    for v in &s.vm {
        if let Some(base) = v.base {
            a.taken.push(MapEntry {
                at: Placed {
                    base: base.0,
                    size: v.memory.0,
                },
                owner: format!("vm {} RAM", v.name),
            });
        }
    }
    for lw in &s.lwvm {
        if let Some(base) = lw.base {
            a.taken.push(MapEntry {
                at: Placed {
                    base: base.0,
                    size: lw.memory.0,
                },
                owner: format!("lwvm {} memory", lw.name),
            });
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

    // Image store: blobs in VM order, identical ones once.
    let mut store: Vec<u8> = Vec::new();
    let mut offsets: Vec<(u64, Option<u64>, Option<u64>)> = Vec::new();
    let put = |bytes: &[u8], store: &mut Vec<u8>| -> u64 {
        let mut off = 0;
        while off < store.len() {
            let end = off + bytes.len();
            if end <= store.len() && &store[off..end] == bytes && !bytes.is_empty() {
                return off as u64;
            }
            off += KIB4 as usize;
        }
        let off = store.len();
        store.extend_from_slice(bytes);
        store.resize(align_up(store.len() as u64, KIB4).unwrap_or(0) as usize, 0);
        off as u64
    };
    for p in &payloads.vms {
        let img = put(&p.image.bytes, &mut store);
        let initrd = p.initrd.as_ref().map(|i| put(&i.bytes, &mut store));
        let dtb = p.dtb.as_ref().map(|d| put(&d.bytes, &mut store));
        offsets.push((img, initrd, dtb));
    }
    let lw_offsets: Vec<u64> = payloads
        .lwvms
        .iter()
        .map(|p| put(&p.image.bytes, &mut store))
        .collect();
    let images = a.alloc(store.len() as u64, KIB4, "image store".into(), cfg, "vm")?;

    let mut vms = Vec::new();
    for (i, v) in s.vm.iter().enumerate() {
        let ram = match v.base {
            Some(base) => Placed {
                base: base.0,
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
    let mut lwvms = Vec::new();
    for (j, lw) in s.lwvm.iter().enumerate() {
        let align = if lw.memory.0 % MIB2 == 0 { MIB2 } else { KIB4 };
        let mem = match lw.base {
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
        };
        lwvms.push(LwLayout {
            asid: (j + 1) as u16,
            mem,
            image_store: images.base + lw_offsets.get(j).copied().unwrap_or(0),
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
        lwvms,
        store,
        map,
    })
}

/// Free ranges of RAM left after the layout (for the memory map).
pub fn free_ranges(ram: Placed, map: &[MapEntry]) -> Vec<Placed> {
    let mut out = Vec::new();
    let mut at = ram.base;
    for m in map {
        if m.at.base > at {
            out.push(Placed {
                base: at,
                size: m.at.base - at,
            });
        }
        at = at.max(m.at.end());
    }
    if at < ram.end() {
        out.push(Placed {
            base: at,
            size: ram.end() - at,
        });
    }
    out
}

impl std::fmt::Display for Placed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", hex(self.base), hex(self.end()))
    }
}
