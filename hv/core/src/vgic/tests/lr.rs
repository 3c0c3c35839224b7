//! List-register tests: encoding (IHI 0069 `ICH_LR<n>_EL2`) and the manager, driven by a
//! small simulation of the virtual CPU interface (acknowledge, EOI, maintenance).

use super::super::dist::CTLR;
use super::super::lr::*;
use super::super::redist::{SGI_BASE, STRIDE};
use super::sim::Cpu;
use super::*;

#[test]
fn encoding() {
    let hw = ListReg {
        vintid: 27,
        pintid: 27,
        hw: true,
        eoi: false,
        priority: 0xA0,
        group1: true,
        state: LrState::Pending,
    };
    assert_eq!(hw.encode(), 0x70A0_001B_0000_001B);
    assert_eq!(ListReg::decode(hw.encode()), hw);
    let sw = ListReg {
        vintid: 33,
        pintid: 0,
        hw: false,
        eoi: true,
        priority: 0x80,
        group1: true,
        state: LrState::Pending,
    };
    assert_eq!(sw.encode(), 0x5080_0200_0000_0021);
    assert_eq!(ListReg::decode(sw.encode()), sw);
    for s in [
        LrState::Invalid,
        LrState::Pending,
        LrState::Active,
        LrState::PendingActive,
    ] {
        let lr = ListReg { state: s, ..sw };
        assert_eq!(ListReg::decode(lr.encode()).state, s);
    }
    assert!(LrState::PendingActive.pending() && LrState::PendingActive.active());
    assert!(!LrState::Invalid.pending() && !LrState::Invalid.active());
    // pINTID is 13 bits.
    let big = ListReg {
        pintid: 0x1FFF,
        ..hw
    };
    assert_eq!(ListReg::decode(big.encode()).pintid, 0x1FFF);
}

fn setup() -> G {
    let mut g = G::new(&MPIDRS, &[33, 34, 40, 48, 50, 60]).unwrap();
    g.gicd_write(CTLR, 4, 2);
    for v in 0..4 {
        g.gicr_write(v * STRIDE + SGI_BASE + 0x100, 4, 0xFFFF_FFFF);
    }
    g.gicd_write(0x104, 4, 0xFFFF_FFFF);
    g.gicd_write(0xC08, 4, 0xAAAA_AAAA); // SPIs 32..47 edge
    g.gicd_write(0xC0C, 4, 0xAAAA_AAAA); // SPIs 48..63 edge
    g
}

#[test]
fn eight_pending_four_lrs_all_delivered() {
    let mut g = setup();
    // Eight interrupts, mixed SGIs, PPIs and SPIs, mixed priorities.
    let irqs = [
        (1, 0x80),
        (2, 0x40),
        (7, 0x80),
        (27, 0x20),
        (33, 0x60),
        (34, 0x60),
        (48, 0xA0),
        (60, 0x10),
    ];
    for (id, prio) in irqs {
        if id < 32 {
            g.gicr_write(SGI_BASE + 0x400 + id as u64, 1, prio);
        } else {
            g.gicd_write(0x400 + id as u64, 1, prio);
        }
        g.raise(0, id).unwrap();
    }
    let mut cpu = Cpu::<4>::new();
    let f = cpu.enter(&mut g, 0);
    assert_eq!((f.used, f.overflow, f.hcr), (4, 4, HCR_NPIE));
    let (mut log, mut n) = ([0; 32], 0);
    cpu.run(&mut g, 0, &mut log, &mut n);
    assert_eq!(n, 8, "delivered {:?}", &log[..n]);
    assert_eq!(log[..8], [60, 27, 2, 33, 34, 1, 7, 48], "priority order");
    assert_eq!(cpu.lost_eoi, 0);
    assert!(!g.has_pending(0));
    // After the last refill nothing overflows: maintenance requests are dropped.
    cpu.exit(&mut g, 0);
    assert_eq!(
        cpu.enter(&mut g, 0),
        LrFill {
            used: 0,
            overflow: 0,
            hcr: 0
        }
    );
}

#[test]
fn without_maintenance_request_the_vm_would_stall() {
    // The peer failure: same scenario, but the fill's HCR bits are ignored.
    let mut g = setup();
    for id in 0..8 {
        g.raise(0, id).unwrap();
    }
    let mut cpu = Cpu::<4>::new();
    cpu.enter(&mut g, 0);
    cpu.hcr = 0;
    let (mut log, mut n) = ([0; 32], 0);
    cpu.run(&mut g, 0, &mut log, &mut n);
    assert_eq!(n, 4);
    assert!(g.has_pending(0), "four left behind");
    // Any later exit (e.g. a timer) recovers them.
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    cpu.run(&mut g, 0, &mut log, &mut n);
    assert_eq!(n, 8);
}

#[test]
fn exit_while_active_keeps_the_interrupt_in_a_list_register() {
    let mut g = setup();
    for id in [3, 4] {
        g.raise(0, id).unwrap();
    }
    let mut cpu = Cpu::<2>::new();
    cpu.enter(&mut g, 0);
    assert_eq!(cpu.ack(), Some(3));
    // The handler traps (e.g. an MMIO access) while 3 is active.
    cpu.exit(&mut g, 0);
    assert_eq!(g.private_block(0).active, 1 << 3);
    cpu.enter(&mut g, 0);
    let lr0 = ListReg::decode(cpu.lrs[0]);
    assert_eq!((lr0.vintid, lr0.state), (3, LrState::Active));
    cpu.eoi(3);
    assert_eq!(cpu.lost_eoi, 0);
    assert_eq!(cpu.ack(), Some(4));
    cpu.eoi(4);
    cpu.exit(&mut g, 0);
    assert_eq!(g.private_block(0).active, 0);
    assert!(!g.has_pending(0));
}

#[test]
fn urgent_arrival_evicts_a_pending_list_register() {
    let mut g = setup();
    for id in 0..6 {
        g.gicr_write(SGI_BASE + 0x400 + id as u64, 1, 0x80);
        g.raise(0, id).unwrap();
    }
    let mut cpu = Cpu::<4>::new();
    cpu.enter(&mut g, 0);
    // A channel vIRQ of high priority arrives from another VM; the vCPU is kicked.
    g.gicd_write(0x400 + 48, 1, 0x10);
    assert_eq!(g.raise(0, 48), Ok(Some(0)));
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    assert_eq!(ListReg::decode(cpu.lrs[0]).vintid, 48);
    let (mut log, mut n) = ([0; 32], 0);
    cpu.run(&mut g, 0, &mut log, &mut n);
    assert_eq!(log[..n], [48, 0, 1, 2, 3, 4, 5]);
}

#[test]
fn edge_raised_again_while_in_a_list_register() {
    let mut g = setup();
    g.raise(0, 33).unwrap();
    let mut cpu = Cpu::<4>::new();
    cpu.enter(&mut g, 0);
    assert_eq!(g.spi_block(33).unwrap().latch, 0, "latch handed to the LR");
    g.raise(0, 33).unwrap();
    assert_eq!(cpu.ack(), Some(33));
    cpu.eoi(33);
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    let (mut log, mut n) = ([0; 32], 0);
    cpu.run(&mut g, 0, &mut log, &mut n);
    assert_eq!(log[..n], [33], "the second edge is delivered too");
    // An edge still pending in the LR at exit is not lost.
    g.raise(0, 34).unwrap();
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    cpu.exit(&mut g, 0);
    assert_eq!(g.spi_block(34).unwrap().latch, 1 << 2);
}

#[test]
fn level_interrupt_is_resampled_on_eoi() {
    let mut g = setup();
    g.gicd_write(0xC08, 4, 0); // 33 level again
    g.set_level(0, 33, true).unwrap();
    let mut cpu = Cpu::<4>::new();
    cpu.enter(&mut g, 0);
    let lr = ListReg::decode(cpu.lrs[0]);
    assert!(lr.eoi && !lr.hw && lr.state == LrState::Pending);
    assert_eq!(cpu.ack(), Some(33));
    // The handler reads the UART (an exit) and the line stays high: more data.
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    assert_eq!(ListReg::decode(cpu.lrs[0]).state, LrState::PendingActive);
    cpu.eoi(33);
    assert!(!cpu.maintenance(), "still pending in the LR");
    assert_eq!(cpu.ack(), Some(33));
    // This time the line drops during the handler.
    cpu.exit(&mut g, 0);
    g.set_level(0, 33, false).unwrap();
    cpu.enter(&mut g, 0);
    assert_eq!(ListReg::decode(cpu.lrs[0]).state, LrState::Active);
    cpu.eoi(33);
    assert!(cpu.maintenance(), "EOI maintenance for a level interrupt");
    cpu.exit(&mut g, 0);
    assert_eq!(cpu.enter(&mut g, 0).used, 0);
    assert_eq!(g.spi_block(33).unwrap().active, 0);
}

#[test]
fn hardware_forwarded_interrupt() {
    let mut g = setup();
    g.set_hw(0, 48, 48).unwrap();
    g.raise(0, 48).unwrap();
    let mut cpu = Cpu::<4>::new();
    cpu.enter(&mut g, 0);
    let lr = ListReg::decode(cpu.lrs[0]);
    assert!(lr.hw && !lr.eoi);
    assert_eq!((lr.vintid, lr.pintid), (48, 48));
    assert_eq!(cpu.ack(), Some(48));
    // A second physical arrival while active is kept latched, never pending+active.
    g.raise(0, 48).unwrap();
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    assert_eq!(ListReg::decode(cpu.lrs[0]).state, LrState::Active);
    cpu.eoi(48);
    cpu.exit(&mut g, 0);
    cpu.enter(&mut g, 0);
    assert_eq!(ListReg::decode(cpu.lrs[0]).state, LrState::Pending);
}

#[test]
fn all_lrs_active_requests_underflow() {
    let mut g = setup();
    for id in 0..3 {
        g.private[0].active |= 1 << id;
    }
    g.raise(0, 5).unwrap();
    let mut lrs = [0u64; 2];
    let f = g.fill_lrs(0, &mut lrs);
    assert_eq!((f.used, f.overflow, f.hcr), (2, 2, HCR_UIE));
}

#[test]
fn per_vcpu_isolation_of_list_registers() {
    let mut g = setup();
    g.raise(1, 5).unwrap();
    let mut lrs = [0u64; 4];
    assert_eq!(g.fill_lrs(0, &mut lrs).used, 0);
    assert_eq!(g.fill_lrs(1, &mut lrs).used, 1);
    // Syncing vCPU 0 with vCPU 1's values does nothing: vCPU 0 filled none.
    g.sync_lrs(0, &lrs);
    assert_eq!(g.private_block(0).active | g.private_block(0).latch, 0);
}

#[test]
fn spi_rerouted_while_in_flight_stays_until_done() {
    let mut g = setup();
    g.raise(0, 33).unwrap();
    let (mut c0, mut c1) = (Cpu::<4>::new(), Cpu::<4>::new());
    c0.enter(&mut g, 0);
    assert_eq!(c0.ack(), Some(33));
    // The guest moves the SPI to vCPU 1 (irq affinity change) while it is active on 0.
    g.gicd_write(super::super::dist::IROUTER + 8 * 33, 8, 1);
    c0.exit(&mut g, 0);
    c0.enter(&mut g, 0);
    assert_eq!(c1.enter(&mut g, 1).used, 0, "not in two vCPUs' LRs");
    assert_eq!(g.spi_owner(33), Some(0));
    // A new edge while active on 0: once 0 EOIs, it moves to vCPU 1 with a kick.
    g.raise(0, 33).unwrap();
    c0.eoi(33);
    assert_eq!(
        g.sync_lrs(0, &c0.lrs).kick,
        0,
        "LR was not pending: nothing to hand over"
    );
    assert_eq!(g.spi_owner(33), Some(1));
    assert_eq!(c0.enter(&mut g, 0).used, 0);
    assert_eq!(c1.enter(&mut g, 1).used, 1);
    assert_eq!(c1.ack(), Some(33));
    // Pending in vCPU 1's LR, rerouted back to 0: the sync asks to kick vCPU 0.
    c1.eoi(33);
    g.raise(0, 33).unwrap();
    g.sync_lrs(1, &c1.lrs);
    c1.enter(&mut g, 1);
    g.gicd_write(super::super::dist::IROUTER + 8 * 33, 8, 0);
    assert_eq!(g.sync_lrs(1, &c1.lrs).kick, 0b1);
}

/// A software raise of a level-configured SPI that arrives while the previous one is in
/// a list register (acknowledged, not yet ended) must not be lost when the list
/// register is read back: it is delivered as pending-and-active at the next fill.
#[test]
fn raise_while_in_flight_is_kept_for_level_interrupts() {
    let mut g = G::new(&MPIDRS, &[60]).unwrap();
    g.gicd_write(CTLR, 4, 2);
    g.gicd_write(0x104, 4, 0xFFFF_FFFF); // enable SPIs 32..63 (60 is level by default)
    g.raise(0, 60).unwrap();
    let mut lrs = [0u64; 4];
    assert_eq!(g.fill_lrs(0, &mut lrs).used, 1);
    // The guest acknowledges it: the list register now holds it active.
    let active = ListReg {
        state: LrState::Active,
        ..ListReg::decode(lrs[0])
    };
    // Meanwhile the sender raises it again.
    g.raise(0, 60).unwrap();
    g.sync_lrs(0, &[active.encode(), 0, 0, 0]);
    let mut again = [0u64; 4];
    assert_eq!(g.fill_lrs(0, &mut again).used, 1);
    assert_eq!(ListReg::decode(again[0]).state, LrState::PendingActive);
    // Without the second raise, the interrupt only comes back as active.
    let mut h = G::new(&MPIDRS, &[60]).unwrap();
    h.gicd_write(CTLR, 4, 2);
    h.gicd_write(0x104, 4, 0xFFFF_FFFF);
    h.raise(0, 60).unwrap();
    let mut l = [0u64; 4];
    h.fill_lrs(0, &mut l);
    let act = ListReg {
        state: LrState::Active,
        ..ListReg::decode(l[0])
    };
    h.sync_lrs(0, &[act.encode(), 0, 0, 0]);
    h.fill_lrs(0, &mut l);
    assert_eq!(ListReg::decode(l[0]).state, LrState::Active);
}

/// The entry path may skip the fill only when [`Synced::refill`] is false: then a fill
/// would deliver nothing. A level interrupt whose line is still high after its EOI, an
/// interrupt that came back pending or active, or one the last fill left out all need
/// one.
#[test]
fn refill_only_when_something_is_left() {
    let mut g = setup();
    let mut cpu = Cpu::<4>::new();
    // Edge SGI, acknowledged and ended: done, nothing to refill.
    g.raise(0, 5).unwrap();
    cpu.enter(&mut g, 0);
    assert_eq!(cpu.ack(), Some(5));
    cpu.eoi(5);
    let s = g.sync_lrs(0, &cpu.lrs);
    assert!(!s.refill);
    assert_eq!(
        g.fill_lrs(0, &mut [0; 4]).used,
        0,
        "a fill would deliver nothing"
    );
    // Came back pending (not acknowledged yet): refill.
    g.raise(0, 5).unwrap();
    cpu.enter(&mut g, 0);
    assert!(g.sync_lrs(0, &cpu.lrs).refill);
    // Came back active: refill.
    cpu.enter(&mut g, 0);
    assert_eq!(cpu.ack(), Some(5));
    assert!(g.sync_lrs(0, &cpu.lrs).refill);
    cpu.enter(&mut g, 0);
    cpu.eoi(5);
    assert!(!g.sync_lrs(0, &cpu.lrs).refill);
    // A level SPI whose line stays high after the EOI is pending again: refill; once the
    // line is low, an EOI leaves nothing.
    let mut g = G::new(&MPIDRS, &[60]).unwrap();
    g.gicd_write(CTLR, 4, 2);
    g.gicd_write(0x104, 4, 0xFFFF_FFFF); // 60 is level by default
    g.set_level(0, 60, true).unwrap();
    cpu.enter(&mut g, 0);
    assert_eq!(cpu.ack(), Some(60));
    cpu.eoi(60);
    assert!(g.sync_lrs(0, &cpu.lrs).refill, "line still high");
    cpu.enter(&mut g, 0);
    assert_eq!(cpu.ack(), Some(60));
    g.set_level(0, 60, false).unwrap();
    cpu.eoi(60);
    assert!(!g.sync_lrs(0, &cpu.lrs).refill, "line low");
    let mut g = setup();
    // More deliverable than list registers: the rest waits, so a refill is needed even
    // when everything delivered came back done.
    for id in [1, 2, 3] {
        g.raise(0, id).unwrap();
    }
    let mut one = Cpu::<1>::new();
    assert_eq!(one.enter(&mut g, 0).overflow, 2);
    let id = one.ack().unwrap();
    one.eoi(id);
    assert!(g.sync_lrs(0, &one.lrs).refill, "two left out");
}

/// `raise_alone` on a settled vCPU is what `raise` then `fill_lrs` would do: the same list
/// register, the same model afterwards — and, once the guest is done with it (the
/// register reads back Invalid), the same model as `sync_lrs` leaves, with nothing to fold.
#[test]
fn raise_alone_is_raise_then_fill_for_a_settled_vcpu() {
    let mut a = setup();
    a.set_hw(0, 27, 27).unwrap();
    a.gicr_write(SGI_BASE + 0x400 + 27, 1, 0xA0);
    let mut b = a.clone();

    let lr = a
        .raise_alone(0, 27)
        .unwrap()
        .expect("deliverable: one list register");
    b.raise(0, 27).unwrap();
    let mut lrs = [0u64; 4];
    let f = b.fill_lrs(0, &mut lrs);
    assert_eq!(f.used, 1);
    assert_eq!(lr, lrs[0]);
    let d = ListReg::decode(lr);
    assert!(d.hw && d.pintid == 27 && d.state == LrState::Pending && d.priority == 0xA0);
    assert_eq!(a.private_block(0), b.private_block(0));

    // The guest acknowledged and deactivated it (HW: the physical one with it).
    lrs[0] = ListReg {
        state: LrState::Invalid,
        ..d
    }
    .encode();
    let synced = b.sync_lrs(0, &lrs[..1]);
    assert!(!synced.refill);
    assert_eq!(a.private_block(0), b.private_block(0));
    assert!(!a.has_pending(0));
}

/// A list register `raise_alone` wrote that comes back not done goes back into the model
/// exactly as `sync_lrs` folds it; a later fill delivers it again.
#[test]
fn raise_alone_returned_pending_or_active_is_folded_back() {
    for state in [LrState::Pending, LrState::Active] {
        let mut a = setup();
        a.set_hw(0, 27, 27).unwrap();
        let mut b = a.clone();
        let lr = a.raise_alone(0, 27).unwrap().unwrap();
        b.raise(0, 27).unwrap();
        let mut lrs = [0u64; 4];
        b.fill_lrs(0, &mut lrs);
        let back = ListReg {
            state,
            ..ListReg::decode(lr)
        }
        .encode();
        a.return_alone(0, back);
        lrs[0] = back;
        assert!(b.sync_lrs(0, &lrs[..1]).refill);
        assert_eq!(a.private_block(0), b.private_block(0));
        let mut again = [0u64; 4];
        assert_eq!(a.fill_lrs(0, &mut again).used, 1);
        assert_eq!(ListReg::decode(again[0]).vintid, 27);
    }
}

/// Not deliverable (disabled, or Group 1 off): only latched, no list register.
#[test]
fn raise_alone_latches_what_is_not_deliverable() {
    let mut g = setup();
    g.gicr_write(SGI_BASE + 0x180, 4, 1 << 27); // ICENABLER0
    assert_eq!(g.raise_alone(0, 27), Ok(None));
    assert_ne!(g.private_block(0).latch & (1 << 27), 0);
    assert_eq!(g.raise_alone(0, 40), Err(VgicError::BadIntid(40)));
    assert_eq!(g.raise_alone(9, 27), Err(VgicError::BadVcpu(9)));
}
