//! `lw-ping`: the lightweight twin of the full VM `ping` (guests/pingpong), for the
//! lwVM↔lwVM ping-pong of `cargo xtask bench switch`: waits for its partner's "ready",
//! then N times raises its channel and waits for the answer, and reports the counter
//! ticks per round trip like `ping` does.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::{Boot, println, result, sys, time};

    const ROUNDS: u32 = 1000;

    fn main(_boot: Boot) {
        let (out, inc) = sys::channels();
        if out.count_ones() != 1 || inc == 0 {
            println!("lw-ping: channels out {out:#x} in {inc:#x}: need one of each");
            result!("status", "fail channels");
            return;
        }
        let to_pong = u64::from(out.trailing_zeros());
        println!("lw-ping: waiting for the partner's ready (mask {inc:#x})");
        while sys::wait() & inc == 0 {}
        let t0 = time::counter();
        let mut done = 0;
        for _ in 0..ROUNDS {
            if sys::raise(to_pong) != 0 {
                break;
            }
            while sys::wait() & inc == 0 {}
            done += 1;
        }
        let ticks = time::counter() - t0;
        println!(
            "lw-ping: {} ticks per round trip",
            ticks / u64::from(done.max(1))
        );
        result!("round-trips", "{done}");
        result!("status", "{}", if done == ROUNDS { "pass" } else { "fail" });
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this lwVM runs under the hypervisor: use `cargo xtask bench switch`");
}
