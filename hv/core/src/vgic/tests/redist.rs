//! GICR register tests (IHI 0069, GICR_* descriptions).

use super::super::redist::*;
use super::*;

#[test]
fn typer_and_linux_style_walk() {
    let mut g = vgic();
    assert_eq!(g.gicr_read(TYPER, 8), 0);
    assert_eq!(g.gicr_read(STRIDE + TYPER, 8), 1 << 32 | 1 << 8);
    assert_eq!(
        g.gicr_read(3 * STRIDE + TYPER, 8),
        0x100 << 32 | 3 << 8 | TYPER_LAST
    );
    assert_eq!(g.gicr_read(3 * STRIDE + TYPER, 4), 3 << 8 | TYPER_LAST);
    assert_eq!(g.gicr_read(3 * STRIDE + TYPER + 4, 4), 0x100);
    // Walk frames until Last, matching each frame's affinity to a vCPU's MPIDR.
    let mut frame = 0;
    loop {
        let t = g.gicr_read(frame * STRIDE + TYPER, 8);
        let aff = t >> 32;
        let mpidr = (aff & 0xFF_FFFF) | (aff >> 24) << 32;
        assert_eq!(g.find_vcpu(mpidr), Some(frame as usize));
        assert_eq!(g.gicr_read(frame * STRIDE + PIDR2, 4) & 0xF0, 0x30);
        if t & TYPER_LAST != 0 {
            break;
        }
        frame += 1;
    }
    assert_eq!(frame, 3);
    // Aff3 placement.
    let g = G::new(&[0x80_0000_0000 | 0x8000_0000 | 0x01_02_03], &[]).unwrap();
    assert_eq!(g.gicr_typer(0) >> 32, 0x8001_0203);
}

#[test]
fn waker_handshake() {
    let mut g = vgic();
    let w = STRIDE + WAKER;
    assert_eq!(g.gicr_read(w, 4), 0x6);
    assert!(g.processor_sleep(1));
    g.gicr_write(w, 4, 0);
    assert_eq!(g.gicr_read(w, 4) & WAKER_CHILDREN_ASLEEP as u64, 0);
    assert!(!g.processor_sleep(1));
    assert!(g.processor_sleep(0), "per vCPU");
    g.gicr_write(w, 4, 0x2);
    assert_eq!(g.gicr_read(w, 4), 0x6);
}

#[test]
fn rd_base_misc() {
    let mut g = vgic();
    assert_eq!(g.gicr_read(CTLR, 4), 0);
    g.gicr_write(CTLR, 4, 1);
    assert_eq!(g.gicr_read(CTLR, 4), 0, "EnableLPIs RAZ/WI");
    assert_eq!(g.gicr_read(IIDR, 4), 0x5000_043B);
    assert_eq!(g.gicr_read(0x70, 8), 0, "PROPBASER RAZ");
}

#[test]
fn sgi_base_banks() {
    let mut g = vgic();
    let v1 = STRIDE + SGI_BASE;
    assert_eq!(g.gicr_write(v1 + 0x100, 4, 1 << 27 | 1 << 3), Some(1));
    assert_eq!(g.private_block(1).enabled, 1 << 27 | 1 << 3);
    assert_eq!(g.private_block(0).enabled, 0);
    assert_eq!(g.gicr_read(v1 + 0x100, 4), 1 << 27 | 1 << 3);
    assert_eq!(g.gicr_write(v1 + 0x100, 4, 1 << 27), None, "no change");
    assert_eq!(g.gicr_write(v1 + 0x180, 4, 1 << 3), Some(1));
    assert_eq!(g.gicr_read(v1 + 0x180, 4), 1 << 27);
    // Pending / active.
    g.gicr_write(v1 + 0x200, 4, 1 << 5);
    assert_eq!(g.gicr_read(v1 + 0x200, 4), 1 << 5);
    g.gicr_write(v1 + 0x280, 4, 1 << 5);
    assert_eq!(g.gicr_read(v1 + 0x200, 4), 0);
    g.gicr_write(v1 + 0x300, 4, 1 << 30);
    assert_eq!(g.gicr_read(v1 + 0x380, 4), 1 << 30);
    // Groups: all Group 1.
    assert_eq!(g.gicr_read(v1 + 0x80, 4), 0xFFFF_FFFF);
    assert_eq!(g.gicr_read(v1 + 0xD00, 4), 0);
    // Registers past index 0 are not banked here.
    assert_eq!(g.gicr_read(v1 + 0x104, 4), 0);
    assert_eq!(g.denied(), 0);
}

#[test]
fn sgi_base_priority_and_config() {
    let mut g = vgic();
    let v0 = SGI_BASE;
    g.gicr_write(v0 + 0x400 + 27, 1, 0xA0);
    assert_eq!(g.gicr_read(v0 + 0x418, 4), 0xA0 << 24);
    g.gicr_write(v0 + 0x404, 4, 0x1020_3040);
    assert_eq!(g.private_block(0).priority[4..8], [0x40, 0x30, 0x20, 0x10]);
    // SGIs are always edge (ICFGR0 = 0xAAAAAAAA, read-only).
    assert_eq!(g.gicr_read(v0 + 0xC00, 4), 0xAAAA_AAAA);
    g.gicr_write(v0 + 0xC00, 4, 0);
    assert_eq!(g.gicr_read(v0 + 0xC00, 4), 0xAAAA_AAAA);
    // PPIs reset level, configurable.
    assert_eq!(g.gicr_read(v0 + 0xC04, 4), 0);
    g.gicr_write(v0 + 0xC04, 4, 0x8);
    assert_eq!(g.gicr_read(v0 + 0xC04, 4), 0x8);
}

#[test]
fn region_bounds_and_widths() {
    let mut g = vgic();
    assert_eq!(g.gicr_region_size(), 4 * STRIDE);
    assert_eq!(g.gicr_read(4 * STRIDE + TYPER, 8), 0);
    assert_eq!(g.gicr_write(4 * STRIDE + SGI_BASE + 0x100, 4, 1), None);
    assert_eq!(g.gicr_read(WAKER, 2), 0);
    assert_eq!(
        g.gicr_read(SGI_BASE + 0x100, 8),
        0,
        "64-bit only in RD_base"
    );
    assert_eq!(
        g.gicr_read(SGI_BASE + 0x100, 1),
        0,
        "bytes only in IPRIORITYR"
    );
    assert_eq!(g.bad_accesses(), 5);
}
