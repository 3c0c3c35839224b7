//! Tests of "what is deliverable to vCPU N, most urgent first".

use super::*;

fn enable_all(g: &mut G) {
    g.gicd_write(super::super::dist::CTLR, 4, 2);
    for v in 0..4 {
        g.gicr_write(
            v * super::super::redist::STRIDE + super::super::redist::SGI_BASE + 0x100,
            4,
            0xFFFF_FFFF,
        );
    }
    g.gicd_write(0x104, 4, 0xFFFF_FFFF);
}

fn ids(c: &[Candidate]) -> [u32; 8] {
    let mut out = [u32::MAX; 8];
    for (o, c) in out.iter_mut().zip(c) {
        *o = c.intid;
    }
    out
}

#[test]
fn priority_order() {
    let mut g = vgic();
    enable_all(&mut g);
    g.private[0].priority[3] = 0x80;
    g.private[0].priority[27] = 0x20;
    g.private[0].priority[9] = 0x80;
    g.spi[0].priority[1] = 0x40; // INTID 33
    for i in [3, 27, 9] {
        g.raise(0, i).unwrap();
    }
    g.raise(0, 33).unwrap();
    let mut out = [Candidate::EMPTY; 8];
    let n = g.pending_for(0, &mut out);
    assert_eq!(n, 4);
    assert_eq!(
        ids(&out[..n]),
        [27, 33, 3, 9, u32::MAX, u32::MAX, u32::MAX, u32::MAX]
    );
    assert!(g.has_pending(0));
    assert!(!g.has_pending(1));
    // Top-k keeps the most urgent when the buffer is short.
    let mut two = [Candidate::EMPTY; 2];
    assert_eq!(g.pending_for(0, &mut two), 2);
    assert_eq!([two[0].intid, two[1].intid], [27, 33]);
    assert_eq!(g.top_candidates(0, &mut two), (2, 4));
}

#[test]
fn active_first() {
    let mut g = vgic();
    enable_all(&mut g);
    g.private[0].priority[4] = 0xF0;
    g.private[0].active = 1 << 4;
    g.raise(0, 1).unwrap();
    let mut out = [Candidate::EMPTY; 4];
    assert_eq!(g.top_candidates(0, &mut out), (2, 2));
    assert_eq!(
        (out[0].intid, out[0].active, out[0].pending),
        (4, true, false)
    );
    assert_eq!(out[1].intid, 1);
    // Active but disabled still needs a list register.
    g.gicr_write(super::super::redist::SGI_BASE + 0x180, 4, 1 << 4);
    assert_eq!(g.top_candidates(0, &mut out).1, 2);
}

#[test]
fn gating() {
    let mut g = vgic();
    g.raise(0, 1).unwrap();
    g.raise(0, 33).unwrap();
    assert!(!g.has_pending(0), "not enabled");
    g.gicr_write(super::super::redist::SGI_BASE + 0x100, 4, 0b10);
    g.gicd_write(0x104, 4, 0b10);
    assert!(!g.has_pending(0), "GICD_CTLR.EnableGrp1 off");
    g.gicd_write(super::super::dist::CTLR, 4, 2);
    let mut out = [Candidate::EMPTY; 4];
    assert_eq!(g.pending_for(0, &mut out), 2);
    // Routed elsewhere: the SPI leaves vCPU 0 and shows up at vCPU 3.
    g.gicd_write(super::super::dist::IROUTER + 8 * 33, 8, 0x100);
    assert_eq!(g.pending_for(0, &mut out), 1);
    assert_eq!(g.pending_for(3, &mut out), 1);
    assert_eq!(out[0].intid, 33);
    // Routed to nobody: delivered nowhere, still pending.
    g.gicd_write(super::super::dist::IROUTER + 8 * 33, 8, 0x7);
    assert!((0..4).all(|v| g.pending_for(v, &mut out) == (v == 0) as usize));
    assert_eq!(g.gicd_read(0x204, 4), 0b10);
}

#[test]
fn level_lines() {
    let mut g = vgic();
    enable_all(&mut g);
    assert_eq!(g.set_level(0, 33, true), Ok(Some(0)));
    assert!(g.has_pending(0));
    g.gicd_write(0x284, 4, 0b10);
    assert!(g.has_pending(0), "ICPENDR does not lower a line");
    g.set_level(0, 33, false).unwrap();
    assert!(!g.has_pending(0));
}

/// `deliverable` agrees with the full candidate scan for a raised interrupt.
#[test]
fn deliverable_matches_the_scan() {
    let mut g = vgic();
    g.raise(0, 5).unwrap();
    assert!(!g.deliverable(0, 5), "not enabled, Group 1 off");
    enable_all(&mut g);
    assert!(g.deliverable(0, 5) && g.has_pending(0));
    assert!(!g.deliverable(1, 5), "another vCPU's SGI");
    g.private[0].active |= 1 << 5;
    assert!(!g.deliverable(0, 5), "active: taken once it is deactivated");
    g.raise(0, 33).unwrap();
    assert!(g.deliverable(0, 33));
    assert!(!g.deliverable(0, 35), "not raised");
    assert!(!g.deliverable(0, 900), "not owned");
}
