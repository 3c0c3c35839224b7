//! Drives the virtio-mmio block device passed through to its VM (system
//! `passthrough-blk`): finds it through the device tree in x0 (the `virtio_mmio` nodes
//! of the page the VM owns), reads its identification registers, sets up one virtqueue
//! in its own RAM (IPA = PA: the device DMAs to physical addresses) and reads two
//! sectors, each completion signalled by the device's real interrupt — hardware-linked
//! by the hypervisor, so the second arrives only if the guest's EOI of the first
//! deactivated the physical interrupt. Sector 2 holds the ext2 superblock of the disk
//! `cargo xtask` makes (magic 0xEF53, volume label `hvdisk`).
//!
//! Legacy (version 1, QEMU 7.2's default) and modern (version 2) transports, virtio
//! 1.2 §4.2.2 and §4.2.4.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::ptr::{read_volatile, write_volatile};
    use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

    use guest_rt::fdt::Fdt;
    use guest_rt::result::{check, fail, finish};
    use guest_rt::{arch, gic, irq, println, result};

    const MAGIC: u32 = 0x7472_6976; // "virt"
    const BLOCK: u32 = 2;
    const QSIZE: usize = 8;

    // Transport registers.
    const VERSION: usize = 0x004;
    const DEVICE_ID: usize = 0x008;
    const FEATURES_SEL: usize = 0x014;
    const DRIVER_FEATURES: usize = 0x020;
    const DRIVER_FEATURES_SEL: usize = 0x024;
    const GUEST_PAGE_SIZE: usize = 0x028;
    const QUEUE_SEL: usize = 0x030;
    const QUEUE_NUM_MAX: usize = 0x034;
    const QUEUE_NUM: usize = 0x038;
    const QUEUE_ALIGN: usize = 0x03c;
    const QUEUE_PFN: usize = 0x040;
    const QUEUE_READY: usize = 0x044;
    const QUEUE_NOTIFY: usize = 0x050;
    const INTERRUPT_STATUS: usize = 0x060;
    const INTERRUPT_ACK: usize = 0x064;
    const STATUS: usize = 0x070;
    const QUEUE_DESC: usize = 0x080;
    const QUEUE_DRIVER: usize = 0x090;
    const QUEUE_DEVICE: usize = 0x0a0;

    // Status bits.
    const ACKNOWLEDGE: u32 = 1;
    const DRIVER: u32 = 2;
    const DRIVER_OK: u32 = 4;
    const FEATURES_OK: u32 = 8;

    /// Descriptor table (8 × 16 bytes) and available ring in the first page, used ring in
    /// the second (the legacy layout with QueueAlign = 4096; also valid for version 2).
    #[repr(C, align(4096))]
    struct Queue([u8; 8192]);
    static mut QUEUE: Queue = Queue([0; 8192]);

    #[repr(C, align(16))]
    struct Request {
        header: [u8; 16],
        data: [u8; 512],
        status: [u8; 16],
    }
    static mut REQ: Request = Request {
        header: [0; 16],
        data: [0; 512],
        status: [0; 16],
    };

    static BASE: AtomicUsize = AtomicUsize::new(0);
    static INTID: AtomicU32 = AtomicU32::new(0);
    static LAST_STATUS: AtomicU32 = AtomicU32::new(0);

    fn mmio_read(addr: usize) -> u32 {
        // SAFETY: a register of a virtio-mmio slot the device tree lists for this VM
        // (its page is mapped in the VM's stage 2 as device memory); 32-bit accesses are
        // what the transport defines.
        unsafe { read_volatile(addr as *const u32) }
    }

    fn reg(off: usize) -> u32 {
        mmio_read(BASE.load(Ordering::SeqCst) + off)
    }

    fn set(off: usize, v: u32) {
        // SAFETY: as in `mmio_read`.
        unsafe { write_volatile((BASE.load(Ordering::SeqCst) + off) as *mut u32, v) }
    }

    fn w16(addr: usize, v: u16) {
        // SAFETY: an aligned address inside QUEUE or REQ (this guest's RAM).
        unsafe { write_volatile(addr as *mut u16, v) }
    }

    fn w32(addr: usize, v: u32) {
        // SAFETY: as `w16`.
        unsafe { write_volatile(addr as *mut u32, v) }
    }

    fn w64(addr: usize, v: u64) {
        // SAFETY: as `w16`.
        unsafe { write_volatile(addr as *mut u64, v) }
    }

    fn r16(addr: usize) -> u16 {
        // SAFETY: as `w16`.
        unsafe { read_volatile(addr as *const u16) }
    }

    fn r8(addr: usize) -> u8 {
        // SAFETY: as `w16`.
        unsafe { read_volatile(addr as *const u8) }
    }

    fn queue() -> usize {
        (&raw const QUEUE) as usize
    }

    fn req() -> usize {
        (&raw const REQ) as usize
    }

    /// The device's interrupt: acknowledge it at the device (drops its line), count it.
    fn on_irq(intid: u32) {
        if intid == INTID.load(Ordering::SeqCst) {
            let st = reg(INTERRUPT_STATUS);
            set(INTERRUPT_ACK, st);
            LAST_STATUS.store(st, Ordering::SeqCst);
        }
        irq::record(intid);
    }

    /// Finds the first virtio-mmio node of the tree with a device behind it.
    fn find(fdt: &Fdt) -> Option<(usize, u32)> {
        (0..32).find_map(|n| {
            let base = fdt.nth("virtio_mmio", "reg", n)?.u64(0)? as usize;
            let irq = fdt.nth("virtio_mmio", "interrupts", n)?.cell(1)? + 32;
            (mmio_read(base) == MAGIC && mmio_read(base + DEVICE_ID) != 0).then_some((base, irq))
        })
    }

    fn init(version: u32) -> bool {
        set(STATUS, 0);
        set(STATUS, ACKNOWLEDGE | DRIVER);
        if version >= 2 {
            // VIRTIO_F_VERSION_1 (feature bit 32) only.
            set(DRIVER_FEATURES_SEL, 0);
            set(DRIVER_FEATURES, 0);
            set(DRIVER_FEATURES_SEL, 1);
            set(DRIVER_FEATURES, 1);
            set(FEATURES_SEL, 0);
            set(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
            if reg(STATUS) & FEATURES_OK == 0 {
                return false;
            }
        } else {
            set(DRIVER_FEATURES, 0);
            set(GUEST_PAGE_SIZE, 4096);
        }
        set(QUEUE_SEL, 0);
        if (reg(QUEUE_NUM_MAX) as usize) < QSIZE {
            return false;
        }
        set(QUEUE_NUM, QSIZE as u32);
        let q = queue() as u64;
        if version >= 2 {
            for (off, at) in [
                (QUEUE_DESC, q),
                (QUEUE_DRIVER, q + 128),
                (QUEUE_DEVICE, q + 4096),
            ] {
                set(off, at as u32);
                set(off + 4, (at >> 32) as u32);
            }
            set(QUEUE_READY, 1);
            set(STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        } else {
            set(QUEUE_ALIGN, 4096);
            set(QUEUE_PFN, (q >> 12) as u32);
            set(STATUS, ACKNOWLEDGE | DRIVER | DRIVER_OK);
        }
        true
    }

    /// Reads sector `sector` into REQ.data through request number `n` (0, 1, …) and
    /// waits for the device's interrupt; returns the request's status byte.
    fn read_sector(n: u16, sector: u64) -> u8 {
        let (q, r) = (queue(), req());
        w32(r, 0); // VIRTIO_BLK_T_IN
        w32(r + 4, 0);
        w64(r + 8, sector);
        w32(r + 16 + 512, 0xff);
        // header (device reads) → data (device writes) → status (device writes)
        let descs = [(r, 16u32, 1u16), (r + 16, 512, 1 | 2), (r + 16 + 512, 1, 2)];
        for (k, (addr, len, flags)) in descs.into_iter().enumerate() {
            let d = q + 16 * k;
            w64(d, addr as u64);
            w32(d + 8, len);
            w16(d + 12, flags);
            w16(d + 14, (k + 1) as u16);
        }
        let avail = q + 128;
        w16(avail + 4 + 2 * (n as usize % QSIZE), 0);
        arch::dsb();
        w16(avail + 2, n + 1);
        arch::dsb();
        let intid = INTID.load(Ordering::SeqCst);
        let before = irq::count(intid);
        set(QUEUE_NOTIFY, 0);
        irq::wait_count(intid, before + 1);
        let used_idx = r16(q + 4096 + 2);
        check(used_idx == n + 1, "used-ring-not-advanced");
        r8(r + 16 + 512)
    }

    #[unsafe(no_mangle)]
    extern "C" fn guest_main(x0: u64) -> ! {
        // SAFETY: the device tree the hypervisor placed in this VM's RAM (x0).
        let fdt = match unsafe { Fdt::at(x0) } {
            Ok(f) => f,
            Err(e) => fail(e),
        };
        let Some((base, intid)) = find(&fdt) else {
            fail("no-virtio-device-in-tree")
        };
        BASE.store(base, Ordering::SeqCst);
        INTID.store(intid, Ordering::SeqCst);
        let version = reg(VERSION);
        result!("slot", "{base:#x}");
        result!("intid", "{intid}");
        result!("magic", "{:#x}", reg(0));
        result!("version", "{version}");
        result!("device-id", "{}", reg(DEVICE_ID));
        check(reg(DEVICE_ID) == BLOCK, "not-a-block-device");
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(intid, 0x80);
        irq::set_handler(on_irq);
        arch::irq_unmask();
        if !init(version) {
            fail("device-init");
        }
        let s = read_sector(0, 2);
        result!("req-status", "{s}");
        let sb = req() + 16;
        let magic = u16::from_le_bytes([r8(sb + 56), r8(sb + 57)]);
        result!("ext2-magic", "{magic:#x}");
        let mut label = [0u8; 16];
        for (k, b) in label.iter_mut().enumerate() {
            *b = r8(sb + 120 + k);
        }
        let n = label.iter().position(|&b| b == 0).unwrap_or(16);
        result!(
            "label",
            "{}",
            core::str::from_utf8(&label[..n]).unwrap_or("?")
        );
        // A second request: its interrupt arrives only if the first was deactivated.
        let s2 = read_sector(1, 0);
        check(s2 == 0, "second-read-failed");
        result!("interrupts", "{}", irq::count(intid));
        result!("isr", "{}", LAST_STATUS.load(Ordering::SeqCst));
        println!("virtio-probe: done");
        finish()
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the virtio-probe guest runs under the hypervisor: use `cargo xtask test`");
}
