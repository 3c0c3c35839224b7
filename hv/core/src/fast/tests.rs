use super::*;
use crate::psci::{PsciDecision, fid as psci};
use crate::vgic::dist::{IIDR_VALUE, PIDR2_GICV3, gicd_typer};
use crate::vgic::{Vgic, dist};

/// ESR of `HVC #imm` from AArch64.
fn hvc(imm: u16) -> u64 {
    (0x16 << 26) | (1 << 25) | u64::from(imm)
}

/// ESR of an MSR (write) to the system register op0/op1/CRn/CRm/op2 from Rt `rt`.
fn msr(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32, rt: u32) -> u64 {
    let iss = (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) | (crm << 1);
    (0x18 << 26) | (1 << 25) | u64::from(iss)
}

/// ICC_SGI1R_EL1 is op0 3, op1 0, CRn 12, CRm 11, op2 5.
fn sgi1r(rt: u32) -> u64 {
    msr(3, 0, 12, 11, 5, rt)
}

fn regs(x0: u64, x1: u64) -> [u64; 31] {
    let mut x = [0xdead_0000; 31];
    x[0] = x0;
    x[1] = x1;
    x
}

const INFO: [u64; 4] = [2, 1, 0x4000_0000, 0x80_0000];
const GICD: u64 = 0x0800_0000;

fn facts() -> VmFacts {
    VmFacts {
        info: INFO,
        gicd_ipa: GICD,
        gicd_typer: gicd_typer(Some(40), 2),
    }
}

fn run(esr: u64, x: &[u64; 31]) -> Option<Fast> {
    let t = Syndrome {
        esr,
        addresses: || panic!("FAR/HPFAR read for a trap that is no data abort"),
    };
    decide(t, x, 0x3c5, facts)
}

/// A data abort from AArch64 code with PSTATE `spsr` on `ipa`: a load (or store) of
/// `size` bytes into (from) register `rt`, sign-extending or not, into an X or W register.
fn load(ipa: u64, size: u8, rt: u8, sse: bool, sf: bool, write: bool, spsr: u64) -> Option<Fast> {
    let sas = size.trailing_zeros();
    let iss = (1 << 24)
        | (sas << 22)
        | (u32::from(sse) << 21)
        | (u32::from(rt) << 16)
        | (u32::from(sf) << 15)
        | (u32::from(write) << 6)
        | 0x07; // translation fault, level 3
    let esr = (0x24 << 26) | (1 << 25) | u64::from(iss);
    let t = Syndrome {
        esr,
        addresses: || (0xffff_0000_0000_0000 | (ipa & 0xfff), (ipa >> 12) << 4),
    };
    decide(t, &regs(0, 0), spsr, facts)
}

#[test]
fn constant_calls_get_the_psci_models_answer() {
    let mut model = PsciVm::<2>::new(&[0, 1], 0x4000_0000, 0x80_0000).unwrap();
    let calls: &[(u32, u64)] = &[
        (psci::VERSION, 0),
        (psci::MIGRATE_INFO_TYPE, 0),
        (psci::FEATURES, u64::from(psci::CPU_ON)),
        (psci::FEATURES, u64::from(psci::SYSTEM_RESET2)),
        (psci::FEATURES, 0x1234),
        (0x8000_0000, 0),                       // SMCCC_VERSION
        (0x8000_0001, 0x8000_0000),             // ARCH_FEATURES(SMCCC_VERSION)
        (0x8000_0001, 0x8000_7FFF),             // ARCH_FEATURES(WORKAROUND_3)
        (0x8000_0001, u64::from(fid::VM_INFO)), // a project call
        (0x8000_0001, 0xC600_00FF),             // an unknown one
    ];
    for &(f, arg) in calls {
        let x = regs(u64::from(f), arg);
        let want = match model.handle(0, [x[0], x[1], x[2], x[3]]) {
            PsciDecision::Reply(r) => r as u64,
            other => panic!("{f:#x}: the model decides {other:?}"),
        };
        assert_eq!(run(hvc(0), &x), Some(Fast::X0(want)), "{f:#x}({arg:#x})");
    }
}

#[test]
fn calls_with_effects_or_state_go_to_the_run_loop() {
    for f in [
        psci::CPU_ON,
        psci::CPU_ON | psci::SMC64,
        psci::CPU_OFF,
        psci::CPU_SUSPEND,
        psci::AFFINITY_INFO,
        psci::SYSTEM_OFF,
        psci::SYSTEM_RESET,
        psci::SYSTEM_RESET2,
        fid::VIRQ_RAISE,
        fid::WAIT_EVENT,
        fid::CONSOLE_WRITE,
        fid::BALLOON_INFO,
        fid::VM_STATE,
    ] {
        assert_eq!(run(hvc(0), &regs(u64::from(f), 0)), None, "{f:#x}");
    }
}

#[test]
fn vm_info_in_both_calling_conventions() {
    for f in [fid::VM_INFO, fid::VM_INFO & !(1 << 30)] {
        assert_eq!(run(hvc(0), &regs(u64::from(f), 0)), Some(Fast::VmInfo));
    }
    // w0 is the function ID: bits above it do not matter (SMCCC)
    let x = regs((0xffff_ffff << 32) | u64::from(fid::VM_INFO), 0);
    assert_eq!(run(hvc(0), &x), Some(Fast::VmInfo));
}

#[test]
fn only_hvc_0_from_aarch64() {
    let x = regs(u64::from(psci::VERSION), 0);
    assert_eq!(run(hvc(1), &x), None, "HVC #1 is UNDEFINED to the guest");
    // SMC #0 (EC 0x17): its return address needs stepping, left to the run loop
    assert_eq!(run((0x17 << 26) | (1 << 25), &x), None);
    // HVC from AArch32 (EC 0x12)
    assert_eq!(run((0x12 << 26) | (1 << 25), &x), None);
}

#[test]
fn sgi1r_write_with_no_target_is_stepped_over() {
    let mut x = regs(0, 0);
    x[5] = 3 << 24; // SGI 3, empty target list
    assert_eq!(run(sgi1r(5), &x), Some(Fast::Skip));
    // XZR: an all-zero value, no target either
    assert_eq!(run(sgi1r(31), &x), Some(Fast::Skip));
    // a target, or every PE but the sender (IRM): an SGI is sent
    x[5] = (3 << 24) | 1;
    assert_eq!(run(sgi1r(5), &x), None);
    x[5] = (3 << 24) | (1 << 40);
    assert_eq!(run(sgi1r(5), &x), None);
}

#[test]
fn other_system_registers_go_to_the_run_loop() {
    let x = regs(0, 0);
    // ICC_SGI0R_EL1 (op2 7) and ICC_ASGI1R_EL1 (op2 6): other groups
    assert_eq!(run(msr(3, 0, 12, 11, 7, 0), &x), None);
    assert_eq!(run(msr(3, 0, 12, 11, 6, 0), &x), None);
    // a read of ICC_SGI1R_EL1 (write-only): the run loop makes it UNDEFINED
    assert_eq!(run(sgi1r(0) | 1, &x), None);
    // SCTLR_EL1
    assert_eq!(run(msr(3, 0, 1, 0, 0, 0), &x), None);
}

#[test]
fn constant_distributor_words_are_the_models() {
    let mut model = Vgic::<2, 2>::new(&[0, 1], &[33, 40]).unwrap();
    assert_eq!(facts().gicd_typer, model.gicd_typer());
    for off in [dist::TYPER, dist::IIDR, dist::PIDR2] {
        let want = model.gicd_read(off, 4);
        let got = load(GICD + off, 4, 7, false, false, false, 0x3c5);
        assert_eq!(
            got,
            Some(Fast::Load {
                reg: 7,
                value: want
            }),
            "{off:#x}"
        );
    }
    assert_eq!(
        load(GICD + dist::IIDR, 4, 3, false, true, false, 0x3c5),
        Some(Fast::Load {
            reg: 3,
            value: u64::from(IIDR_VALUE)
        })
    );
    // into XZR: the value is read and dropped
    assert_eq!(
        load(GICD + dist::PIDR2, 4, 31, false, false, false, 0x3c5),
        Some(Fast::Load {
            reg: 31,
            value: u64::from(PIDR2_GICV3)
        })
    );
}

#[test]
fn other_distributor_accesses_go_to_the_run_loop() {
    let aarch64 = 0x3c5;
    // registers with state, stores, other sizes
    assert_eq!(load(GICD, 4, 1, false, false, false, aarch64), None, "CTLR");
    assert_eq!(load(GICD + 0x104, 4, 1, false, false, false, aarch64), None);
    assert_eq!(
        load(GICD + dist::TYPER, 4, 1, false, false, true, aarch64),
        None
    );
    assert_eq!(
        load(GICD + dist::TYPER, 1, 1, false, false, false, aarch64),
        None
    );
    assert_eq!(
        load(GICD + dist::TYPER, 2, 1, false, false, false, aarch64),
        None
    );
    // another device's window at the same offset
    assert_eq!(
        load(
            0x0900_0000 + dist::TYPER,
            4,
            1,
            false,
            false,
            false,
            aarch64
        ),
        None
    );
    // AArch32 code (SPSR_EL2.M[4] set): the run loop steps its ITSTATE
    assert_eq!(
        load(GICD + dist::TYPER, 4, 1, false, false, false, 0x1d3),
        None
    );
}

#[test]
fn the_vectors_filter_offers_exactly_what_decide_may_answer() {
    // Any Rt: the mask the vector applies leaves the one pattern.
    for rt in 0..31 {
        assert_eq!(sgi1r(rt) as u32 & !0x3e0, SGI1R_MSR);
    }
    // Other system registers do not match it (ICC_SGI0R, ICC_ASGI1R, an MRS of SGI1R).
    assert_ne!(msr(3, 0, 12, 11, 7, 0) as u32 & !0x3e0, SGI1R_MSR);
    assert_ne!(msr(3, 0, 12, 11, 6, 0) as u32 & !0x3e0, SGI1R_MSR);
    assert_ne!((sgi1r(0) | 1) as u32 & !0x3e0, SGI1R_MSR);
    // Every class decide answers is offered.
    for esr in [hvc(0), sgi1r(3)] {
        assert_ne!(OFFERED & (1 << (esr >> 26)), 0);
    }
    assert_ne!(OFFERED & (1 << 0x24), 0);
    assert_eq!(OFFERED & (1 << 0x01), 0, "WFI/WFE are never offered");
    // The distributor's first page, as HPFAR_EL2 reports a fault in it.
    assert_eq!(hpfar_of(GICD + 4), 0x0008_0000);
    assert_eq!(hpfar_of(GICD), hpfar_of(GICD + 0xfff));
    assert_ne!(hpfar_of(GICD), hpfar_of(GICD + 0x1000));
}

#[test]
fn the_hvc_pre_check_lets_through_every_constant_call_and_only_answers_as_the_model() {
    let mut model = PsciVm::<2>::new(&[0, 1], 0x4000_0000, 0x80_0000).unwrap();
    for owner in 0..64u32 {
        for conv in [0, psci::SMC64] {
            for func in (0..40).chain([0xFF, 0x7FFF, 0xFFFF, 0x1_0000, 0xFF_0000]) {
                let f = 0x8000_0000 | conv | (owner << 24) | func;
                let x = regs(u64::from(f), u64::from(psci::CPU_ON));
                let constant = PsciVm::<1>::constant_reply([x[0], x[1], x[2], x[3]]);
                let info = f | (1 << 30) == fid::VM_INFO;
                let pass = may_answer_hvc(hvc(0), x[0]);
                assert_eq!(pass, constant.is_some() || info, "{f:#x}");
                assert_eq!(decide_hvc(hvc(0), &x).is_some(), pass, "{f:#x}");
                if pass && !info {
                    let want = match model.handle(0, [x[0], x[1], x[2], x[3]]) {
                        PsciDecision::Reply(r) => r as u64,
                        other => panic!("{f:#x}: the model decides {other:?}"),
                    };
                    assert_eq!(decide_hvc(hvc(0), &x), Some(Fast::X0(want)), "{f:#x}");
                }
            }
        }
    }
}
