//! GICD register tests (IHI 0069, GICD_* descriptions).

use super::super::dist::*;
use super::*;

#[test]
fn ctlr() {
    let mut g = vgic();
    assert_eq!(
        g.gicd_read(CTLR, 4),
        0x50,
        "ARE and DS set, groups disabled"
    );
    assert!(g.gicd_write(CTLR, 4, 0x2));
    assert_eq!(g.gicd_read(CTLR, 4), 0x52);
    assert!(g.group1_enabled());
    assert!(!g.gicd_write(CTLR, 4, 0x13), "no change: Grp1 already on");
    assert_eq!(g.gicd_read(CTLR, 4), 0x52, "Grp0 and ARE writes ignored");
    assert!(g.gicd_write(CTLR, 4, 0));
    assert_eq!(g.gicd_read(CTLR, 4), 0x50);
}

#[test]
fn identification() {
    let mut g = vgic();
    // ITLinesNumber 1 (INTIDs up to 63), CPUNumber 3, IDbits 9, A3V, No1N.
    assert_eq!(g.gicd_read(TYPER, 4), 0x0348_0061);
    assert_eq!(g.gicd_read(IIDR, 4), 0x5000_043B);
    assert_eq!(g.gicd_read(TYPER2, 4), 0);
    assert_eq!(g.gicd_read(STATUSR, 4), 0);
    assert_eq!(g.gicd_read(PIDR2, 4) & 0xF0, 0x30);
    let mut g2 = G::new(&MPIDRS[..1], &[95]).unwrap();
    assert_eq!(g2.gicd_read(TYPER, 4) & 0xFF, 0x02);
    let mut g3 = G::new(&MPIDRS[..2], &[]).unwrap();
    assert_eq!(g3.gicd_read(TYPER, 4) & 0xFF, 0x20);
}

#[test]
fn enable_bits_only_for_owned_spis() {
    let mut g = vgic();
    assert!(g.gicd_write(0x104, 4, 0xFFFF_FFFF));
    assert_eq!(g.denied(), 1);
    assert_eq!(g.gicd_read(0x104, 4), 0x0001_0002);
    assert_eq!(g.gicd_read(0x184, 4), 0x0001_0002);
    assert!(g.gicd_write(0x184, 4, 0x2));
    assert_eq!(g.gicd_read(0x104, 4), 0x0001_0000);
    // Register 0 (private INTIDs) is RAZ/WI in the distributor with ARE=1.
    assert!(!g.gicd_write(0x100, 4, 0xFFFF_FFFF));
    assert_eq!(g.gicd_read(0x100, 4), 0);
    assert_eq!(g.private_block(0).enabled, 0);
    // Beyond the capacity: RAZ/WI, counted.
    assert!(!g.gicd_write(0x10C, 4, 1));
    assert_eq!(g.gicd_read(0x10C, 4), 0);
    assert_eq!(g.denied(), 2);
    // Writing only owned bits is not a denial.
    g.gicd_write(0x104, 4, 0x2);
    assert_eq!(g.denied(), 2);
}

#[test]
fn pending_and_active_bits() {
    let mut g = vgic();
    assert!(g.gicd_write(0x204, 4, 1 << 16 | 1 << 5));
    assert_eq!(g.gicd_read(0x204, 4), 1 << 16);
    assert_eq!(g.denied(), 1);
    assert!(g.gicd_write(0x284, 4, 1 << 16));
    assert_eq!(g.gicd_read(0x204, 4), 0);
    assert!(g.gicd_write(0x304, 4, 0x2));
    assert_eq!(g.gicd_read(0x384, 4), 0x2);
    assert!(g.gicd_write(0x384, 4, 0x2));
    assert_eq!(g.gicd_read(0x304, 4), 0);
    // A level line stays pending through ICPENDR.
    g.set_level(0, 33, true).unwrap();
    g.gicd_write(0x284, 4, 0x2);
    assert_eq!(g.gicd_read(0x204, 4), 0x2);
    // Unless configured edge: then the line does not make it pending.
    g.gicd_write(0xC08, 4, 0x8);
    assert_eq!(g.gicd_read(0x204, 4), 0);
}

#[test]
fn priorities() {
    let mut g = vgic();
    assert!(g.gicd_write(0x400 + 33, 1, 0xA0));
    assert_eq!(g.gicd_read(0x400 + 33, 1), 0xA0);
    assert_eq!(g.gicd_read(0x420, 4), 0x0000_A000);
    // Five priority bits.
    g.gicd_write(0x400 + 48, 1, 0xFF);
    assert_eq!(g.gicd_read(0x430, 4), 0xF8);
    // Unowned bytes: ignored and counted; word writes only touch owned bytes.
    g.gicd_write(0x400 + 34, 1, 0x80);
    assert_eq!(g.gicd_read(0x400 + 34, 1), 0);
    assert_eq!(g.denied(), 1);
    g.gicd_write(0x420, 4, 0x4040_4040);
    assert_eq!(g.gicd_read(0x420, 4), 0x0000_4000);
    assert_eq!(g.denied(), 2);
    // IPRIORITYR0-7 (private) RAZ/WI here.
    g.gicd_write(0x400, 4, 0xFFFF_FFFF);
    assert_eq!(g.gicd_read(0x400, 4), 0);
    assert_eq!(g.private_block(0).priority[0], 0);
}

#[test]
fn config_group_and_itargets() {
    let mut g = vgic();
    // ICFGR2 covers INTIDs 32..47: only 33 is owned.
    g.gicd_write(0xC08, 4, 0xFFFF_FFFF);
    assert_eq!(g.gicd_read(0xC08, 4), 0x8);
    assert_eq!(g.spi_block(33).unwrap().edge, 0x2);
    g.gicd_write(0xC08, 4, 0);
    assert_eq!(g.gicd_read(0xC08, 4), 0);
    // Group 1 only: IGROUPR reads one for owned SPIs, IGRPMODR zero.
    assert_eq!(g.gicd_read(0x084, 4), 0x0001_0002);
    g.gicd_write(0x084, 4, 0);
    assert_eq!(g.gicd_read(0x084, 4), 0x0001_0002);
    assert_eq!(g.gicd_read(0xD04, 4), 0);
    // ITARGETSR: RAZ/WI with affinity routing, byte access allowed.
    g.gicd_write(0x800 + 33, 1, 0xFF);
    assert_eq!(g.gicd_read(0x800 + 33, 1), 0);
    assert_eq!(g.bad_accesses(), 0);
}

#[test]
fn irouter() {
    let mut g = vgic();
    let r33 = IROUTER + 8 * 33;
    assert_eq!(g.gicd_read(r33, 8), 0);
    assert!(g.gicd_write(r33, 8, 0x0000_0000_0000_0100));
    assert_eq!(g.spi_target(33), Some(3));
    // IRM (bit 31) is RAZ/WI (No1N); other non-affinity bits too.
    g.gicd_write(r33, 8, 0xFFFF_FFFF_FFFF_FFFF);
    assert_eq!(g.gicd_read(r33, 8), 0xFF_00FF_FFFF);
    assert_eq!(g.spi_target(33), None, "names no vCPU: not delivered");
    // 32-bit halves.
    g.gicd_write(r33, 4, 0x2);
    g.gicd_write(r33 + 4, 4, 0);
    assert_eq!(g.gicd_read(r33, 8), 0x2);
    assert_eq!(g.gicd_read(r33, 4), 0x2);
    assert_eq!(g.gicd_read(r33 + 4, 4), 0);
    assert_eq!(g.spi_target(33), Some(2));
    // Unowned SPI: RAZ/WI, counted.
    g.gicd_write(IROUTER + 8 * 34, 8, 1);
    assert_eq!(g.gicd_read(IROUTER + 8 * 34, 8), 0);
    assert_eq!(g.denied(), 1);
}

#[test]
fn bad_accesses() {
    let mut g = vgic();
    assert_eq!(g.gicd_read(CTLR, 2), 0);
    assert_eq!(g.gicd_read(CTLR, 1), 0);
    assert_eq!(g.gicd_read(CTLR, 8), 0);
    assert_eq!(g.gicd_read(0x102, 4), 0);
    assert!(!g.gicd_write(0x1_0000, 4, 0));
    assert!(
        !g.gicd_write(IROUTER + 8 * 31, 8, 0),
        "IROUTER < 32 reserved"
    );
    assert_eq!(g.bad_accesses(), 6);
    assert!(G::gicd_access_ok(IROUTER + 8 * 1019, 8));
    assert!(!G::gicd_access_ok(IROUTER + 8 * 1020, 8));
}
