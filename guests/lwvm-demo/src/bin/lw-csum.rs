//! `lw-csum`: a checksum service a full VM uses over shared memory (guests/csum's
//! `csum-client`). Protocol, in the shared region (mapped at [`SHM_VA`] here; offsets
//! must match guests/csum): the client writes the bytes at DATA, their count at LEN and
//! SUM at CMD, then raises its channel; the service writes FNV-1a 64 of the bytes at
//! RESULT (STATUS 0), or STATUS 1 if LEN does not fit, echoes SEQ to ACK and raises
//! back. QUIT makes it answer once more, report and exit.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::shm::Region;
    use lwvm_sdk::{Boot, println, result, sys};

    /// Where the system maps the shared region in this lwVM.
    const SHM_VA: u64 = 0x40_1000_0000;
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

    fn fnv1a64(shm: &Region, len: usize) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for i in 0..len {
            h ^= u64::from(shm.read_u8(DATA + i));
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    }

    fn main(_boot: Boot) {
        let (out, inc) = sys::channels();
        if out.count_ones() != 1 || inc == 0 {
            println!("lw-csum: channels out {out:#x} in {inc:#x}: need one of each");
            result!("status", "fail channels");
            return;
        }
        let reply = u64::from(out.trailing_zeros());
        // SAFETY: the system maps the region `csum` at SHM_VA for this lwVM (read-write),
        // above its own memory.
        let shm = unsafe { Region::new(SHM_VA, SHM_SIZE) };
        println!("lw-csum: serving on events {inc:#x}, answering on channel {reply}");
        let (mut served, mut refused) = (0u32, 0u32);
        loop {
            if sys::wait() & inc == 0 {
                continue;
            }
            let cmd = shm.read_u32(CMD);
            shm.write_u32(CMD, 0);
            match cmd {
                SUM => {
                    let len = shm.read_u32(LEN) as usize;
                    if len > SHM_SIZE - DATA {
                        shm.write_u32(STATUS, 1);
                        refused += 1;
                    } else {
                        shm.write_u64(RESULT, fnv1a64(&shm, len));
                        shm.write_u32(STATUS, 0);
                        served += 1;
                    }
                    shm.write_u32(ACK, shm.read_u32(SEQ));
                    sys::raise(reply);
                }
                QUIT => {
                    shm.write_u32(ACK, shm.read_u32(SEQ));
                    sys::raise(reply);
                    break;
                }
                _ => {}
            }
        }
        result!("served", "{served}");
        result!("refused", "{refused}");
        result!("status", "pass");
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system lwvm-csum --features lwvm`"
    );
}
