//! The per-vCPU CPU state two VMs on one physical CPU must not share: FP/SIMD, the
//! pointer-authentication keys, thread and context ID registers, other EL1 registers,
//! the debug comparators. Shared by `regs-victim` and `regs-attacker`, which fill it with
//! patterns that tell them apart ([`State::pattern`]).
//!
//! FP/SIMD values are moved by single asm blocks ([`fp_load_wait_store`]): compiled Rust
//! may use the vector registers for copies, so between loading a pattern and reading
//! it back nothing but assembly runs.
// Each of the two programs uses a different part of this module.
#![allow(dead_code)]
use core::arch::asm;

use guest_rt::exceptions::catch;

/// Tag of the victim's values (top 16 bits).
pub const VICTIM: u64 = 0x7e57;
/// Tag of the attacker's values.
pub const ATTACKER: u64 = 0xa77a;

/// V0..V31, FPCR, FPSR.
#[repr(C, align(16))]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fp {
    /// Q0..Q31.
    pub q: [u128; 32],
    /// FPCR.
    pub fpcr: u64,
    /// FPSR.
    pub fpsr: u64,
}

/// System registers written and read directly (EL1 may, HCR_EL2.APK etc. let it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sys {
    /// TPIDR_EL0, TPIDRRO_EL0, TPIDR_EL1.
    pub tpidr: [u64; 3],
    /// CONTEXTIDR_EL1.
    pub contextidr: u64,
    /// SP_EL0, PAR_EL1, FAR_EL1, MAIR_EL1, TTBR1_EL1, CNTKCTL_EL1, and the compare values
    /// of the virtual and EL1 physical timers (CNTV/CNTP_CVAL_EL0; the timers stay off).
    pub el1: [u64; 8],
    /// APIAKeyLo/Hi, APIBKeyLo/Hi, APDAKeyLo/Hi, APDBKeyLo/Hi, APGAKeyLo/Hi.
    pub keys: [u64; 10],
    /// TPIDR2_EL0 where the CPU has it (None: UNDEFINED here).
    pub tpidr2: Option<u64>,
}

/// The debug registers (emulated by the hypervisor).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Debug {
    /// DBGBVR<n>_EL1, DBGBCR<n>_EL1.
    pub bvr: [u64; 16],
    /// DBGBCR<n>_EL1.
    pub bcr: [u64; 16],
    /// DBGWVR<n>_EL1.
    pub wvr: [u64; 16],
    /// DBGWCR<n>_EL1.
    pub wcr: [u64; 16],
    /// MDSCR_EL1.
    pub mdscr: u64,
}

/// The patterns of VM `tag`.
pub struct State;

impl State {
    /// FP/SIMD values: every register distinct, tagged.
    pub fn fp(tag: u64) -> Fp {
        let mut q = [0u128; 32];
        for (i, r) in q.iter_mut().enumerate() {
            let hi = (tag << 48) | 0xf900_0000_0000 | i as u64;
            let lo = (tag << 48) | 0x5ec7_0000 | i as u64;
            *r = ((hi as u128) << 64) | lo as u128;
        }
        // Writable FPCR bits (DN, RMode; AHP) and FPSR flags (QC, cumulative), distinct.
        let (fpcr, fpsr) = if tag == VICTIM {
            (0x0340_0000, 0x0800_0015)
        } else {
            (0x0480_0000, 0x0000_008A)
        };
        Fp { q, fpcr, fpsr }
    }

    /// System register values.
    pub fn sys(tag: u64) -> Sys {
        let t = tag << 48;
        let mut keys = [0; 10];
        for (i, k) in keys.iter_mut().enumerate() {
            *k = t | 0x4b00_0000_0000 | i as u64;
        }
        Sys {
            tpidr: [t | 0x7001, t | 0x7002, t | 0x7003],
            contextidr: (tag << 16) | 0x0c1d,
            el1: [
                t | 0x5000_0010,
                0x0000_0012_3456_7000 | (tag << 16),
                t | 0xfa00_1234,
                (tag << 48) | 0x44ff_0400_bbaa,
                (tag << 48) | 0x4123_4000,
                if tag == VICTIM { 0x303 } else { 0x1 },
                t | 0x0cc0_0001,
                t | 0x0cc0_0002,
            ],
            keys,
            tpidr2: Some(t | 0x2222),
        }
    }

    /// Debug register values for `brps` breakpoints and `wrps` watchpoints: even
    /// comparators enabled at EL1/EL0 (they never match: MDSCR_EL1.MDE stays 0).
    pub fn debug(tag: u64, brps: usize, wrps: usize) -> Debug {
        let mut d = Debug {
            bvr: [0; 16],
            bcr: [0; 16],
            wvr: [0; 16],
            wcr: [0; 16],
            mdscr: if tag == VICTIM { 0x3000 } else { 0x1000 },
        };
        let base = if tag == VICTIM {
            0x4010_0000
        } else {
            0x4030_0000
        };
        for n in 0..brps {
            d.bvr[n] = base + 0x40 * n as u64;
            d.bcr[n] = 0x1E6 | ((n as u64 & 1) ^ 1);
        }
        for n in 0..wrps {
            d.wvr[n] = base + 0x8000 + 8 * n as u64;
            d.wcr[n] = 0x1FFE | ((n as u64 & 1) ^ 1);
        }
        d
    }
}

macro_rules! rd {
    ($name:expr) => {{
        let v: u64;
        // SAFETY: reading an EL1/EL0 system register of this vCPU has no side effect.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
        v
    }};
}
macro_rules! wr {
    ($name:expr, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: these registers are this vCPU's own; none is in use by the runtime
        // (the MMU is off, so MAIR/TTBR1 do not translate; SP_EL0 is unused at EL1h).
        unsafe { asm!(concat!("msr ", $name, ", {}"), "isb", in(reg) v, options(nomem, nostack)) };
    }};
}

/// Reads the system registers of [`Sys`].
pub fn read_sys() -> Sys {
    let tpidr2 = {
        let mut v = 0;
        // TPIDR2_EL0 (s3_3_c13_c0_5) is UNDEFINED without SME: `catch` records that.
        let f = catch(|| v = rd!("s3_3_c13_c0_5"));
        f.is_none().then_some(v)
    };
    Sys {
        tpidr: [rd!("tpidr_el0"), rd!("tpidrro_el0"), rd!("tpidr_el1")],
        contextidr: rd!("contextidr_el1"),
        el1: [
            rd!("sp_el0"),
            rd!("par_el1"),
            rd!("far_el1"),
            rd!("mair_el1"),
            rd!("ttbr1_el1"),
            rd!("cntkctl_el1"),
            rd!("cntv_cval_el0"),
            rd!("cntp_cval_el0"),
        ],
        keys: [
            rd!("s3_0_c2_c1_0"),
            rd!("s3_0_c2_c1_1"),
            rd!("s3_0_c2_c1_2"),
            rd!("s3_0_c2_c1_3"),
            rd!("s3_0_c2_c2_0"),
            rd!("s3_0_c2_c2_1"),
            rd!("s3_0_c2_c2_2"),
            rd!("s3_0_c2_c2_3"),
            rd!("s3_0_c2_c3_0"),
            rd!("s3_0_c2_c3_1"),
        ],
        tpidr2,
    }
}

/// Writes the system registers of [`Sys`] (TPIDR2_EL0 only where it exists).
pub fn write_sys(s: &Sys) {
    wr!("tpidr_el0", s.tpidr[0]);
    wr!("tpidrro_el0", s.tpidr[1]);
    wr!("tpidr_el1", s.tpidr[2]);
    wr!("contextidr_el1", s.contextidr);
    wr!("sp_el0", s.el1[0]);
    wr!("par_el1", s.el1[1]);
    wr!("far_el1", s.el1[2]);
    wr!("mair_el1", s.el1[3]);
    wr!("ttbr1_el1", s.el1[4]);
    wr!("cntkctl_el1", s.el1[5]);
    wr!("cntv_cval_el0", s.el1[6]);
    wr!("cntp_cval_el0", s.el1[7]);
    wr!("s3_0_c2_c1_0", s.keys[0]);
    wr!("s3_0_c2_c1_1", s.keys[1]);
    wr!("s3_0_c2_c1_2", s.keys[2]);
    wr!("s3_0_c2_c1_3", s.keys[3]);
    wr!("s3_0_c2_c2_0", s.keys[4]);
    wr!("s3_0_c2_c2_1", s.keys[5]);
    wr!("s3_0_c2_c2_2", s.keys[6]);
    wr!("s3_0_c2_c2_3", s.keys[7]);
    wr!("s3_0_c2_c3_0", s.keys[8]);
    wr!("s3_0_c2_c3_1", s.keys[9]);
    if let Some(v) = s.tpidr2 {
        let _ = catch(|| wr!("s3_3_c13_c0_5", v));
    }
}

macro_rules! dbg_arm {
    ($kind:literal, $i:literal, $read:expr, $v:expr) => {
        if $read {
            rd!(concat!("dbg", $kind, stringify!($i), "_el1"))
        } else {
            wr!(concat!("dbg", $kind, stringify!($i), "_el1"), $v);
            0
        }
    };
}

macro_rules! dbg_rw {
    ($n:expr, $read:expr, $v:expr, $kind:literal) => {
        match $n {
            0 => dbg_arm!($kind, 0, $read, $v),
            1 => dbg_arm!($kind, 1, $read, $v),
            2 => dbg_arm!($kind, 2, $read, $v),
            3 => dbg_arm!($kind, 3, $read, $v),
            4 => dbg_arm!($kind, 4, $read, $v),
            5 => dbg_arm!($kind, 5, $read, $v),
            6 => dbg_arm!($kind, 6, $read, $v),
            7 => dbg_arm!($kind, 7, $read, $v),
            8 => dbg_arm!($kind, 8, $read, $v),
            9 => dbg_arm!($kind, 9, $read, $v),
            10 => dbg_arm!($kind, 10, $read, $v),
            11 => dbg_arm!($kind, 11, $read, $v),
            12 => dbg_arm!($kind, 12, $read, $v),
            13 => dbg_arm!($kind, 13, $read, $v),
            14 => dbg_arm!($kind, 14, $read, $v),
            _ => dbg_arm!($kind, 15, $read, $v),
        }
    };
}

fn dbg(kind: u8, n: usize, read: bool, v: u64) -> u64 {
    match kind {
        0 => dbg_rw!(n, read, v, "bvr"),
        1 => dbg_rw!(n, read, v, "bcr"),
        2 => dbg_rw!(n, read, v, "wvr"),
        _ => dbg_rw!(n, read, v, "wcr"),
    }
}

/// Reads the debug registers of the first `brps` breakpoints and `wrps` watchpoints.
pub fn read_debug(brps: usize, wrps: usize) -> Debug {
    let mut d = State::debug(0, 0, 0);
    for n in 0..brps {
        d.bvr[n] = dbg(0, n, true, 0);
        d.bcr[n] = dbg(1, n, true, 0);
    }
    for n in 0..wrps {
        d.wvr[n] = dbg(2, n, true, 0);
        d.wcr[n] = dbg(3, n, true, 0);
    }
    d.mdscr = rd!("mdscr_el1");
    d
}

/// Writes the debug registers of `d` (`brps`, `wrps` comparators).
pub fn write_debug(d: &Debug, brps: usize, wrps: usize) {
    for n in 0..brps {
        dbg(0, n, false, d.bvr[n]);
        dbg(1, n, false, d.bcr[n]);
    }
    for n in 0..wrps {
        dbg(2, n, false, d.wvr[n]);
        dbg(3, n, false, d.wcr[n]);
    }
    wr!("mdscr_el1", d.mdscr);
}

/// The breakpoints and watchpoints ID_AA64DFR0_EL1 shows.
pub fn comparators() -> (usize, usize) {
    let dfr0 = rd!("id_aa64dfr0_el1");
    (
        ((dfr0 >> 12) & 0xF) as usize + 1,
        ((dfr0 >> 20) & 0xF) as usize + 1,
    )
}

/// Stores the CPU's FP/SIMD registers into `out` (one asm block: nothing else runs).
pub fn fp_store(out: &mut Fp) {
    // SAFETY: `out` is 16-byte aligned and 528 bytes long, all written below.
    unsafe {
        asm!(
            "stp q0, q1, [{p}, #0]", "stp q2, q3, [{p}, #32]",
            "stp q4, q5, [{p}, #64]", "stp q6, q7, [{p}, #96]",
            "stp q8, q9, [{p}, #128]", "stp q10, q11, [{p}, #160]",
            "stp q12, q13, [{p}, #192]", "stp q14, q15, [{p}, #224]",
            "stp q16, q17, [{p}, #256]", "stp q18, q19, [{p}, #288]",
            "stp q20, q21, [{p}, #320]", "stp q22, q23, [{p}, #352]",
            "stp q24, q25, [{p}, #384]", "stp q26, q27, [{p}, #416]",
            "stp q28, q29, [{p}, #448]", "stp q30, q31, [{p}, #480]",
            "mrs {t}, fpcr", "str {t}, [{p}, #512]",
            "mrs {t}, fpsr", "str {t}, [{p}, #520]",
            p = in(reg) out as *mut Fp, t = out(reg) _,
            options(nostack),
        );
    }
}

/// Loads `src` into the FP/SIMD registers, optionally raises vIRQ channel `raise`
/// (HVC VIRQ_RAISE), waits with IRQs masked until an interrupt is pending (WFI, then
/// ISR_EL1.I), and stores the FP/SIMD registers into `out` — all in one asm block, so
/// the registers hold exactly `src` while other VMs run on this CPU. The caller masks
/// IRQs first; the pending interrupt is taken once it unmasks them.
pub fn fp_load_wait_store(src: &Fp, out: &mut Fp, raise: Option<u64>) {
    let (do_raise, channel) = match raise {
        Some(c) => (1u64, c),
        None => (0, 0),
    };
    // SAFETY: `src` and `out` are 16-byte aligned 528-byte buffers; v0..v31 are
    // declared clobbered; the HVC follows SMCCC (x0..x3 results, x4..x17 clobbered).
    unsafe {
        asm!(
            "ldp q0, q1, [{s}, #0]", "ldp q2, q3, [{s}, #32]",
            "ldp q4, q5, [{s}, #64]", "ldp q6, q7, [{s}, #96]",
            "ldp q8, q9, [{s}, #128]", "ldp q10, q11, [{s}, #160]",
            "ldp q12, q13, [{s}, #192]", "ldp q14, q15, [{s}, #224]",
            "ldp q16, q17, [{s}, #256]", "ldp q18, q19, [{s}, #288]",
            "ldp q20, q21, [{s}, #320]", "ldp q22, q23, [{s}, #352]",
            "ldp q24, q25, [{s}, #384]", "ldp q26, q27, [{s}, #416]",
            "ldp q28, q29, [{s}, #448]", "ldp q30, q31, [{s}, #480]",
            "ldr x9, [{s}, #512]", "msr fpcr, x9",
            "ldr x9, [{s}, #520]", "msr fpsr, x9",
            "cbz {r}, 2f",
            "movz x0, #{fid_hi}, lsl #16",
            "movk x0, #{fid_lo}",
            "mov x1, {c}",
            "hvc #0",
            "2:",
            "wfi",
            "mrs x9, isr_el1",
            "tbz x9, #7, 2b",
            "stp q0, q1, [{o}, #0]", "stp q2, q3, [{o}, #32]",
            "stp q4, q5, [{o}, #64]", "stp q6, q7, [{o}, #96]",
            "stp q8, q9, [{o}, #128]", "stp q10, q11, [{o}, #160]",
            "stp q12, q13, [{o}, #192]", "stp q14, q15, [{o}, #224]",
            "stp q16, q17, [{o}, #256]", "stp q18, q19, [{o}, #288]",
            "stp q20, q21, [{o}, #320]", "stp q22, q23, [{o}, #352]",
            "stp q24, q25, [{o}, #384]", "stp q26, q27, [{o}, #416]",
            "stp q28, q29, [{o}, #448]", "stp q30, q31, [{o}, #480]",
            "mrs x9, fpcr", "str x9, [{o}, #512]",
            "mrs x9, fpsr", "str x9, [{o}, #520]",
            s = in(reg) src as *const Fp, o = in(reg) out as *mut Fp,
            r = in(reg) do_raise, c = in(reg) channel,
            fid_hi = const guest_rt::hypercall::fid::VIRQ_RAISE >> 16,
            fid_lo = const guest_rt::hypercall::fid::VIRQ_RAISE & 0xFFFF,
            out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _,
            out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
            out("x15") _, out("x16") _, out("x17") _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _,
            out("v5") _, out("v6") _, out("v7") _, out("v8") _, out("v9") _,
            out("v10") _, out("v11") _, out("v12") _, out("v13") _, out("v14") _,
            out("v15") _, out("v16") _, out("v17") _, out("v18") _, out("v19") _,
            out("v20") _, out("v21") _, out("v22") _, out("v23") _, out("v24") _,
            out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
            out("v30") _, out("v31") _,
            options(nostack),
        );
    }
}

/// Loads `src` into the FP/SIMD registers, makes hypercall `fid` with x1 = `x1` (HVC),
/// and stores the FP/SIMD registers into `out` — one asm block, so the registers hold
/// exactly `src` across the call (a big.LITTLE hint returns on another physical CPU: the
/// values must have moved with the vCPU). Returns x0. The caller masks IRQs first.
pub fn fp_load_call_store(src: &Fp, out: &mut Fp, fid: u64, x1: u64) -> u64 {
    let ret: u64;
    // SAFETY: `src` and `out` are 16-byte aligned 528-byte buffers; v0..v31 are
    // declared clobbered; the HVC follows SMCCC (x0..x3 results, x4..x17 clobbered).
    unsafe {
        asm!(
            "ldp q0, q1, [{s}, #0]", "ldp q2, q3, [{s}, #32]",
            "ldp q4, q5, [{s}, #64]", "ldp q6, q7, [{s}, #96]",
            "ldp q8, q9, [{s}, #128]", "ldp q10, q11, [{s}, #160]",
            "ldp q12, q13, [{s}, #192]", "ldp q14, q15, [{s}, #224]",
            "ldp q16, q17, [{s}, #256]", "ldp q18, q19, [{s}, #288]",
            "ldp q20, q21, [{s}, #320]", "ldp q22, q23, [{s}, #352]",
            "ldp q24, q25, [{s}, #384]", "ldp q26, q27, [{s}, #416]",
            "ldp q28, q29, [{s}, #448]", "ldp q30, q31, [{s}, #480]",
            "ldr x9, [{s}, #512]", "msr fpcr, x9",
            "ldr x9, [{s}, #520]", "msr fpsr, x9",
            "mov x0, {f}",
            "mov x1, {a}",
            "hvc #0",
            "stp q0, q1, [{o}, #0]", "stp q2, q3, [{o}, #32]",
            "stp q4, q5, [{o}, #64]", "stp q6, q7, [{o}, #96]",
            "stp q8, q9, [{o}, #128]", "stp q10, q11, [{o}, #160]",
            "stp q12, q13, [{o}, #192]", "stp q14, q15, [{o}, #224]",
            "stp q16, q17, [{o}, #256]", "stp q18, q19, [{o}, #288]",
            "stp q20, q21, [{o}, #320]", "stp q22, q23, [{o}, #352]",
            "stp q24, q25, [{o}, #384]", "stp q26, q27, [{o}, #416]",
            "stp q28, q29, [{o}, #448]", "stp q30, q31, [{o}, #480]",
            "mrs x9, fpcr", "str x9, [{o}, #512]",
            "mrs x9, fpsr", "str x9, [{o}, #520]",
            s = in(reg) src as *const Fp, o = in(reg) out as *mut Fp,
            f = in(reg) fid, a = in(reg) x1,
            out("x0") ret, out("x1") _, out("x2") _, out("x3") _, out("x4") _,
            out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
            out("x15") _, out("x16") _, out("x17") _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _,
            out("v5") _, out("v6") _, out("v7") _, out("v8") _, out("v9") _,
            out("v10") _, out("v11") _, out("v12") _, out("v13") _, out("v14") _,
            out("v15") _, out("v16") _, out("v17") _, out("v18") _, out("v19") _,
            out("v20") _, out("v21") _, out("v22") _, out("v23") _, out("v24") _,
            out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
            out("v30") _, out("v31") _,
            options(nostack),
        );
    }
    ret
}
