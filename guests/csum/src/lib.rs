//! The checksum client: a full VM that asks the lightweight VM `lw-csum` (guests/
//! lwvm-demo) for FNV-1a 64 checksums of buffers it writes into a shared region, over
//! one vIRQ channel each way, and checks every answer against its own computation.
//! The protocol's offsets must match `lw-csum`.
#![cfg_attr(target_os = "none", no_std)]

#[cfg(target_os = "none")]
mod client {
    use core::ptr::{read_volatile, write_volatile};
    use guest_rt::{gic, hypercall, irq, println, result, result::check};

    /// Guest-physical base of the shared region `csum` in the client.
    const SHM: usize = 0x5000_0000;
    const SHM_SIZE: usize = 0x1_0000;
    const CMD: usize = 0x00;
    const LEN: usize = 0x04;
    const RESULT: usize = 0x08;
    const SEQ: usize = 0x10;
    const STATUS: usize = 0x14;
    const ACK: usize = 0x18;
    const DATA: usize = 0x40;
    const SUM: u32 = 1;
    const QUIT: u32 = 2;
    const REQUESTS: u32 = 100;

    fn w32(off: usize, v: u32) {
        // SAFETY: SHM..SHM+SHM_SIZE is the shared region the system maps here (rw).
        unsafe { write_volatile((SHM + off) as *mut u32, v) }
    }
    fn r32(off: usize) -> u32 {
        // SAFETY: as in `w32`.
        unsafe { read_volatile((SHM + off) as *const u32) }
    }
    fn r64(off: usize) -> u64 {
        // SAFETY: as in `w32`.
        unsafe { read_volatile((SHM + off) as *const u64) }
    }
    fn w8(off: usize, v: u8) {
        // SAFETY: as in `w32`.
        unsafe { write_volatile((SHM + off) as *mut u8, v) }
    }

    fn byte(k: u32, i: usize) -> u8 {
        (k as usize * 131 + i * 7 + (i >> 3)) as u8
    }

    fn fnv1a64(k: u32, len: usize) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for i in 0..len {
            h ^= u64::from(byte(k, i));
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    /// One request: `cmd` with `len` bytes of pattern `seq`; returns when answered.
    fn request(to_server: u64, from_server: u32, seq: u32, cmd: u32, len: u32) -> bool {
        w32(LEN, len);
        w32(SEQ, seq);
        w32(CMD, cmd);
        guest_rt::arch::dsb();
        if hypercall::virq_raise(to_server) != 0 {
            return false;
        }
        irq::wait_count(from_server, seq);
        r32(ACK) == seq
    }

    /// Runs the client: requests on channel `to_server`, answers on INTID `from_server`.
    pub fn run(to_server: u64, from_server: u32) -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(from_server, 0x80);
        println!(
            "csum-client: {REQUESTS} requests on channel {to_server}, answers on INTID {from_server}"
        );
        let t0 = guest_rt::timer::now();
        let (mut good, mut bad) = (0u32, 0u32);
        for k in 1..=REQUESTS {
            let len = (k as usize * 37) % 2000 + 1;
            for i in 0..len {
                w8(DATA + i, byte(k, i));
            }
            if !request(to_server, from_server, k, SUM, len as u32) {
                bad += 1;
                println!("csum-client: request {k} not answered");
                break;
            }
            if r32(STATUS) == 0 && r64(RESULT) == fnv1a64(k, len) {
                good += 1;
            } else {
                bad += 1;
                println!(
                    "csum-client: request {k}: status {} result {:#x}",
                    r32(STATUS),
                    r64(RESULT)
                );
            }
        }
        let ticks = guest_rt::timer::now() - t0;
        println!(
            "csum-client: {} ticks per request",
            ticks / u64::from(REQUESTS)
        );
        result!("checksums-ok", "{good}");
        result!("checksums-bad", "{bad}");
        check(good == REQUESTS && bad == 0, "checksum-mismatch");
        let seq = REQUESTS + 1;
        let refused =
            request(to_server, from_server, seq, SUM, SHM_SIZE as u32) && r32(STATUS) == 1;
        result!(
            "oversize",
            "{}",
            if refused { "refused" } else { "ACCEPTED" }
        );
        check(refused, "oversize-accepted");
        let quit = request(to_server, from_server, seq + 1, QUIT, 0);
        result!("quit", "{}", if quit { "acked" } else { "lost" });
        check(quit, "quit-lost");
        guest_rt::result::finish()
    }
}

#[cfg(target_os = "none")]
pub use client::run;
