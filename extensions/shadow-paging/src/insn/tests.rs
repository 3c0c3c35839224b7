use super::*;

fn msr(reg: VReg, rt: u8) -> Option<SysInsn> {
    Some(SysInsn::Msr { reg, rt })
}
fn mrs(reg: VReg, rt: u8) -> Option<SysInsn> {
    Some(SysInsn::Mrs { reg, rt })
}
fn tlbi(op: TlbiKind, rt: u8) -> Option<SysInsn> {
    Some(SysInsn::Tlbi { op, rt })
}

#[test]
fn msr_and_mrs_of_the_four_registers_decode() {
    assert_eq!(decode_sys(0xd518_2000), msr(VReg::Ttbr0, 0)); // msr ttbr0_el1, x0
    assert_eq!(decode_sys(0xd538_2003), mrs(VReg::Ttbr0, 3)); // mrs x3, ttbr0_el1
    assert_eq!(decode_sys(0xd518_2045), msr(VReg::Tcr, 5)); // msr tcr_el1, x5
    assert_eq!(decode_sys(0xd538_205e), mrs(VReg::Tcr, 30)); // mrs x30, tcr_el1
    assert_eq!(decode_sys(0xd518_a201), msr(VReg::Mair, 1)); // msr mair_el1, x1
    assert_eq!(decode_sys(0xd538_a202), mrs(VReg::Mair, 2)); // mrs x2, mair_el1
    assert_eq!(decode_sys(0xd518_1000), msr(VReg::Sctlr, 0)); // msr sctlr_el1, x0
    assert_eq!(decode_sys(0xd538_1000), mrs(VReg::Sctlr, 0)); // mrs x0, sctlr_el1
}

#[test]
fn tlbis_decode_local_and_inner_shareable_alike() {
    assert_eq!(decode_sys(0xd508_871f), tlbi(TlbiKind::Vmalle1, 31)); // tlbi vmalle1
    assert_eq!(decode_sys(0xd508_831f), tlbi(TlbiKind::Vmalle1, 31)); // tlbi vmalle1is
    assert_eq!(decode_sys(0xd508_8720), tlbi(TlbiKind::Vae1, 0)); // tlbi vae1, x0
    assert_eq!(decode_sys(0xd508_8321), tlbi(TlbiKind::Vae1, 1)); // tlbi vae1is, x1
    assert_eq!(decode_sys(0xd508_8742), tlbi(TlbiKind::Aside1, 2)); // tlbi aside1, x2
    assert_eq!(decode_sys(0xd508_8763), tlbi(TlbiKind::Vaae1, 3)); // tlbi vaae1, x3
    assert_eq!(decode_sys(0xd508_87a4), tlbi(TlbiKind::Vale1, 4)); // tlbi vale1, x4
    assert_eq!(decode_sys(0xd508_87e5), tlbi(TlbiKind::Vaale1, 5)); // tlbi vaale1, x5
    assert_eq!(decode_sys(0xd508_83e6), tlbi(TlbiKind::Vaale1, 6)); // tlbi vaale1is, x6
}

#[test]
fn other_system_instructions_are_not_ours() {
    assert_eq!(decode_sys(0xd518_2020), None); // msr ttbr1_el1, x0
    assert_eq!(decode_sys(0xd50c_8720), None); // tlbi vae2, x0
    assert_eq!(decode_sys(0xd508_8700), None); // vmalle1 with Rt != 31 (sys #0, c8, c7, #0, x0)
    assert_eq!(decode_sys(0xd503_201f), None); // nop
    assert_eq!(decode_sys(0xf900_0001), None); // str x1, [x0]
}

#[test]
fn tlbi_operands_carry_asid_and_page() {
    let xt = (7u64 << 48) | 0x40_0000_1234 >> 12;
    assert_eq!(tlbi_op(TlbiKind::Vmalle1, 0), TlbiOp::All);
    assert_eq!(tlbi_op(TlbiKind::Aside1, xt), TlbiOp::Asid(7));
    let va = |all_asids, last_level| TlbiOp::Va {
        asid: 7,
        va: 0x40_0000_1000,
        all_asids,
        last_level,
    };
    assert_eq!(tlbi_op(TlbiKind::Vae1, xt), va(false, false));
    assert_eq!(tlbi_op(TlbiKind::Vale1, xt), va(false, true));
    assert_eq!(tlbi_op(TlbiKind::Vaae1, xt), va(true, false));
    assert_eq!(tlbi_op(TlbiKind::Vaale1, xt), va(true, true));
}

fn st(bytes: u8, rt: u8, rt2: Option<u8>, base: u8, addressing: Addressing) -> Option<Store> {
    Some(Store {
        bytes,
        rt,
        rt2,
        base,
        addressing,
    })
}

#[test]
fn single_register_stores_decode() {
    use Addressing::*;
    assert_eq!(decode_store(0xf900_0001), st(8, 1, None, 0, Offset(0))); // str x1, [x0]
    assert_eq!(decode_store(0xb900_0401), st(4, 1, None, 0, Offset(4))); // str w1, [x0, #4]
    assert_eq!(decode_store(0x3900_0401), st(1, 1, None, 0, Offset(1))); // strb w1, [x0, #1]
    assert_eq!(decode_store(0x7900_0401), st(2, 1, None, 0, Offset(2))); // strh w1, [x0, #2]
    assert_eq!(decode_store(0xf93f_ffe2), st(8, 2, None, 31, Offset(32760))); // str x2, [sp, #32760]
    assert_eq!(decode_store(0xf81f_8001), st(8, 1, None, 0, Offset(-8))); // stur x1, [x0, #-8]
    assert_eq!(decode_store(0xf800_8c01), st(8, 1, None, 0, PreIndex(8))); // str x1, [x0, #8]!
    assert_eq!(decode_store(0xf800_8401), st(8, 1, None, 0, PostIndex(8))); // str x1, [x0], #8
    assert_eq!(decode_store(0x381f_fc83), st(1, 3, None, 4, PreIndex(-1))); // strb w3, [x4, #-1]!
    assert_eq!(decode_store(0xf800_8801), st(8, 1, None, 0, Offset(8))); // sttr x1, [x0, #8]
    assert_eq!(decode_store(0xc89f_fc01), st(8, 1, None, 0, Offset(0))); // stlr x1, [x0]
    assert_eq!(decode_store(0x889f_fc01), st(4, 1, None, 0, Offset(0))); // stlr w1, [x0]
}

#[test]
fn register_offset_stores_decode() {
    let reg = |rm, extend, shift| Addressing::Register { rm, extend, shift };
    // str x1, [x0, x2]
    assert_eq!(
        decode_store(0xf822_6801),
        st(8, 1, None, 0, reg(2, Extend::Lsl, 0))
    );
    // str x1, [x0, x2, lsl #3]
    assert_eq!(
        decode_store(0xf822_7801),
        st(8, 1, None, 0, reg(2, Extend::Lsl, 3))
    );
    // str w1, [x0, w2, uxtw #2]
    assert_eq!(
        decode_store(0xb822_5801),
        st(4, 1, None, 0, reg(2, Extend::Uxtw, 2))
    );
    // str x1, [x0, w2, sxtw]
    assert_eq!(
        decode_store(0xf822_c801),
        st(8, 1, None, 0, reg(2, Extend::Sxtw, 0))
    );
    // strh w1, [x0, x2, sxtx #1]
    assert_eq!(
        decode_store(0x7822_f801),
        st(2, 1, None, 0, reg(2, Extend::Sxtx, 1))
    );
    // strb w1, [x0, x2, lsl #0]
    assert_eq!(
        decode_store(0x3822_7801),
        st(1, 1, None, 0, reg(2, Extend::Lsl, 0))
    );
}

#[test]
fn pair_stores_decode() {
    use Addressing::*;
    assert_eq!(decode_store(0xa900_0801), st(8, 1, Some(2), 0, Offset(0))); // stp x1, x2, [x0]
    assert_eq!(
        decode_store(0xa981_0801),
        st(8, 1, Some(2), 0, PreIndex(16))
    ); // stp x1, x2, [x0, #16]!
    assert_eq!(
        decode_store(0xa8bf_0801),
        st(8, 1, Some(2), 0, PostIndex(-16))
    ); // stp x1, x2, [x0], #-16
    assert_eq!(decode_store(0x2901_0801), st(4, 1, Some(2), 0, Offset(8))); // stp w1, w2, [x0, #8]
    assert_eq!(decode_store(0xa800_0801), st(8, 1, Some(2), 0, Offset(0))); // stnp x1, x2, [x0]
    assert_eq!(
        decode_store(0xa9a0_7fff),
        st(8, 31, Some(31), 31, PreIndex(-512))
    ); // stp xzr, xzr, [sp, #-512]!
}

#[test]
fn loads_and_simd_stores_are_not_decoded() {
    assert_eq!(decode_store(0xf940_0001), None); // ldr x1, [x0]
    assert_eq!(decode_store(0x3d80_0000), None); // str q0, [x0]
    assert_eq!(decode_store(0xad00_0400), None); // stp q0, q1, [x0]
    assert_eq!(decode_store(0xa940_0801), None); // ldp x1, x2, [x0]
    assert_eq!(decode_store(0xd518_2000), None); // msr ttbr0_el1, x0
}

#[test]
fn addresses_and_writeback() {
    let regs = |r: u8| match r {
        0 => 0x1000,
        2 => 0xFFFF_FFFF_FFFF_FFF8, // -8 as X, 0xFFFF_FFF8 as W
        _ => 0xAAAA_BBBB_CCCC_DDDD,
    };
    let a = |insn| decode_store(insn).unwrap().address(regs, 0x8000);
    assert_eq!(a(0xf900_0001), (0x1000, None)); // str x1, [x0]
    assert_eq!(a(0xf81f_8001), (0xFF8, None)); // stur x1, [x0, #-8]
    assert_eq!(a(0xf800_8c01), (0x1008, Some(0x1008))); // str x1, [x0, #8]!
    assert_eq!(a(0xf800_8401), (0x1000, Some(0x1008))); // str x1, [x0], #8
    assert_eq!(a(0xf93f_ffe2), (0x8000 + 32760, None)); // str x2, [sp, #32760]
    assert_eq!(a(0xf822_7801), (0x1000 - 64, None)); // str x1, [x0, x2, lsl #3]
    assert_eq!(a(0xb822_5801), (0x1000 + 0xFFFF_FFF8 * 4, None)); // str w1, [x0, w2, uxtw #2]
    assert_eq!(a(0xf822_c801), (0x1000 - 8, None)); // str x1, [x0, w2, sxtw]
    assert_eq!(a(0xa8bf_0801), (0x1000, Some(0x1000 - 16))); // stp x1, x2, [x0], #-16
    assert_eq!(a(0xa9a0_7fff), (0x8000 - 512, Some(0x8000 - 512))); // stp xzr, xzr, [sp, #-512]!
}

#[test]
fn values_are_truncated_and_xzr_is_zero() {
    let regs = |r: u8| 0x1122_3344_5566_7700 | r as u64;
    let pieces = |insn| decode_store(insn).unwrap().values(regs);
    assert_eq!(
        pieces(0xf900_0001),
        [Some((0x1122_3344_5566_7701, 8)), None]
    ); // str x1, [x0]
    assert_eq!(pieces(0xb900_0401), [Some((0x5566_7701, 4)), None]); // str w1, [x0, #4]
    assert_eq!(pieces(0x7900_0401), [Some((0x7701, 2)), None]); // strh w1, [x0, #2]
    assert_eq!(pieces(0x381f_fc83), [Some((0x03, 1)), None]); // strb w3, [x4, #-1]!
    assert_eq!(
        pieces(0x2901_0801), // stp w1, w2, [x0, #8]
        [Some((0x5566_7701, 4)), Some((0x5566_7702, 4))]
    );
    assert_eq!(pieces(0xa9a0_7fff), [Some((0, 8)), Some((0, 8))]); // stp xzr, xzr, [sp, #-512]!
}
