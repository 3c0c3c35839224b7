//! The virtio-net device under the `telemetry-net` transport: found by probing the board's
//! virtio-mmio slots, driven by `virtio-drivers`' allocation-free `VirtIONetRaw`, and handed
//! to smoltcp as a [`Device`] (polling only: the device's interrupts stay disabled).
//!
//! Memory: everything the device reads or writes lies in this image's `.bss`, which the EL2
//! map identity-maps (physical == virtual): the virtqueues come from a page-aligned pool
//! ([`DmaHal`], a bump allocator that never frees: the device lives until power-off), the
//! packet buffers are fixed arrays. virtio devices are cache-coherent (and QEMU's are plain
//! memory), so `share`/`unshare` need no cache maintenance.
//!
//! Only the CPU holding the transport lock touches any of this.
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

use super::super::super::super::generated::SYSTEM;

/// Descriptors per virtqueue.
const QUEUE: usize = 32;
/// Bytes of one packet buffer: the virtio-net header (12 bytes) and an Ethernet frame of
/// 1514 bytes fit (virtio-drivers wants receive buffers of at least 1526).
const BUF: usize = 1536;
/// Transmit buffers (packets in flight to the device).
pub const TX_BUFS: usize = 16;
/// Receive buffers kept posted (ARP replies; anything else is dropped by smoltcp).
const RX_BUFS: usize = 4;
/// Largest Ethernet frame (no FCS) with the standard 1500-byte MTU.
pub const MTU_FRAME: usize = 1514;

// ------------------------------------------------------------------ DMA memory

/// Pages for the two virtqueues (a queue of 32 needs two pages, legacy or modern layout).
const POOL_PAGES: usize = 8;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[u8; POOL_PAGES * PAGE_SIZE]>);

// SAFETY: `dma_alloc` hands out disjoint ranges of the pool (atomic bump pointer), each to
// one virtqueue, which the lock holder alone uses.
unsafe impl Sync for Pool {}

static POOL: Pool = Pool(UnsafeCell::new([0; POOL_PAGES * PAGE_SIZE]));
/// Pages of the pool handed out.
static POOL_USED: AtomicUsize = AtomicUsize::new(0);

/// The `Hal` of virtio-drivers for an identity-mapped hypervisor without a heap.
pub struct DmaHal;

// SAFETY: `dma_alloc` returns page-aligned, zeroed (`.bss`, never reused), unaliased pages of
// the pool, physical == virtual (identity map); `mmio_phys_to_virt` is the identity too;
// `share` returns the buffer's own (physical) address, valid for the device because all of
// the hypervisor's memory is identity-mapped and device-coherent.
unsafe impl Hal for DmaHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let first = POOL_USED.fetch_add(pages, Ordering::Relaxed);
        if first + pages > POOL_PAGES {
            // Dma::new turns a zero address into Error::DmaError.
            return (0, NonNull::dangling());
        }
        let p = POOL.0.get().cast::<u8>().wrapping_add(first * PAGE_SIZE);
        (
            p as PhysAddr,
            NonNull::new(p).unwrap_or(NonNull::dangling()),
        )
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // Never called: the device is never dropped. Leaking is the safe answer anyway.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// The packet buffers.
struct Buffers {
    tx: [[u8; BUF]; TX_BUFS],
    rx: [[u8; BUF]; RX_BUFS],
}

struct BufCell(UnsafeCell<Buffers>);

// SAFETY: handed out once, as `&'static mut`, by `take_buffers`.
unsafe impl Sync for BufCell {}

static BUFFERS: BufCell = BufCell(UnsafeCell::new(Buffers {
    tx: [[0; BUF]; TX_BUFS],
    rx: [[0; BUF]; RX_BUFS],
}));
static BUFFERS_TAKEN: AtomicUsize = AtomicUsize::new(0);

fn take_buffers() -> Option<&'static mut Buffers> {
    if BUFFERS_TAKEN.swap(1, Ordering::Relaxed) != 0 {
        return None;
    }
    // SAFETY: the swap above lets this happen once; nothing else refers to BUFFERS.
    Some(unsafe { &mut *BUFFERS.0.get() })
}

// ------------------------------------------------------------------ probe

type Raw = VirtIONetRaw<DmaHal, MmioTransport<'static>, QUEUE>;

/// Finds the virtio-net device among the board's virtio-mmio slots (QEMU fills them from the
/// top) and brings it up. `None`: the board has no slots, or no slot holds a network device,
/// or it failed to initialise.
pub fn probe() -> Option<NetDevice> {
    let d = &SYSTEM.devices;
    let stride = d.virtio_mmio_stride as usize;
    for slot in (0..d.virtio_mmio_count as u64).rev() {
        let base = d.virtio_mmio_base + slot * d.virtio_mmio_stride;
        if SYSTEM
            .passthrough
            .iter()
            .any(|p| (p.pa..p.pa + p.size).contains(&base))
        {
            continue; // a VM's device: not in the EL2 map
        }
        let header = NonNull::new(base as *mut VirtIOHeader)?;
        // SAFETY: the slot lies in the board's virtio-mmio window, which the EL2 map covers as
        // device memory (and no VM maps); the slot's registers and config space span `stride`
        // bytes; only this code (under the transport lock, once) touches the slots.
        let Ok(transport) = (unsafe { MmioTransport::new(header, stride) }) else {
            continue; // empty slot (device id 0) or not a virtio device
        };
        if transport.device_type() != DeviceType::Network {
            continue;
        }
        let raw = Raw::new(transport).ok()?;
        return NetDevice::new(raw);
    }
    None
}

// ------------------------------------------------------------------ the device

/// Transmit buffers: which are with the device (token, length given).
struct TxPool {
    bufs: &'static mut [[u8; BUF]; TX_BUFS],
    inflight: [Option<(u16, usize)>; TX_BUFS],
}

impl TxPool {
    /// Takes back the buffers the device finished with.
    fn reclaim(&mut self, raw: &mut Raw) {
        while let Some(token) = raw.poll_transmit() {
            let Some(i) = self
                .inflight
                .iter()
                .position(|t| matches!(t, Some((k, _)) if *k == token))
            else {
                return; // not ours: leave it (cannot happen with this driver)
            };
            let len = self.inflight[i].map_or(0, |t| t.1);
            // SAFETY: `bufs[i][..len]` is the buffer given to `transmit_begin` with this token.
            let _ = unsafe { raw.transmit_complete(token, &self.bufs[i][..len]) };
            self.inflight[i] = None;
        }
    }

    fn free_slot(&self) -> Option<usize> {
        self.inflight.iter().position(Option::is_none)
    }

    fn in_flight(&self) -> usize {
        self.inflight.iter().filter(|t| t.is_some()).count()
    }
}

/// The virtio-net device with its buffers, as smoltcp's [`Device`].
pub struct NetDevice {
    raw: Raw,
    tx: TxPool,
    rx: &'static mut [[u8; BUF]; RX_BUFS],
    /// Token of each posted receive buffer.
    rx_posted: [Option<u16>; RX_BUFS],
    /// A receive buffer smoltcp has read and that goes back to the device next time.
    rx_done: Option<usize>,
    /// Frames smoltcp built that could not be queued (none expected: `transmit` checks).
    pub tx_lost: u32,
}

impl NetDevice {
    fn new(mut raw: Raw) -> Option<Self> {
        let b = take_buffers()?;
        raw.disable_interrupts();
        let mut dev = NetDevice {
            raw,
            tx: TxPool {
                bufs: &mut b.tx,
                inflight: [None; TX_BUFS],
            },
            rx: &mut b.rx,
            rx_posted: [None; RX_BUFS],
            rx_done: None,
            tx_lost: 0,
        };
        for i in 0..RX_BUFS {
            dev.post_rx(i);
        }
        Some(dev)
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }

    fn post_rx(&mut self, i: usize) {
        // SAFETY: `rx[i]` is not posted (its last use completed), and is not touched again
        // until `receive_complete` returns it.
        self.rx_posted[i] = unsafe { self.raw.receive_begin(&mut self.rx[i]) }.ok();
    }

    /// Reposts the buffer smoltcp read last, takes back finished transmit buffers.
    pub fn service(&mut self) {
        if let Some(i) = self.rx_done.take() {
            self.post_rx(i);
        }
        self.tx.reclaim(&mut self.raw);
    }

    /// Packets handed to the device and not yet finished.
    pub fn tx_in_flight(&self) -> usize {
        self.tx.in_flight()
    }
}

pub struct RxToken<'a>(&'a [u8]);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

pub struct TxToken<'a> {
    raw: &'a mut Raw,
    tx: &'a mut TxPool,
    lost: &'a mut u32,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.tx.reclaim(self.raw);
        let Some(i) = self.tx.free_slot().filter(|_| len <= MTU_FRAME) else {
            // Only a reply built from a received packet can get here (`transmit` checks for a
            // free buffer): build it into scratch space and drop it.
            *self.lost += 1;
            return f(&mut [0u8; MTU_FRAME][..len.min(MTU_FRAME)]);
        };
        let buf = &mut self.tx.bufs[i];
        let hdr = self.raw.fill_buffer_header(buf).unwrap_or(0);
        let r = f(&mut buf[hdr..hdr + len]);
        // SAFETY: `bufs[i]` is not touched until `reclaim` sees this token completed.
        match unsafe { self.raw.transmit_begin(&buf[..hdr + len]) } {
            Ok(token) => self.tx.inflight[i] = Some((token, hdr + len)),
            Err(_) => *self.lost += 1,
        }
        r
    }
}

impl Device for NetDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        self.service();
        let token = self.raw.poll_receive()?;
        let i = self.rx_posted.iter().position(|t| *t == Some(token))?;
        self.rx_posted[i] = None;
        // SAFETY: `rx[i]` is the buffer posted with this token.
        let got = unsafe { self.raw.receive_complete(token, &mut self.rx[i]) };
        self.rx_done = Some(i);
        let (hdr, len) = got.ok()?;
        let frame = &self.rx[i][hdr..hdr + len.min(BUF - hdr)];
        Some((
            RxToken(frame),
            TxToken {
                raw: &mut self.raw,
                tx: &mut self.tx,
                lost: &mut self.tx_lost,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        self.tx.reclaim(&mut self.raw);
        self.tx.free_slot()?;
        Some(TxToken {
            raw: &mut self.raw,
            tx: &mut self.tx,
            lost: &mut self.tx_lost,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU_FRAME;
        caps.max_burst_size = Some(TX_BUFS);
        caps
    }
}
