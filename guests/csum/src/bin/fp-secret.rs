//! `fp-secret` (system `lwvm-fp`): a full VM that leaves a pattern in every FP/SIMD
//! register, raises channel 0 to the lwVM `lw-fp` and sleeps (WFI, IRQs masked) until
//! `lw-fp` answers on INTID 101; the lwVM ran meanwhile, with its own FP state. Then
//! every register must still hold the pattern. Channel 0 once more releases `lw-fp`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::arch::asm;
    use guest_rt::{gic, hypercall, irq, result, result::check};

    const SECRET: u64 = 0x5ec2_e75e_c2e7_5ec2;
    const TO_LW: u64 = 0;
    const FROM_LW: u32 = 101;
    const VIRQ_RAISE: u64 = hypercall::fid::VIRQ_RAISE;

    /// Fills the FP registers, raises `TO_LW`, sleeps until an interrupt is pending and
    /// checks the registers; all in one block so that no compiled code touches them.
    fn hold_secret() -> bool {
        let ok: u64;
        // SAFETY: only registers change (FP/SIMD, x0..x3, x9, all declared); IRQs are
        // masked around the WFI and unmasked by the caller, which then takes INTID 101.
        unsafe {
            asm!(
                "msr daifset, #2",
                "dup v0.2d, {pat}",
                ".irp n, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
                "mov v\\n\\().16b, v0.16b",
                ".endr",
                "mov x0, {fid}",
                "mov x1, {ch}",
                "hvc #0",
                "wfi",
                "mov {ok}, #1",
                ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
                "fmov x9, d\\n",
                "cmp x9, {pat}",
                "csel {ok}, {ok}, xzr, eq",
                "mov x9, v\\n\\().d[1]",
                "cmp x9, {pat}",
                "csel {ok}, {ok}, xzr, eq",
                ".endr",
                pat = in(reg) SECRET,
                fid = in(reg) VIRQ_RAISE,
                ch = in(reg) TO_LW,
                ok = out(reg) ok,
                out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x9") _,
                out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
                out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
                out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _, out("v17") _,
                out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
                out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
                out("v30") _, out("v31") _,
                options(nostack),
            );
        }
        ok != 0
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_LW, 0x80);
        let kept = hold_secret();
        guest_rt::arch::irq_unmask();
        irq::wait_count(FROM_LW, 1);
        result!("fp-preserved", "{}", if kept { "yes" } else { "no" });
        check(kept, "fp-clobbered");
        check(hypercall::virq_raise(TO_LW) == 0, "release-raise-failed");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this guest runs under the hypervisor: use `cargo xtask run --system lwvm-fp --features lwvm`"
    );
}
