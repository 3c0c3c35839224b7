//! ICC_SGI1R_EL1 decoding and SGI delivery tests (IHI 0069, ICC_SGI1R_EL1).

use super::super::sgi::SgiRequest;
use super::*;
use crate::trap::{SysReg, Trap};

#[test]
fn decode_fields() {
    // INTID 5, Aff3 0x12, Aff2 0x34, Aff1 0x56, RS 2, TargetList 0x8001, IRM 0.
    let v = 0x0012_2034_0556_8001;
    let r = SgiRequest::decode(v);
    assert_eq!(r.intid, 5);
    assert!(!r.broadcast);
    assert_eq!(r.aff_hi, 0x12_0034_5600);
    assert_eq!(r.rs, 2);
    assert_eq!(r.target_list, 0x8001);
    assert_eq!(r.encode(), v);
    assert!(SgiRequest::decode(1 << 40).broadcast);
}

#[test]
fn target_list() {
    let mut g = vgic();
    // From vCPU 0: SGI 5 to Aff0 1 and 2 in cluster 0.
    let set = g.send_sgi(0, 5 << 24 | 0b0110);
    assert_eq!(set, 0b0110);
    assert_eq!(g.private_block(1).latch, 1 << 5);
    assert_eq!(g.private_block(2).latch, 1 << 5);
    assert_eq!(g.private_block(0).latch, 0);
    // Cluster 1 (Aff1 = 1), Aff0 0: vCPU 3.
    assert_eq!(g.send_sgi(0, 1 << 16 | 3 << 24 | 1), 0b1000);
    assert_eq!(g.private_block(3).latch, 1 << 3);
    // Sending to oneself works.
    assert_eq!(g.send_sgi(2, 2 << 24 | 0b0100), 0b0100);
    // RS = 1: Aff0 16.. names nobody here.
    assert_eq!(g.send_sgi(0, 1 << 44 | 0xFFFF), 0);
    // Nonexistent Aff0 values are ignored, existing ones still get it.
    assert_eq!(g.send_sgi(0, 0xFFF0 | 0b1), 0b1);
    // Wrong Aff2/Aff3: nobody.
    assert_eq!(g.send_sgi(0, 1 << 32 | 0xF), 0);
    assert_eq!(g.send_sgi(0, 1 << 48 | 0xF), 0);
}

#[test]
fn broadcast_excludes_sender() {
    let mut g = vgic();
    assert_eq!(g.send_sgi(1, 1 << 40 | 7 << 24), 0b1101);
    assert_eq!(g.private_block(1).latch, 0);
    assert_eq!(g.private_block(3).latch, 1 << 7);
}

#[test]
fn from_a_trapped_msr() {
    // msr ICC_SGI1R_EL1, x1 (ESR 0x623A3036) with x1 = SGI 1 to vCPU 1.
    let Trap::SysReg(acc) = Trap::decode(0x623A_3036, 0, 0) else {
        panic!()
    };
    assert!(acc.is(SysReg::ICC_SGI1R_EL1) && acc.is_icc_sgi1r_write());
    let mut g = vgic();
    let x = [0u64, 1 << 24 | 0b10];
    assert_eq!(g.send_sgi(0, x[acc.rt as usize]), 0b10);
}

#[test]
fn only_an_empty_target_list_without_broadcast_is_empty() {
    // INTID 3, TargetList 0: reaches nobody, whatever the affinity fields say.
    assert!(SgiRequest::decode((3 << 24) | (1 << 16)).is_empty());
    assert!(!SgiRequest::decode((3 << 24) | 1).is_empty());
    // IRM = 1: every other vCPU, even with an empty list.
    assert!(!SgiRequest::decode((3 << 24) | (1 << 40)).is_empty());
    // An empty request sends to nobody, as `targets` agrees.
    let r = SgiRequest::decode(3 << 24);
    assert_eq!(r.targets(&[0, 1, 2], 0), 0);
}
