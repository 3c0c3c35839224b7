//! A pool seen by an unmodified Linux as a **virtio-mem** device (virtio 1.2, §5.15) on
//! the virtio-mmio transport (§4.2.2, version 2): the interface through which a Linux VM
//! gains and loses an elastic pool's blocks while it runs.
//!
//! Why virtio-mem: Linux 6.1 arm64 has memory hot-plug and hot-remove, and its virtio-mem
//! driver is the one interface that both *adds* memory outside the boot-time memory map
//! and gives it back block by block, with the device deciding how much (`requested_size`)
//! and the driver choosing which blocks (PLUG/UNPLUG requests), which it takes in
//! ascending order and gives back from the top — the order in which the pool's table sets
//! add and remove a holder's blocks. (The virtio balloon device only lends pages of the
//! boot RAM back; ACPI memory hot-plug needs ACPI, which the VMs here do not have.)
//!
//! The model is pure: register accesses in, register values and effects out; the virtqueue
//! is read and written through [`GuestMemory`]. What it keeps: the transport's registers,
//! one request queue, which of the window's blocks the driver has plugged (a bitmap,
//! hence at most 64 blocks) and the requested size. What the pool's protocol makes of it
//! is the image's (`hv/src/image/balloon.rs`): a holder *holds* (has mapped) a prefix of
//! its window; the device requests `held - asked` blocks, answers PLUG only for blocks
//! held and not being taken, and when the driver has unplugged the top blocks it was
//! asked for the image releases them (switch to the smaller set, scrub).
//!
//! Answers: ACK when done; BUSY for a plug of blocks not (or no longer) held — the driver
//! retries later, as it does when a host is out of memory; ERROR for a range outside the
//! region, misaligned, or plugging plugged / unplugging unplugged blocks. A queue the
//! driver set up wrongly (a descriptor outside its RAM, a chain of the wrong shape, more
//! entries than the queue has) sets DEVICE_NEEDS_RESET and stops the queue: never a
//! fault of the hypervisor.

/// `"virt"`, the MMIO transport's magic value.
pub const MAGIC: u32 = 0x7472_6976;
/// Transport version (virtio 1.x, not legacy).
pub const VERSION: u32 = 2;
/// virtio device id of a memory device.
pub const DEVICE_ID: u32 = 24;
/// Vendor id reported (ASCII "HVRS").
pub const VENDOR_ID: u32 = 0x5352_5648;
/// Entries of the request queue (the driver has one request in flight at a time).
pub const QUEUE_MAX: u16 = 8;
/// Most blocks a pool seen through this device may have (the plugged bitmap).
pub const MAX_BLOCKS: u32 = 64;

/// Feature bits offered: VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE (1: unplugged blocks are
/// not mapped — true here, they are outside the holder's set) and VIRTIO_F_VERSION_1 (32).
pub const FEATURES: u64 = (1 << 1) | (1 << 32);

/// Device status bits (§2.1).
pub mod status {
    /// The driver found the device.
    pub const ACKNOWLEDGE: u32 = 1;
    /// The driver knows how to drive it.
    pub const DRIVER: u32 = 2;
    /// The driver is set up.
    pub const DRIVER_OK: u32 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u32 = 8;
    /// The device met an error it cannot recover from without a reset.
    pub const NEEDS_RESET: u32 = 0x40;
    /// The driver gave up.
    pub const FAILED: u32 = 0x80;
}

/// Register offsets of the MMIO transport (§4.2.2).
pub mod reg {
    pub const MAGIC: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const VENDOR_ID: u64 = 0x00c;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    pub const QUEUE_SEL: u64 = 0x030;
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    pub const QUEUE_NUM: u64 = 0x038;
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACK: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const SHM_SEL: u64 = 0x0ac;
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    pub const CONFIG: u64 = 0x100;
}

/// Interrupt status bits.
const INT_USED: u32 = 1;
const INT_CONFIG: u32 = 2;

/// Request types (`struct virtio_mem_req.type`).
const REQ_PLUG: u16 = 0;
const REQ_UNPLUG: u16 = 1;
const REQ_UNPLUG_ALL: u16 = 2;
const REQ_STATE: u16 = 3;
/// Response types.
const RESP_ACK: u16 = 0;
const RESP_BUSY: u16 = 2;
const RESP_ERROR: u16 = 3;
/// `resp.u.state.state` values.
const STATE_PLUGGED: u16 = 0;
const STATE_UNPLUGGED: u16 = 1;
const STATE_MIXED: u16 = 2;

/// Bytes of a request and of a response.
const REQ_LEN: u32 = 24;
const RESP_LEN: u32 = 10;
/// Descriptor flags.
const DESC_NEXT: u16 = 1;
const DESC_WRITE: u16 = 2;
/// `avail.flags`: the driver wants no used-buffer interrupt.
const AVAIL_NO_INTERRUPT: u16 = 1;
/// Bytes of the config structure (`struct virtio_mem_config`).
const CONFIG_LEN: usize = 0x38;

/// The driver's memory, as the device reaches it (guest-physical addresses). The image
/// implements it over the VM's RAM only: anything else is refused.
pub trait GuestMemory {
    /// Reads `buf.len()` bytes at `ipa`; false if any of them is not the VM's RAM.
    fn read(&self, ipa: u64, buf: &mut [u8]) -> bool;
    /// Writes `buf` at `ipa`; false if any of it is not the VM's RAM.
    fn write(&mut self, ipa: u64, buf: &[u8]) -> bool;
}

/// The pool as the device presents it: the holder's window and its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Guest-physical base of the window (`config.addr`).
    pub ipa: u64,
    /// Bytes per block (`config.block_size`, a power of two).
    pub block_size: u64,
    /// Blocks in the window (`region_size / block_size`, at most [`MAX_BLOCKS`]).
    pub blocks: u32,
}

/// What the holder may plug right now: blocks `0..usable` of its window (those it holds
/// and is not being asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Blocks held (mapped).
    pub held: u32,
    /// Of those, the top ones the holder is asked to give back.
    pub asked: u32,
}

impl Lease {
    fn usable(self) -> u32 {
        self.held.saturating_sub(self.asked)
    }
}

/// What a register write asks of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effect {
    /// Raise the device's interrupt (a used buffer or a config change is pending).
    pub interrupt: bool,
    /// Requests were processed: the plugged set may have changed.
    pub served: bool,
}

/// The request queue's registers and the device's progress in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Queue {
    num: u16,
    ready: bool,
    desc: u64,
    driver: u64,
    device: u64,
    /// Next `avail` entry to serve.
    last_avail: u16,
    /// Next `used` index to write.
    used_idx: u16,
}

/// One virtio-mem device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VirtioMem {
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queue: Queue,
    int_status: u32,
    generation: u32,
    /// Bit `i`: window block `i` is plugged.
    plugged: u64,
    /// Blocks requested.
    requested: u32,
}

impl VirtioMem {
    /// A device with nothing plugged and nothing requested.
    pub const fn new() -> VirtioMem {
        VirtioMem {
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            queue: Queue {
                num: 0,
                ready: false,
                desc: 0,
                driver: 0,
                device: 0,
                last_avail: 0,
                used_idx: 0,
            },
            int_status: 0,
            generation: 0,
            plugged: 0,
            requested: 0,
        }
    }

    /// Blocks the driver has plugged.
    pub fn plugged_count(&self) -> u32 {
        self.plugged.count_ones()
    }

    /// Blocks requested of the driver.
    pub fn requested(&self) -> u32 {
        self.requested
    }

    /// Whether the driver has the device running (DRIVER_OK, no reset needed).
    pub fn live(&self) -> bool {
        self.status & (status::DRIVER_OK | status::NEEDS_RESET) == status::DRIVER_OK
    }

    /// How many of the top blocks of `0..held` are unplugged, at most `asked`: what the
    /// holder has given back of what it was asked for.
    pub fn released_top(&self, lease: Lease) -> u32 {
        let mut k = 0;
        while k < lease.asked && k < lease.held {
            let b = lease.held - 1 - k;
            if self.plugged & (1 << b) != 0 {
                break;
            }
            k += 1;
        }
        k
    }

    /// The holder now has `lease`: the requested size follows it (`held - asked`). True if
    /// the driver must be told (a config-change interrupt).
    pub fn set_lease(&mut self, lease: Lease) -> bool {
        // Blocks no longer held (revoked at a deadline, or returned at a reset) cannot
        // stay plugged.
        if lease.held < 64 {
            self.plugged &= (1u64 << lease.held) - 1;
        }
        let want = lease.usable();
        if want == self.requested {
            return false;
        }
        self.requested = want;
        self.generation = self.generation.wrapping_add(1);
        self.int_status |= INT_CONFIG;
        self.live()
    }

    /// The VM restarts: the transport resets and nothing is plugged or requested.
    pub fn reset_all(&mut self) {
        *self = VirtioMem::new();
    }

    /// A load of `size` bytes at `off` in the register window.
    pub fn read(&self, r: &Region, off: u64, size: u8) -> u64 {
        if off >= reg::CONFIG {
            let c = self.config(r);
            let start = (off - reg::CONFIG) as usize;
            let mut v = 0u64;
            for i in 0..usize::from(size.min(8)) {
                let b = c.get(start + i).copied().unwrap_or(0);
                v |= u64::from(b) << (8 * i);
            }
            return v;
        }
        if size != 4 {
            return 0;
        }
        let v = match off {
            reg::MAGIC => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => DEVICE_ID,
            reg::VENDOR_ID => VENDOR_ID,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => FEATURES as u32,
                1 => (FEATURES >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX if self.queue_sel == 0 => u32::from(QUEUE_MAX),
            reg::QUEUE_READY => u32::from(self.queue_sel == 0 && self.queue.ready),
            reg::INTERRUPT_STATUS => self.int_status,
            reg::STATUS => self.status,
            // No shared memory regions: a length of all ones says so.
            reg::SHM_LEN_LOW..=reg::SHM_BASE_HIGH => u32::MAX,
            reg::CONFIG_GENERATION => self.generation,
            _ => 0,
        };
        u64::from(v)
    }

    /// A store of `value` (`size` bytes) at `off`. Config space is read-only.
    pub fn write(
        &mut self,
        r: &Region,
        lease: Lease,
        off: u64,
        size: u8,
        value: u64,
        mem: &mut impl GuestMemory,
    ) -> Effect {
        let mut e = Effect::default();
        if size != 4 || off >= reg::CONFIG {
            return e;
        }
        let v = value as u32;
        let q = &mut self.queue;
        // Queue set-up is only accepted while the queue is not live (§4.2.3.2).
        let setup = self.queue_sel == 0 && !q.ready;
        let lo = |x: u64| (x & !0xffff_ffff) | u64::from(v);
        let hi = |x: u64| (x & 0xffff_ffff) | (u64::from(v) << 32);
        match off {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = v,
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            reg::DRIVER_FEATURES => match self.driver_features_sel {
                0 => self.driver_features = lo(self.driver_features),
                1 => self.driver_features = hi(self.driver_features),
                _ => {}
            },
            reg::QUEUE_SEL => self.queue_sel = v,
            reg::QUEUE_NUM if setup && v <= u32::from(QUEUE_MAX) && v.is_power_of_two() => {
                q.num = v as u16;
            }
            reg::QUEUE_READY if self.queue_sel == 0 => {
                q.ready = v & 1 != 0 && q.num != 0;
                if q.ready {
                    q.last_avail = 0;
                    q.used_idx = 0;
                }
            }
            reg::QUEUE_DESC_LOW if setup => q.desc = lo(q.desc),
            reg::QUEUE_DESC_HIGH if setup => q.desc = hi(q.desc),
            reg::QUEUE_DRIVER_LOW if setup => q.driver = lo(q.driver),
            reg::QUEUE_DRIVER_HIGH if setup => q.driver = hi(q.driver),
            reg::QUEUE_DEVICE_LOW if setup => q.device = lo(q.device),
            reg::QUEUE_DEVICE_HIGH if setup => q.device = hi(q.device),
            reg::QUEUE_NOTIFY if v == 0 => {
                e.served = true;
                e.interrupt = self.serve(r, lease, mem);
            }
            reg::INTERRUPT_ACK => self.int_status &= !v,
            reg::STATUS => {
                if v == 0 {
                    // A driver reset: the transport starts over; what is plugged stays
                    // plugged (the driver finds `plugged_size` and unplugs all).
                    let (plugged, requested, generation) =
                        (self.plugged, self.requested, self.generation);
                    *self = VirtioMem::new();
                    (self.plugged, self.requested, self.generation) =
                        (plugged, requested, generation);
                } else {
                    self.set_status(v);
                    // A config change made before the driver was ready is told now.
                    e.interrupt = self.live() && self.int_status != 0;
                }
            }
            _ => {}
        }
        e
    }

    fn set_status(&mut self, v: u32) {
        let mut v = v | (self.status & status::NEEDS_RESET);
        if v & status::FEATURES_OK != 0 && self.status & status::FEATURES_OK == 0 {
            // Only features offered, and VERSION_1 among them (a modern driver).
            let ok = self.driver_features & !FEATURES == 0 && self.driver_features & (1 << 32) != 0;
            if !ok {
                v &= !status::FEATURES_OK;
            }
        }
        self.status = v;
    }

    fn fail(&mut self) -> bool {
        self.status |= status::NEEDS_RESET;
        self.queue.ready = false;
        self.int_status |= INT_CONFIG;
        true
    }

    /// Serves every request the driver made available; true if the driver is to be
    /// interrupted.
    fn serve(&mut self, r: &Region, lease: Lease, mem: &mut impl GuestMemory) -> bool {
        let q = self.queue;
        if !q.ready || !self.live() {
            return false;
        }
        let mut hdr = [0u8; 4];
        if !mem.read(q.driver, &mut hdr) {
            return self.fail();
        }
        let (flags, avail_idx) = (u16le(&hdr[0..]), u16le(&hdr[2..]));
        let pending = avail_idx.wrapping_sub(q.last_avail);
        if pending > q.num {
            return self.fail();
        }
        let mut used = false;
        for _ in 0..pending {
            let slot = u64::from(self.queue.last_avail % q.num);
            let mut e = [0u8; 2];
            if !mem.read(q.driver + 4 + 2 * slot, &mut e) {
                return self.fail();
            }
            let head = u16le(&e);
            let Some(len) = self.serve_one(r, lease, mem, head) else {
                return self.fail();
            };
            let uslot = u64::from(self.queue.used_idx % q.num);
            let mut ent = [0u8; 8];
            ent[..4].copy_from_slice(&u32::from(head).to_le_bytes());
            ent[4..].copy_from_slice(&len.to_le_bytes());
            if !mem.write(q.device + 4 + 8 * uslot, &ent) {
                return self.fail();
            }
            self.queue.used_idx = self.queue.used_idx.wrapping_add(1);
            // The entry is written before the index that publishes it (the image's
            // memory writes are ordered: device memory or a barrier in `write`).
            if !mem.write(q.device + 2, &self.queue.used_idx.to_le_bytes()) {
                return self.fail();
            }
            self.queue.last_avail = self.queue.last_avail.wrapping_add(1);
            used = true;
        }
        if used && flags & AVAIL_NO_INTERRUPT == 0 {
            self.int_status |= INT_USED;
            return true;
        }
        false
    }

    /// Serves the request whose chain starts at descriptor `head`: the bytes written to
    /// the response, or `None` for a malformed chain.
    fn serve_one(
        &mut self,
        r: &Region,
        lease: Lease,
        mem: &mut impl GuestMemory,
        head: u16,
    ) -> Option<u32> {
        let req_d = self.desc(mem, head)?;
        if req_d.flags & DESC_WRITE != 0 || req_d.flags & DESC_NEXT == 0 || req_d.len < REQ_LEN {
            return None;
        }
        let resp_d = self.desc(mem, req_d.next)?;
        if resp_d.flags & DESC_WRITE == 0 || resp_d.len < RESP_LEN {
            return None;
        }
        let mut req = [0u8; REQ_LEN as usize];
        if !mem.read(req_d.addr, &mut req) {
            return None;
        }
        let (ty, addr, nb) = (u16le(&req[0..]), u64le(&req[8..]), u16le(&req[16..]));
        let (resp, state) = self.request(r, lease, ty, addr, nb);
        let mut out = [0u8; RESP_LEN as usize];
        out[..2].copy_from_slice(&resp.to_le_bytes());
        out[8..].copy_from_slice(&state.to_le_bytes());
        if !mem.write(resp_d.addr, &out) {
            return None;
        }
        Some(RESP_LEN)
    }

    /// One request: the response type and, for STATE, the state.
    fn request(&mut self, r: &Region, lease: Lease, ty: u16, addr: u64, nb: u16) -> (u16, u16) {
        if ty == REQ_UNPLUG_ALL {
            self.plugged = 0;
            return (RESP_ACK, 0);
        }
        let Some(mask) = blocks_mask(r, addr, nb) else {
            return (RESP_ERROR, 0);
        };
        match ty {
            REQ_PLUG => {
                if self.plugged & mask != 0 {
                    (RESP_ERROR, 0)
                } else if mask.checked_shr(lease.usable()).unwrap_or(0) != 0 {
                    // Not held, or being taken: not now.
                    (RESP_BUSY, 0)
                } else {
                    self.plugged |= mask;
                    (RESP_ACK, 0)
                }
            }
            REQ_UNPLUG => {
                if self.plugged & mask != mask {
                    (RESP_ERROR, 0)
                } else {
                    self.plugged &= !mask;
                    (RESP_ACK, 0)
                }
            }
            REQ_STATE => {
                let s = match self.plugged & mask {
                    0 => STATE_UNPLUGGED,
                    m if m == mask => STATE_PLUGGED,
                    _ => STATE_MIXED,
                };
                (RESP_ACK, s)
            }
            _ => (RESP_ERROR, 0),
        }
    }

    fn desc(&self, mem: &impl GuestMemory, i: u16) -> Option<Desc> {
        if i >= self.queue.num {
            return None;
        }
        let mut d = [0u8; 16];
        if !mem.read(self.queue.desc + 16 * u64::from(i), &mut d) {
            return None;
        }
        Some(Desc {
            addr: u64le(&d[0..]),
            len: u32::from_le_bytes([d[8], d[9], d[10], d[11]]),
            flags: u16le(&d[12..]),
            next: u16le(&d[14..]),
        })
    }

    /// `struct virtio_mem_config`, little-endian.
    fn config(&self, r: &Region) -> [u8; CONFIG_LEN] {
        let mut c = [0u8; CONFIG_LEN];
        let size = r.block_size * u64::from(r.blocks);
        let fields = [
            (0x00, r.block_size),
            (0x10, r.ipa),
            (0x18, size),
            (0x20, size),
            (0x28, u64::from(self.plugged_count()) * r.block_size),
            (0x30, u64::from(self.requested) * r.block_size),
        ];
        for (at, v) in fields {
            c[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        c
    }
}

/// One split-ring descriptor.
#[derive(Debug, Clone, Copy)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

/// The bitmap of window blocks `[addr, addr + nb * block_size)`, if that is a non-empty,
/// block-aligned range inside the region.
fn blocks_mask(r: &Region, addr: u64, nb: u16) -> Option<u64> {
    let off = addr.checked_sub(r.ipa)?;
    if nb == 0 || off % r.block_size != 0 {
        return None;
    }
    let first = off / r.block_size;
    let end = first.checked_add(u64::from(nb))?;
    if end > u64::from(r.blocks.min(MAX_BLOCKS)) {
        return None;
    }
    let ones = if nb >= 64 { u64::MAX } else { (1u64 << nb) - 1 };
    Some(ones << first)
}

fn u16le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn u64le(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests;
