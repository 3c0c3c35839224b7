//! Tests of the trap decoder with ESR values built from the Arm ARM encodings (and a few
//! seen in the wild, e.g. Linux's "ESR = 0x96000045" oops).

use super::inject::{GuestException, GuestState, VectorSource, entry_pstate, esr_for, inject};
use super::*;

fn dec(esr: u64) -> Trap {
    Trap::decode(esr, 0, 0)
}

#[test]
fn esr_fields() {
    let e = Esr(0x0000_00AB_5A00_1234);
    assert_eq!(e.ec(), 0x16);
    assert!(e.il());
    assert_eq!(e.iss(), 0x1234);
    assert_eq!(e.iss2(), 0xAB);
    assert_eq!(e.instr_len(), 4);
    assert_eq!(Esr(0x5800_0000).instr_len(), 2);
}

#[test]
fn hvc_and_smc() {
    // HVC #0 from AArch64: EC 0x16, IL 1.
    assert_eq!(dec(0x5A00_0000), Trap::Hvc { imm: 0 });
    assert_eq!(dec(0x5A00_1234), Trap::Hvc { imm: 0x1234 });
    // SMC #0: EC 0x17.
    assert_eq!(dec(0x5E00_0000), Trap::Smc { imm: 0 });
    assert_eq!(dec(0x5E00_FFFF), Trap::Smc { imm: 0xFFFF });
    // HVC needs no advance (ELR already past it), SMC does.
    assert_eq!(dec(0x5A00_0000).pc_advance(0x5A00_0000), 0);
    assert_eq!(dec(0x5E00_0000).pc_advance(0x5E00_0000), 4);
}

#[test]
fn wfx() {
    assert_eq!(
        dec(0x0600_0000),
        Trap::Wfx {
            wfe: false,
            timeout: false
        }
    );
    assert_eq!(
        dec(0x0600_0001),
        Trap::Wfx {
            wfe: true,
            timeout: false
        }
    );
    // WFET (TI = 0b11), with RV and the register field set.
    assert_eq!(
        dec(0x0600_0027),
        Trap::Wfx {
            wfe: true,
            timeout: true
        }
    );
    assert_eq!(dec(0x0600_0000).pc_advance(0x0600_0000), 4);
}

#[test]
fn data_abort_store_word() {
    // str w1, [x0] to an unmapped IPA, stage-2 translation fault level 3:
    // ISV=1, SAS=2, SRT=1, WnR=1, DFSC=0x07.
    let esr = 0x9381_0047;
    let far = 0xFFFF_0000_1234_5018;
    let hpfar = 0x0009_0000; // FIPA 0x9000 => IPA page 0x0900_0000
    let Trap::DataAbort(da) = Trap::decode(esr, far, hpfar) else {
        panic!("not a data abort")
    };
    assert!(da.from_lower_el && da.isv && da.wnr && !da.sse && !da.sf && !da.s1ptw);
    assert_eq!((da.sas, da.size(), da.srt, da.dfsc), (2, 4, 1, 0x07));
    assert_eq!(da.status(), FaultStatus::Translation(3));
    assert_eq!(da.ipa, 0x0900_0018);
    let m = da.mmio().unwrap();
    assert_eq!(
        m,
        MmioAccess {
            ipa: 0x0900_0018,
            size: 4,
            write: true,
            reg: 1,
            sign_extend: false,
            sixty_four: false
        }
    );
    assert_eq!(m.store_value(0xDEAD_BEEF_CAFE_F00D), 0xCAFE_F00D);
    assert_eq!(Trap::decode(esr, far, hpfar).pc_advance(esr), 4);
}

#[test]
fn data_abort_load_dword() {
    // ldr x0, [xN]: ESR 0x93C08007 (ISV, SAS=3, SF, DFSC translation L3).
    let Trap::DataAbort(da) = Trap::decode(0x93C0_8007, 0x8_0000_0008, 0x80_0000) else {
        panic!()
    };
    let m = da.mmio().unwrap();
    assert_eq!((m.size, m.write, m.reg, m.sixty_four), (8, false, 0, true));
    assert_eq!(m.ipa, 0x8000_0008);
    assert_eq!(m.load_value(u64::MAX), u64::MAX);
}

#[test]
fn data_abort_same_el_linux_oops() {
    // The classic "ESR = 0x96000045": EC 0x25, WnR, translation fault level 1, no ISV.
    let Trap::DataAbort(da) = dec(0x9600_0045) else {
        panic!()
    };
    assert!(!da.from_lower_el && !da.isv && da.wnr);
    assert_eq!(da.status(), FaultStatus::Translation(1));
    assert_eq!(da.mmio(), None);
}

#[test]
fn data_abort_not_emulatable() {
    let base = 0x9381_0047u64;
    for bit in [7, 8, 10] {
        let Trap::DataAbort(da) = dec(base | 1 << bit) else {
            panic!()
        };
        assert_eq!(da.mmio(), None, "bit {bit}");
    }
    let Trap::DataAbort(da) = dec(base | 1 << 7) else {
        panic!()
    };
    assert!(da.s1ptw);
}

#[test]
fn hpfar_ns_bit_and_wide_fipa() {
    assert_eq!(fault_ipa(0xABC, 1 << 63 | 0x10), 0x1ABC);
    // FIPA up to bit 47 of HPFAR (IPA bit 51 with FEAT_LPA).
    assert_eq!(fault_ipa(0, 0x0000_8000_0000_0000), 1 << 55);
    assert_eq!(fault_ipa(0, 0x0000_0FFF_FFFF_FFF0), 0x000F_FFFF_FFFF_F000);
}

#[test]
fn load_value_extension() {
    let mut m = MmioAccess {
        ipa: 0,
        size: 1,
        write: false,
        reg: 0,
        sign_extend: true,
        sixty_four: false,
    };
    // ldrsb w0
    assert_eq!(m.load_value(0x80), 0xFFFF_FF80);
    assert_eq!(m.load_value(0x17F), 0x7F);
    // ldrsb x0
    m.sixty_four = true;
    assert_eq!(m.load_value(0x80), 0xFFFF_FFFF_FFFF_FF80);
    // ldrsh x0
    m.size = 2;
    assert_eq!(m.load_value(0x8000), 0xFFFF_FFFF_FFFF_8000);
    // ldrsw x0
    m.size = 4;
    assert_eq!(m.load_value(0x8000_0000), 0xFFFF_FFFF_8000_0000);
    // ldr w0
    m.sign_extend = false;
    m.sixty_four = false;
    assert_eq!(m.load_value(0x1_2345_6789), 0x2345_6789);
    // store from wzr
    m.reg = 31;
    m.write = true;
    assert_eq!(m.store_value(0x1234), 0);
}

#[test]
fn fault_status_roundtrip() {
    for code in 0u8..64 {
        let fs = FaultStatus::decode(code);
        assert_eq!(fs.code(), code, "{fs:?}");
    }
    assert_eq!(FaultStatus::decode(0x10), FaultStatus::SyncExternal);
    assert_eq!(FaultStatus::decode(0x2B), FaultStatus::Translation(-1));
    assert_eq!(FaultStatus::decode(0x0D), FaultStatus::Permission(1));
    assert_eq!(FaultStatus::decode(0x0A), FaultStatus::AccessFlag(2));
    assert_eq!(FaultStatus::decode(0x21), FaultStatus::Alignment);
    assert_eq!(FaultStatus::decode(0x16), FaultStatus::SyncExternalWalk(2));
}

#[test]
fn instruction_abort() {
    // Instruction abort from lower EL, translation fault level 2.
    let Trap::InstructionAbort(ia) = Trap::decode(0x8200_0006, 0x4000_1234, 0x40_0100) else {
        panic!()
    };
    assert!(ia.from_lower_el && !ia.s1ptw && !ia.fnv);
    assert_eq!(ia.status(), FaultStatus::Translation(2));
    assert_eq!(ia.ipa, 0x4001_0234);
    assert_eq!(Trap::decode(0x8200_0006, 0, 0).pc_advance(0x8200_0006), 0);
    let Trap::InstructionAbort(ia) = dec(0x8600_0010) else {
        panic!()
    };
    assert!(!ia.from_lower_el);
}

#[test]
fn sysreg_icc_sgi1r_write() {
    // msr ICC_SGI1R_EL1, x1: Op0=3 Op2=5 Op1=0 CRn=12 Rt=1 CRm=11 dir=0.
    let esr = 0x623A_3036;
    let Trap::SysReg(a) = dec(esr) else { panic!() };
    assert_eq!(a.reg, SysReg::ICC_SGI1R_EL1);
    assert_eq!((a.rt, a.read), (1, false));
    assert!(a.is_icc_sgi1r_write() && a.is_sgi_generation());
    assert!(a.reg.is_gic_cpu_interface());
    assert_eq!(a.reg.name(), Some("ICC_SGI1R_EL1"));
    assert_eq!(a.to_iss(), 0x3A_3036);
    assert_eq!(dec(esr).pc_advance(esr), 4);
}

#[test]
fn sysreg_other() {
    // mrs x2, ID_AA64PFR0_EL1 (TID3 trap).
    let Trap::SysReg(a) = dec(0x6230_0049) else {
        panic!()
    };
    assert_eq!(a.reg, SysReg::ID_AA64PFR0_EL1);
    assert!(a.read && a.rt == 2 && a.reg.is_id_register());
    assert!(!a.is_icc_sgi1r_write());
    // dc isw, x3 (TSW trap).
    let Trap::SysReg(a) = dec(0x6214_1C6C) else {
        panic!()
    };
    assert_eq!(a.reg, SysReg::DC_ISW);
    assert!(a.reg.is_set_way_op() && !a.read && a.rt == 3);
    // A read of SGI1R is not SGI generation.
    let Trap::SysReg(a) = dec(0x623A_3037) else {
        panic!()
    };
    assert!(!a.is_icc_sgi1r_write());
    assert!(SysReg::ICC_PMR_EL1.is_gic_cpu_interface());
    assert!(!SysReg::SCTLR_EL1.is_gic_cpu_interface());
    assert_eq!(SysReg::new(3, 7, 15, 15, 7).name(), None);
}

#[test]
fn sysreg_iss_roundtrip() {
    for (reg, _) in SysReg::KNOWN {
        for read in [false, true] {
            let a = SysRegAccess {
                reg: *reg,
                rt: 30,
                read,
            };
            assert_eq!(SysRegAccess::from_iss(a.to_iss()), a);
        }
    }
}

#[test]
fn other_classes() {
    assert_eq!(dec(0x1E00_0000), Trap::FpAccess);
    assert_eq!(dec(0x0200_0000), Trap::Unknown);
    assert_eq!(dec(0x5600_0000), Trap::Other { ec: 0x15, iss: 0 });
    assert_eq!(dec(0xBE00_0000), Trap::Other { ec: 0x2F, iss: 0x0 });
    assert_eq!(dec(0x5600_0000).pc_advance(0x5600_0000), 0);
}

#[test]
fn decode_total() {
    // Never panics, whatever the bits.
    let mut x = 0x1234_5678_9ABC_DEF0u64;
    for _ in 0..10_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = Trap::decode(x, x.rotate_left(7), x.rotate_left(13));
        let _ = t.pc_advance(x);
    }
}

#[test]
fn vector_source() {
    assert_eq!(VectorSource::from_spsr(0x3C5), VectorSource::CurrentElSpx);
    assert_eq!(VectorSource::from_spsr(0x3C4), VectorSource::CurrentElSp0);
    assert_eq!(VectorSource::from_spsr(0x0), VectorSource::LowerElAarch64);
    assert_eq!(VectorSource::from_spsr(0x10), VectorSource::LowerElAarch32);
    assert_eq!(VectorSource::CurrentElSp0.sync_offset(), 0x000);
    assert_eq!(VectorSource::CurrentElSpx.sync_offset(), 0x200);
    assert_eq!(VectorSource::LowerElAarch64.sync_offset(), 0x400);
    assert_eq!(VectorSource::LowerElAarch32.sync_offset(), 0x600);
}

#[test]
fn inject_esr_values() {
    let sea = GuestException::DataAbort {
        status: FaultStatus::SyncExternal,
        far: 0x1000,
        write: false,
    };
    // From EL1: "current EL" data abort, EC 0x25, IL 1.
    assert_eq!(esr_for(sea, VectorSource::CurrentElSpx), 0x9600_0010);
    // From EL0: "lower EL" data abort, EC 0x24.
    assert_eq!(esr_for(sea, VectorSource::LowerElAarch64), 0x9200_0010);
    let tf_write = GuestException::DataAbort {
        status: FaultStatus::Translation(3),
        far: 0,
        write: true,
    };
    assert_eq!(esr_for(tf_write, VectorSource::CurrentElSpx), 0x9600_0047);
    assert_eq!(
        esr_for(GuestException::Undefined, VectorSource::CurrentElSpx),
        0x0200_0000
    );
    let ia = GuestException::InstructionAbort {
        status: FaultStatus::Translation(2),
        far: 0,
    };
    assert_eq!(esr_for(ia, VectorSource::LowerElAarch64), 0x8200_0006);
    assert_eq!(esr_for(ia, VectorSource::CurrentElSp0), 0x8600_0006);
}

#[test]
fn inject_full() {
    let guest = GuestState {
        spsr: 0x6000_03C5,
        elr: 0xFFFF_8000_0010_0000,
        vbar_el1: 0xFFFF_8000_0000_0800,
        sctlr_el1: 0,
    };
    let sea = GuestException::DataAbort {
        status: FaultStatus::SyncExternal,
        far: 0x0900_1000,
        write: true,
    };
    let inj = inject(sea, guest);
    assert_eq!(inj.esr_el1, 0x9600_0050);
    assert_eq!(inj.far_el1, Some(0x0900_1000));
    assert_eq!(inj.elr_el1, guest.elr);
    assert_eq!(inj.spsr_el1, guest.spsr);
    assert_eq!(inj.new_pc, 0xFFFF_8000_0000_0A00);
    // EL1h, DAIF masked, PAN set (SPAN = 0).
    assert_eq!(inj.new_spsr, 0x0040_03C5);

    let user = GuestState {
        spsr: 0,
        sctlr_el1: 1 << 23 | 1 << 44,
        ..guest
    };
    let inj = inject(GuestException::Undefined, user);
    assert_eq!(inj.far_el1, None);
    assert_eq!(inj.new_pc, 0xFFFF_8000_0000_0C00);
    // SPAN = 1 keeps PAN (clear here), DSSBS = 1 sets SSBS.
    assert_eq!(inj.new_spsr, 0x13C5);
    assert_eq!(entry_pstate(1 << 22, 1 << 23) & (1 << 22), 1 << 22);
}
