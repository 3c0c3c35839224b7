//! `lw-fp`: checks that an lwVM's FP/SIMD state is its own (system `lwvm-fp`, with the
//! full VM `fp-secret` on the same CPU). At entry every FP register must read zero —
//! not the pattern `fp-secret` left in them; then it fills them with its own pattern,
//! lets `fp-secret` run (which checks its pattern survived) and checks its own did.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::{Boot, probe, result, sys};

    const MINE: u64 = 0x0123_4567_89ab_cdef;
    const TO_VM: u64 = 1;

    fn main(boot: Boot) {
        result!(
            "fp-clean-at-entry",
            "{}",
            if boot.fp_clean { "yes" } else { "no" }
        );
        sys::wait();
        let (_, intact) = probe::fp_hold_across(MINE, TO_VM);
        result!("fp-own-preserved", "{}", if intact { "yes" } else { "no" });
        result!(
            "status",
            "{}",
            if boot.fp_clean && intact {
                "pass"
            } else {
                "fail"
            }
        );
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system lwvm-fp --features lwvm`"
    );
}
