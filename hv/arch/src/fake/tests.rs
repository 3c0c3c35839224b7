//! The simulated machine's own rules, which the image's host tests rely on.
use hv_core::trap::Trap;

use super::arch::context::{Exit, GuestRegs, enter_guest};
use super::arch::{cpu, gic, regs, timer};
use super::{End, GuestExit, Machine, install, run, with};

#[test]
fn exits_decode_as_the_hardware_reports_them() {
    let (esr, far, hpfar) = GuestExit::DataAbort {
        ipa: 0x0900_0018,
        write: true,
        size: 4,
        reg: 3,
    }
    .syndrome();
    match Trap::decode(esr, far, hpfar) {
        Trap::DataAbort(da) => {
            assert!(da.from_lower_el);
            let acc = da.mmio().expect("a valid syndrome");
            assert_eq!(
                (acc.ipa, acc.size, acc.write, acc.reg),
                (0x0900_0018, 4, true, 3)
            );
        }
        t => panic!("not a data abort: {t:?}"),
    }
    let (esr, far, hpfar) = GuestExit::Hvc(0).syndrome();
    assert!(matches!(
        Trap::decode(esr, far, hpfar),
        Trap::Hvc { imm: 0 }
    ));
    let (esr, far, hpfar) = GuestExit::Wfi.syndrome();
    assert!(matches!(
        Trap::decode(esr, far, hpfar),
        Trap::Wfx { wfe: false, .. }
    ));
}

#[test]
fn a_pending_interrupt_exits_before_the_guest_runs() {
    let mut m = Machine::new();
    m.guest(1, 0, |g| {
        g.regs.x[0] = 7;
        GuestExit::Hvc(0)
    });
    m.pending.push_back(33);
    install(m);
    regs::set_vttbr(1, 0);
    let mut r = GuestRegs::default();
    assert_eq!(enter_guest(&mut r), Exit::Irq);
    assert_eq!(r.x[0], 0);
    assert_eq!(gic::ack(), Some(33));
    assert_eq!(enter_guest(&mut r), Exit::Sync);
    assert_eq!((r.x[0], regs::esr() >> 26), (7, 0x16));
    with(|m| assert_eq!(m.entries, vec![(1, 0)]));
}

#[test]
fn a_guest_timer_is_level_triggered_until_deactivated() {
    let mut m = Machine::new();
    m.el1.cntv_cval = 250;
    m.el1.cntv_ctl = timer::CTL_ENABLE;
    m.guest(1, 0, |_| GuestExit::Hvc(0));
    install(m);
    regs::set_vttbr(1, 0);
    let mut r = GuestRegs::default();
    // 100 ticks a step: due at the third entry.
    assert_eq!(enter_guest(&mut r), Exit::Sync);
    assert_eq!(enter_guest(&mut r), Exit::Sync);
    assert_eq!(timer::guest_vtimer_ctl() & timer::CTL_ISTATUS, 0);
    assert_eq!(enter_guest(&mut r), Exit::Irq);
    assert_ne!(timer::guest_vtimer_ctl() & timer::CTL_ISTATUS, 0);
    assert_eq!(gic::ack(), Some(27));
    gic::drop_priority(27);
    // Active: it does not fire again.
    assert_eq!(enter_guest(&mut r), Exit::Sync);
    gic::deactivate(27);
    assert_eq!(enter_guest(&mut r), Exit::Irq);
}

#[test]
fn waiting_jumps_to_the_next_deadline_or_ends_the_run() {
    install(Machine::new());
    timer::set_hyp_deadline(Some(5_000));
    cpu::wait_for_interrupt();
    assert_eq!(cpu::counter(), 5_000);
    assert_eq!(gic::ack(), Some(26));
    gic::end(26);
    timer::set_hyp_deadline(None);
    assert_eq!(run(cpu::wait_for_interrupt), End::Deadlock);
}

#[test]
fn memory_is_sparse_and_reads_zero_where_never_written() {
    let mut m = Machine::new();
    m.write_mem(0x4000_0ffe, &[1, 2, 3, 4]);
    let mut b = [9; 6];
    m.read_mem(0x4000_0ffd, &mut b);
    assert_eq!(b, [0, 1, 2, 3, 4, 0]);
    m.zero_mem(0x4000_0fff, 2);
    m.read_mem(0x4000_0ffe, &mut b[..4]);
    assert_eq!(b[..4], [1, 0, 0, 4]);
}
