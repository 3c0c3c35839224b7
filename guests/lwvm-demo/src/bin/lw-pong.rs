//! `lw-pong`: the lightweight partner of the full VM `ping` (guests/pingpong). It finds
//! its channels with CHANNELS (one to raise, one that raises it), raises once as
//! "ready", then answers each of N events with one raise, and exits.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::{Boot, println, result, sys};

    const ROUNDS: u32 = 1000;

    fn main(boot: Boot) {
        result!(
            "fp-clean-at-entry",
            "{}",
            if boot.fp_clean { "yes" } else { "no" }
        );
        let (out, inc) = sys::channels();
        if out.count_ones() != 1 || inc == 0 {
            println!("lw-pong: channels out {out:#x} in {inc:#x}: need one of each");
            result!("status", "fail channels");
            return;
        }
        let to_ping = u64::from(out.trailing_zeros());
        let r = sys::raise(to_ping);
        println!("lw-pong: ready raised on channel {to_ping} ({r}), waiting on mask {inc:#x}");
        let mut answered = 0u32;
        let mut bad = 0u32;
        while answered < ROUNDS {
            let ev = sys::wait();
            if ev & inc == 0 {
                bad += 1;
                continue;
            }
            if sys::raise(to_ping) != 0 {
                bad += 1;
                break;
            }
            answered += 1;
        }
        result!("answers", "{answered}");
        let ok = bad == 0 && answered == ROUNDS && boot.fp_clean;
        result!("status", "{}", if ok { "pass" } else { "fail" });
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system lwvm-pingpong --features lwvm`"
    );
}
