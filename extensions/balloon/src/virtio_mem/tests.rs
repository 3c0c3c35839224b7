//! The device as Linux's virtio-mmio and virtio-mem drivers drive it: the handshake, a
//! queue in fake guest RAM, PLUG/UNPLUG/STATE requests against what the holder holds,
//! and the malformed queues a driver could set up.
use super::*;
use std::vec;
use std::vec::Vec;

const RAM: u64 = 0x4000_0000;
const DESC: u64 = RAM;
const AVAIL: u64 = RAM + 0x100;
const USED: u64 = RAM + 0x200;
const REQ: u64 = RAM + 0x400;
const RESP: u64 = RAM + 0x500;
const MIB: u64 = 1 << 20;
const R: Region = Region {
    ipa: 0x8000_0000,
    block_size: 4 * MIB,
    blocks: 32,
};

struct Ram(Vec<u8>);

impl GuestMemory for Ram {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> bool {
        let Some(o) = ipa.checked_sub(RAM) else {
            return false;
        };
        let o = o as usize;
        match self.0.get(o..o + buf.len()) {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
    fn write(&mut self, ipa: u64, buf: &[u8]) -> bool {
        let Some(o) = ipa.checked_sub(RAM) else {
            return false;
        };
        let o = o as usize;
        match self.0.get_mut(o..o + buf.len()) {
            Some(s) => {
                s.copy_from_slice(buf);
                true
            }
            None => false,
        }
    }
}

/// A driver: the device, its RAM and the next avail index.
struct Driver {
    d: VirtioMem,
    ram: Ram,
    avail: u16,
    lease: Lease,
}

impl Driver {
    fn new(held: u32) -> Driver {
        let mut t = Driver {
            d: VirtioMem::new(),
            ram: Ram(vec![0; 0x1000]),
            avail: 0,
            lease: Lease { held, asked: 0 },
        };
        t.d.set_lease(t.lease);
        t
    }
    fn rd(&self, off: u64) -> u32 {
        self.d.read(&R, off, 4) as u32
    }
    fn wr(&mut self, off: u64, v: u32) -> Effect {
        self.d
            .write(&R, self.lease, off, 4, u64::from(v), &mut self.ram)
    }
    fn cfg64(&self, off: u64) -> u64 {
        // as Linux reads a __le64: two 32-bit loads
        let lo = self.d.read(&R, reg::CONFIG + off, 4);
        let hi = self.d.read(&R, reg::CONFIG + off + 4, 4);
        lo | hi << 32
    }
    /// The virtio-mmio probe and virtio-mem's set-up, as Linux does them.
    fn probe(&mut self) {
        assert_eq!(self.rd(reg::MAGIC), MAGIC);
        assert_eq!(self.rd(reg::VERSION), 2);
        assert_eq!(self.rd(reg::DEVICE_ID), 24);
        self.wr(reg::STATUS, 0);
        self.wr(reg::STATUS, status::ACKNOWLEDGE);
        self.wr(reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        self.wr(reg::DEVICE_FEATURES_SEL, 1);
        let hi = self.rd(reg::DEVICE_FEATURES);
        self.wr(reg::DEVICE_FEATURES_SEL, 0);
        let lo = self.rd(reg::DEVICE_FEATURES);
        let f = u64::from(hi) << 32 | u64::from(lo);
        assert_eq!(f, FEATURES);
        self.wr(reg::DRIVER_FEATURES_SEL, 1);
        self.wr(reg::DRIVER_FEATURES, hi);
        self.wr(reg::DRIVER_FEATURES_SEL, 0);
        self.wr(reg::DRIVER_FEATURES, lo);
        self.wr(reg::STATUS, 0xb);
        assert_eq!(
            self.rd(reg::STATUS) & status::FEATURES_OK,
            status::FEATURES_OK
        );
        self.wr(reg::QUEUE_SEL, 0);
        assert_eq!(self.rd(reg::QUEUE_READY), 0);
        let max = self.rd(reg::QUEUE_NUM_MAX);
        assert!(max >= 1);
        self.wr(reg::QUEUE_NUM, max);
        for (lo, v) in [
            (reg::QUEUE_DESC_LOW, DESC),
            (reg::QUEUE_DRIVER_LOW, AVAIL),
            (reg::QUEUE_DEVICE_LOW, USED),
        ] {
            self.wr(lo, v as u32);
            self.wr(lo + 4, (v >> 32) as u32);
        }
        self.wr(reg::QUEUE_READY, 1);
        assert_eq!(self.rd(reg::QUEUE_READY), 1);
        self.wr(reg::STATUS, 0xf);
    }
    /// One request through the queue: (response type, state, interrupt raised).
    fn request(&mut self, ty: u16, addr: u64, nb: u16) -> (u16, u16, bool) {
        let mut req = [0u8; 24];
        req[..2].copy_from_slice(&ty.to_le_bytes());
        req[8..16].copy_from_slice(&addr.to_le_bytes());
        req[16..18].copy_from_slice(&nb.to_le_bytes());
        self.ram.write(REQ, &req);
        self.desc(0, REQ, 24, DESC_NEXT, 1);
        self.desc(1, RESP, 10, DESC_WRITE, 0);
        let slot = u64::from(self.avail % QUEUE_MAX);
        self.ram.write(AVAIL + 4 + 2 * slot, &0u16.to_le_bytes());
        self.avail = self.avail.wrapping_add(1);
        self.ram.write(AVAIL + 2, &self.avail.to_le_bytes());
        let e = self.wr(reg::QUEUE_NOTIFY, 0);
        assert!(e.served);
        let mut used = [0u8; 2];
        self.ram.read(USED + 2, &mut used);
        assert_eq!(u16::from_le_bytes(used), self.avail, "request answered");
        let mut resp = [0u8; 10];
        self.ram.read(RESP, &mut resp);
        let st = self.rd(reg::INTERRUPT_STATUS);
        self.wr(reg::INTERRUPT_ACK, st);
        (
            u16::from_le_bytes([resp[0], resp[1]]),
            u16::from_le_bytes([resp[8], resp[9]]),
            e.interrupt,
        )
    }
    fn desc(&mut self, i: u64, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..].copy_from_slice(&next.to_le_bytes());
        self.ram.write(DESC + 16 * i, &d);
    }
    fn blk(i: u64) -> u64 {
        R.ipa + i * R.block_size
    }
}

#[test]
fn config_describes_the_window_and_follows_the_lease() {
    let mut t = Driver::new(0);
    t.probe();
    assert_eq!(t.cfg64(0x00), 4 * MIB, "block_size");
    assert_eq!(t.cfg64(0x10), R.ipa, "addr");
    assert_eq!(t.cfg64(0x18), 128 * MIB, "region_size");
    assert_eq!(t.cfg64(0x20), 128 * MIB, "usable_region_size");
    assert_eq!(t.cfg64(0x30), 0, "requested_size");
    let g = t.rd(reg::CONFIG_GENERATION);
    // The pool gives the holder 32 blocks: requested grows, the driver is told.
    t.lease = Lease { held: 32, asked: 0 };
    assert!(t.d.set_lease(t.lease), "config-change interrupt");
    assert_eq!(t.rd(reg::INTERRUPT_STATUS) & 2, 2);
    assert_ne!(t.rd(reg::CONFIG_GENERATION), g);
    assert_eq!(t.cfg64(0x30), 128 * MIB);
    assert!(!t.d.set_lease(t.lease), "no change, no interrupt");
    // Asked for 8: requested drops by 8 blocks.
    t.lease.asked = 8;
    assert!(t.d.set_lease(t.lease));
    assert_eq!(t.cfg64(0x30), 96 * MIB);
    // A byte load of the config reads the same little-endian bytes.
    assert_eq!(
        t.d.read(&R, reg::CONFIG + 2, 1),
        0x40,
        "block_size byte 2 (4 MiB)"
    );
}

#[test]
fn plug_and_unplug_follow_what_is_held() {
    let mut t = Driver::new(8);
    t.probe();
    assert_eq!(t.request(REQ_PLUG, Driver::blk(0), 2), (RESP_ACK, 0, true));
    assert_eq!(t.d.plugged_count(), 2);
    assert_eq!(t.cfg64(0x28), 8 * MIB, "plugged_size");
    assert_eq!(
        t.request(REQ_PLUG, Driver::blk(1), 1).0,
        RESP_ERROR,
        "plugged twice"
    );
    assert_eq!(
        t.request(REQ_PLUG, Driver::blk(7), 2).0,
        RESP_BUSY,
        "block 8 not held"
    );
    assert_eq!(t.request(REQ_PLUG, Driver::blk(2), 6).0, RESP_ACK);
    assert_eq!(
        t.request(REQ_STATE, Driver::blk(0), 8),
        (RESP_ACK, STATE_PLUGGED, true)
    );
    assert_eq!(t.request(REQ_STATE, Driver::blk(6), 4).1, STATE_MIXED);
    assert_eq!(t.request(REQ_STATE, Driver::blk(8), 4).1, STATE_UNPLUGGED);
    // Misaligned, outside, empty, past the end: errors, nothing changes.
    for (a, n) in [
        (Driver::blk(0) + 4096, 1),
        (R.ipa - R.block_size, 1),
        (Driver::blk(0), 0),
        (Driver::blk(31), 2),
    ] {
        assert_eq!(t.request(REQ_UNPLUG, a, n).0, RESP_ERROR, "{a:#x} x{n}");
    }
    assert_eq!(t.d.plugged_count(), 8);
    // Asked for 3: the top 3 are being taken, the driver unplugs from the top.
    t.lease.asked = 3;
    t.d.set_lease(t.lease);
    assert_eq!(t.d.released_top(t.lease), 0);
    assert_eq!(t.request(REQ_UNPLUG, Driver::blk(7), 1).0, RESP_ACK);
    assert_eq!(t.d.released_top(t.lease), 1);
    assert_eq!(
        t.request(REQ_PLUG, Driver::blk(7), 1).0,
        RESP_BUSY,
        "being taken"
    );
    assert_eq!(
        t.request(REQ_UNPLUG, Driver::blk(7), 1).0,
        RESP_ERROR,
        "not plugged"
    );
    assert_eq!(t.request(REQ_UNPLUG, Driver::blk(5), 2).0, RESP_ACK);
    assert_eq!(t.request(REQ_UNPLUG, Driver::blk(4), 1).0, RESP_ACK);
    assert_eq!(t.d.released_top(t.lease), 3, "at most what was asked");
    // The image releases 3: the holder now holds 5, nothing asked.
    t.lease = Lease { held: 5, asked: 0 };
    t.d.set_lease(t.lease);
    assert_eq!(t.d.plugged_count(), 4);
    assert_eq!(t.request(REQ_UNPLUG_ALL, 0, 0).0, RESP_ACK);
    assert_eq!(t.d.plugged_count(), 0);
}

#[test]
fn a_revoked_or_reset_holder_keeps_nothing_plugged() {
    let mut t = Driver::new(4);
    t.probe();
    t.request(REQ_PLUG, Driver::blk(0), 4);
    // Revoked at a deadline: the blocks are gone, so are their plugs.
    t.lease = Lease { held: 1, asked: 0 };
    t.d.set_lease(t.lease);
    assert_eq!(t.d.plugged_count(), 1);
    // A driver reset keeps the plugs (the driver must unplug all); a VM reset does not.
    t.wr(reg::STATUS, 0);
    assert_eq!(t.d.plugged_count(), 1);
    assert_eq!(t.rd(reg::QUEUE_READY), 0);
    t.d.reset_all();
    assert_eq!(t.d.plugged_count(), 0);
    assert_eq!(t.d.requested(), 0);
}

#[test]
fn feature_negotiation_refuses_what_is_not_offered() {
    let mut t = Driver::new(0);
    t.wr(reg::STATUS, 3);
    // A legacy driver (no VERSION_1).
    t.wr(reg::DRIVER_FEATURES_SEL, 0);
    t.wr(reg::DRIVER_FEATURES, 2);
    t.wr(reg::STATUS, 0xb);
    assert_eq!(t.rd(reg::STATUS) & status::FEATURES_OK, 0);
    // Unknown feature bits.
    t.wr(reg::STATUS, 0);
    t.wr(reg::STATUS, 3);
    t.wr(reg::DRIVER_FEATURES_SEL, 1);
    t.wr(reg::DRIVER_FEATURES, 3);
    t.wr(reg::STATUS, 0xb);
    assert_eq!(t.rd(reg::STATUS) & status::FEATURES_OK, 0);
}

#[test]
fn a_malformed_queue_needs_a_reset_and_harms_nothing() {
    for bad in 0..4 {
        let mut t = Driver::new(8);
        t.probe();
        match bad {
            // a response descriptor the device may not write
            0 => t.desc(1, RESP, 10, 0, 0),
            // a request outside the VM's RAM
            1 => t.desc(0, 0x1_0000_0000, 24, DESC_NEXT, 1),
            // a chain of one
            2 => t.desc(0, REQ, 24, 0, 0),
            // an avail index far ahead of the queue
            _ => {
                t.ram.write(AVAIL + 2, &100u16.to_le_bytes());
            }
        }
        if bad < 3 {
            let slot = 0u64;
            t.ram.write(AVAIL + 4 + 2 * slot, &0u16.to_le_bytes());
            t.ram.write(AVAIL + 2, &1u16.to_le_bytes());
            // the chain the test set up is overwritten only where it is made bad
            if bad != 0 {
                t.desc(1, RESP, 10, DESC_WRITE, 0);
            }
            if bad == 0 {
                t.desc(0, REQ, 24, DESC_NEXT, 1);
            }
        }
        let e = t.wr(reg::QUEUE_NOTIFY, 0);
        assert!(e.interrupt, "case {bad}: the driver is told");
        assert_ne!(t.rd(reg::STATUS) & status::NEEDS_RESET, 0, "case {bad}");
        assert_eq!(t.d.plugged_count(), 0, "case {bad}");
        // Nothing more is served until the driver resets the device.
        assert!(!t.wr(reg::QUEUE_NOTIFY, 0).interrupt);
    }
}
