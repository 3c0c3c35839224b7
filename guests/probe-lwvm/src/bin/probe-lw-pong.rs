//! `probe-lw-pong`: the lightweight-VM half of the VM↔lwVM switch probe — `probe-pong`
//! (guests/probe-bench) as an lwVM program. It runs only while `probe-ping` (a full VM,
//! higher priority, same CPU) sleeps; each round it stamps its resumption (ping→lwVM =
//! that stamp − ping's stamp before its WFI, in the shared page), stamps again into the
//! shared page and raises ping's vIRQ (RAISE syscall), which switches back to ping.
//!
//! The stamps are PMCCNTR_EL0 reads at EL0: probe-ping sets PMUSERENR_EL0.{EN,CR} so the
//! lwVM may read the cycle counter the CPU shares with ping. Output in the probes' format
//! (`PROBE`/`METRIC`/`SAMPLES`/`RESULT`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use core::arch::asm;
    use core::sync::atomic::{AtomicU64, Ordering};

    use lwvm_sdk::shm::Region;
    use lwvm_sdk::{Boot, println, sys};

    /// The shared page (exp-lwvm-switch maps it here; probe-ping sees it at 0x5000_0000).
    const MBOX: u64 = 0x40_1000_0000;
    const STAMP_A: usize = 0;
    const STAMP_B: usize = 8;
    const STOP: usize = 16;
    const MAX: usize = 10_000;

    use lwvm_sdk::build_number as parse;
    const ITERS: usize = parse(option_env!("PROBE_ITERS"), 1000);
    const WARMUP: usize = parse(option_env!("PROBE_WARMUP"), 16);
    const QUIET: bool = option_env!("PROBE_QUIET").is_some();

    static THERE: [AtomicU64; MAX] = [const { AtomicU64::new(0) }; MAX];

    #[inline(always)]
    fn now() -> u64 {
        let v: u64;
        // SAFETY: reading the cycle counter (EL0 access granted by PMUSERENR_EL0) has no
        // side effect.
        unsafe { asm!("isb", "mrs {}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
        v
    }

    fn main(_boot: Boot) {
        let (out, _inc) = sys::channels();
        let to_ping = u64::from(out.trailing_zeros());
        // SAFETY: exp-lwvm-switch maps a 4K shared page for this lwVM at MBOX.
        let m = unsafe { Region::new(MBOX, 4096) };
        let (mut r, mut n) = (0usize, 0usize);
        loop {
            let t1 = now();
            if m.read_u64(STOP) != 0 {
                break;
            }
            if r >= WARMUP && n < MAX {
                THERE[n].store(t1.wrapping_sub(m.read_u64(STAMP_A)), Ordering::Relaxed);
                n += 1;
            }
            r += 1;
            let t2 = now();
            m.write_u64(STAMP_B, t2);
            sys::raise(to_ping);
        }
        println!("PROBE probe-lw-pong hv iters={ITERS} warmup={WARMUP}");
        if !QUIET {
            println!("METRIC 2 switch_ping_to_pong {n}");
            let mut i = 0;
            while i < n {
                let end = (i + 16).min(n);
                let mut line = [0u8; 400];
                let mut len = 0;
                for b in b"SAMPLES 2" {
                    line[len] = *b;
                    len += 1;
                }
                for k in i..end {
                    let mut d = [0u8; 20];
                    let (mut v, mut j) = (THERE[k].load(Ordering::Relaxed), 20);
                    loop {
                        j -= 1;
                        d[j] = b'0' + (v % 10) as u8;
                        v /= 10;
                        if v == 0 {
                            break;
                        }
                    }
                    line[len] = b' ';
                    len += 1;
                    for &c in &d[j..] {
                        line[len] = c;
                        len += 1;
                    }
                }
                println!("{}", core::str::from_utf8(&line[..len]).unwrap_or(""));
                i = end;
            }
        }
        println!("RESULT status pass");
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("a probe lwVM: use `cargo xtask experiment lwvm-switch`");
}
