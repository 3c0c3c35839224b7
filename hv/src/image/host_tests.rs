//! The run loop on hv-arch's simulated machine (`hv_arch::fake`): the image boots on CPU 0
//! of `hv/host/system.toml` (VMs `a` and `b` share it, `a` first in its schedule) and runs
//! scripted guests until the machine ends the run.
//!
//! The image keeps its state in statics (one boot per process), so each test runs its
//! scenario in a child process of this test binary ([`isolated`]).
use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;

use hv_arch::fake::{self, End, Guest, GuestExit, Machine};
use hv_core::ids::VmId;
use hv_core::psci::{PSCI_VERSION_1_1, fid as psci};

use super::generated::SYSTEM;

/// Environment variable naming the test a child process runs.
const CHILD: &str = "HV_HOST_TEST";

/// Runs `scenario` in a fresh process (a child running only test `name`), which fails
/// when the scenario fails there.
fn isolated(name: &str, scenario: impl FnOnce()) {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        scenario();
        return;
    }
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            &format!(
                "{}::{name}",
                module_path!().split_once("::").map_or("", |p| p.1)
            ),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, name)
        .output()
        .expect("child test process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "scenario {name} failed:\n{stdout}\n{stderr}"
    );
}

macro_rules! scenario {
    ($(#[$m:meta])* fn $name:ident() $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            isolated(stringify!($name), || $body)
        }
    };
}

/// (VMID, VMPIDR) of VM `vm`'s vCPU 0: how the machine tells the loaded guest.
fn key(vm: u16) -> (u16, u64) {
    let d = SYSTEM.vm(VmId::new(vm));
    (d.vmid, SYSTEM.vcpu(d.vcpu_id(0)).vmpidr)
}

/// Boots the image on CPU 0 of machine `m` and runs it until the machine ends the run.
fn boot(m: Machine) -> End {
    fake::install(m);
    fake::run(|| super::boot::start(0))
}

/// An SMCCC call with function ID `fid` and arguments.
fn call(g: &mut Guest<'_>, fid: u32, args: &[u64]) -> GuestExit {
    g.regs.x[0] = fid as u64;
    g.regs.x[1..=args.len()].copy_from_slice(args);
    GuestExit::Hvc(0)
}

/// A store of `value` (through x1) to IPA `ipa`.
fn store(g: &mut Guest<'_>, ipa: u64, value: u64) -> GuestExit {
    g.regs.x[1] = value;
    GuestExit::DataAbort {
        ipa,
        write: true,
        size: 4,
        reg: 1,
    }
}

/// The first steps of a guest that takes interrupt `intid` of its vGIC: Group 1 on in its
/// distributor, `intid` enabled (in its distributor, or its redistributor's SGI frame
/// for a private one). `None` once done.
fn enable_irq(g: &mut Guest<'_>, vm: u16, intid: u32) -> Option<GuestExit> {
    let d = SYSTEM.vm(VmId::new(vm));
    match g.step {
        0 => Some(store(g, d.gicd_ipa, 1 << 1)),
        1 if intid < 32 => Some(store(g, d.gicr_ipa + 0x1_0000 + 0x100, 1 << intid)),
        1 => Some(store(
            g,
            d.gicd_ipa + 0x100 + 4 * (intid / 32) as u64,
            1 << (intid % 32),
        )),
        _ => None,
    }
}

fn uart_text() -> String {
    fake::with(|m| String::from_utf8_lossy(&m.uart).into_owned())
}

scenario! {
    /// PSCI_VERSION is answered in x0 and the vCPU is re-entered at once: no world switch
    /// between the call and the next step.
    fn psci_version_is_answered_without_a_switch() {
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let (a, b) = (key(0), key(1));
        m.guest(a.0, a.1, move |g| match g.step {
            0 => call(g, psci::VERSION, &[]),
            1 => {
                *s.borrow_mut() = Some((g.regs.x[0], fake::with(|m| m.vttbr_writes)));
                call(g, psci::SYSTEM_OFF, &[])
            }
            _ => panic!("vm a runs after SYSTEM_OFF"),
        });
        m.guest(b.0, b.1, |g| call(g, psci::SYSTEM_OFF, &[]));
        assert_eq!(boot(m), End::PowerOff);
        let (x0, switches) = seen.borrow().expect("vm a's second step ran");
        assert_eq!(x0 as i64, PSCI_VERSION_1_1);
        // One stage-2 selection: vm a's, at its first entry.
        assert_eq!(switches, 1);
        fake::with(|m| {
            assert_eq!(m.entries, vec![a, a, b]);
            assert_eq!(m.vttbr_writes, 2);
        });
        assert!(uart_text().contains("hv: all VMs have ended; powering off"));
    }
}

scenario! {
    /// A vCPU in WFI gives the CPU to the next vCPU of the schedule; a VIRQ_RAISE from that
    /// one wakes it (preempting the caller) with the interrupt in a list register.
    fn wfi_yields_and_a_raised_interrupt_wakes() {
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (sa, sb) = (seen.clone(), seen.clone());
        let (a, b) = (key(0), key(1));
        m.guest(a.0, a.1, move |g| {
            if let Some(e) = enable_irq(g, 0, 101) {
                return e;
            }
            match g.step {
                2 => GuestExit::Wfi,
                3 => {
                    sa.borrow_mut().push(("a woke with", g.pending_virqs()));
                    call(g, psci::SYSTEM_OFF, &[])
                }
                _ => panic!("vm a runs after SYSTEM_OFF"),
            }
        });
        m.guest(b.0, b.1, move |g| match g.step {
            0 => call(g, hv_core::hypercall::fid::VIRQ_RAISE, &[0]),
            1 => {
                sb.borrow_mut().push(("b's raise returned", vec![g.regs.x[0] as u32]));
                call(g, psci::SYSTEM_OFF, &[])
            }
            _ => panic!("vm b runs after SYSTEM_OFF"),
        });
        assert_eq!(boot(m), End::PowerOff);
        assert_eq!(
            *seen.borrow(),
            vec![("a woke with", vec![101]), ("b's raise returned", vec![0])]
        );
        fake::with(|m| {
            // a until its WFI, b until its raise, a again (woken), then b.
            assert_eq!(m.entries, vec![a, a, a, b, a, b]);
            assert_eq!(m.vttbr_writes, 4);
        });
    }
}

scenario! {
    /// A waiting vCPU's virtual timer wakes it while the CPU idles: the EL2 timer is armed
    /// for the saved deadline, and the timer interrupt is in its list registers.
    fn saved_timer_wakes_an_idle_cpu() {
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let (a, b) = (key(0), key(1));
        let vtimer = SYSTEM.devices.vtimer_intid;
        let deadline = 1_000_000;
        m.guest(a.0, a.1, move |g| {
            if let Some(e) = enable_irq(g, 0, vtimer) {
                return e;
            }
            match g.step {
                2 => {
                    g.el1.cntv_cval = deadline;
                    g.el1.cntv_ctl = hv_arch::timer::CTL_ENABLE;
                    GuestExit::Wfi
                }
                3 => {
                    *s.borrow_mut() = Some((g.now, g.pending_virqs()));
                    call(g, psci::SYSTEM_OFF, &[])
                }
                _ => panic!("vm a runs after SYSTEM_OFF"),
            }
        });
        m.guest(b.0, b.1, |g| call(g, psci::SYSTEM_OFF, &[]));
        assert_eq!(boot(m), End::PowerOff);
        let (now, virqs) = seen.borrow().clone().expect("vm a woke");
        assert!(now >= deadline, "woken at {now}, before {deadline}");
        assert_eq!(virqs, vec![vtimer]);
        assert!(fake::with(|m| m.idles) >= 1);
    }
}

scenario! {
    /// A guest's illegal access and an undefined instruction get exceptions injected at
    /// its vector; the hypervisor goes on (the run ends with SYSTEM_OFF, not a reset).
    fn illegal_accesses_get_exceptions_injected() {
        const VBAR: u64 = 0x4000_8000;
        const PC: u64 = 0x4000_0100;
        const BAD_IPA: u64 = 0x3000_0000;
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let (a, b) = (key(0), key(1));
        m.guest(a.0, a.1, move |g| match g.step {
            0 => {
                g.el1.vbar = VBAR;
                g.regs.elr = PC;
                GuestExit::DataAbort {
                    ipa: BAD_IPA,
                    write: false,
                    size: 8,
                    reg: 2,
                }
            }
            1 => {
                s.borrow_mut()
                    .push((g.regs.elr, g.el1.esr >> 26, g.el1.far, g.el1.elr));
                g.regs.elr = PC;
                // EC 0: an unknown instruction.
                GuestExit::Sync {
                    esr: 1 << 25,
                    far: 0,
                    hpfar: 0,
                }
            }
            2 => {
                s.borrow_mut().push((g.regs.elr, g.el1.esr >> 26, 0, g.el1.elr));
                call(g, psci::SYSTEM_OFF, &[])
            }
            _ => panic!("vm a runs after SYSTEM_OFF"),
        });
        m.guest(b.0, b.1, |g| call(g, psci::SYSTEM_OFF, &[]));
        assert_eq!(boot(m), End::PowerOff);
        // Both taken at "current EL with SP_ELx, synchronous" (VBAR + 0x200), returning
        // to the faulting instruction: a data abort (EC 0x25) at the IPA, then EC 0.
        assert_eq!(
            *seen.borrow(),
            vec![(VBAR + 0x200, 0x25, BAD_IPA, PC), (VBAR + 0x200, 0, 0, PC)]
        );
    }
}

scenario! {
    /// SYSTEM_OFF of one VM ends only that VM; the other keeps the CPU until it powers
    /// off too, and then the machine powers off.
    fn the_last_vm_ending_powers_off() {
        let mut m = Machine::new();
        let (a, b) = (key(0), key(1));
        m.guest(a.0, a.1, |g| match g.step {
            0 => call(g, psci::SYSTEM_OFF, &[]),
            _ => panic!("vm a runs after SYSTEM_OFF"),
        });
        m.guest(b.0, b.1, |g| match g.step {
            0..=2 => call(g, psci::VERSION, &[]),
            3 => call(g, psci::SYSTEM_OFF, &[]),
            _ => panic!("vm b runs after SYSTEM_OFF"),
        });
        assert_eq!(boot(m), End::PowerOff);
        fake::with(|m| {
            assert_eq!(m.steps(a.0, a.1), 1);
            assert_eq!(m.steps(b.0, b.1), 4);
        });
        let text = uart_text();
        let a_off = text.find("hv: vm a: powered off").expect("vm a's power-off");
        let b_off = text.find("hv: vm b: powered off").expect("vm b's power-off");
        assert!(a_off < b_off);
    }
}

scenario! {
    /// A vCPU that waits with nothing able to wake it leaves the CPU idle with nothing to
    /// wait for: the machine is not powered off while its VM lives.
    fn a_waiting_vm_keeps_the_machine_on() {
        let mut m = Machine::new();
        let (a, b) = (key(0), key(1));
        m.guest(a.0, a.1, |_| GuestExit::Wfi);
        m.guest(b.0, b.1, |g| call(g, psci::SYSTEM_OFF, &[]));
        assert_eq!(boot(m), End::Deadlock);
        fake::with(|m| assert_eq!(m.entries, vec![a, b]));
    }
}

scenario! {
    /// FP/SIMD registers move lazily and stay each VM's: `a` writes its own and waits; `b`,
    /// next on the CPU, traps at its first FP instruction and finds its own (reset: zero),
    /// not `a`'s; `a`, woken, traps once more and finds its values again. A vCPU that owns
    /// the registers does not trap. (Each of these scripted steps begins with an FP
    /// instruction.)
    fn fp_registers_move_lazily_and_stay_each_vms() {
        const A: u128 = 0xa5a5_0000_0000_0000_0000_0000_0000_0001;
        const B: u128 = 0xbbbb;
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (sa, sb) = (seen.clone(), seen.clone());
        let (a, b) = (key(0), key(1));
        let mut phase_a = 0;
        m.guest(a.0, a.1, move |g| {
            if let Some(e) = enable_irq(g, 0, 101) {
                return e;
            }
            let Some(fp) = g.fp.as_deref_mut() else {
                sa.borrow_mut().push(("a trapped", 0));
                return GuestExit::FpTrap;
            };
            phase_a += 1;
            match phase_a {
                1 => {
                    fp.q[0] = A;
                    fp.q[31] = !A;
                    fp.fpcr = 0x0300_0000;
                    // Its own registers: the next FP instruction does not trap.
                    call(g, hv_core::hypercall::fid::VM_INFO, &[])
                }
                2 => GuestExit::Wfi,
                _ => {
                    sa.borrow_mut().push(("a sees", (fp.q[0] ^ !fp.q[31]) | fp.fpcr as u128));
                    call(g, psci::SYSTEM_OFF, &[])
                }
            }
        });
        let mut phase_b = 0;
        m.guest(b.0, b.1, move |g| {
            let Some(fp) = g.fp.as_deref_mut() else {
                sb.borrow_mut().push(("b trapped", 0));
                return GuestExit::FpTrap;
            };
            phase_b += 1;
            match phase_b {
                1 => {
                    sb.borrow_mut().push(("b sees", fp.q[0] | fp.q[31] | fp.fpcr as u128));
                    fp.q[0] = B;
                    call(g, hv_core::hypercall::fid::VIRQ_RAISE, &[0])
                }
                _ => call(g, psci::SYSTEM_OFF, &[]),
            }
        });
        assert_eq!(boot(m), End::PowerOff);
        assert_eq!(
            *seen.borrow(),
            vec![
                ("a trapped", 0),
                ("b trapped", 0),
                ("b sees", 0),
                ("a trapped", 0),
                ("a sees", 0x0300_0000),
                // b's SYSTEM_OFF is an FP instruction again.
                ("b trapped", 0),
            ]
        );
    }
}

scenario! {
    /// An SError that `a`'s accesses left pending when it stopped running is charged to
    /// `a` at the hand-over (its VM stops, as for any SError of its own), before `b` runs;
    /// `b` is not touched by it.
    fn late_serror_is_charged_to_the_vm_that_caused_it() {
        let mut m = Machine::new();
        let ran_b = Rc::new(RefCell::new(0));
        let r = ran_b.clone();
        let (a, b) = (key(0), key(1));
        m.guest(a.0, a.1, move |g| match g.step {
            0 => {
                fake::with(|m| m.serror_pending = true);
                GuestExit::Wfi
            }
            _ => panic!("vm a runs after its SError"),
        });
        m.guest(b.0, b.1, move |g| {
            *r.borrow_mut() += 1;
            match g.step {
                0 => call(g, hv_core::hypercall::fid::VM_INFO, &[]),
                _ => call(g, psci::SYSTEM_OFF, &[]),
            }
        });
        assert_eq!(boot(m), End::PowerOff);
        assert_eq!(*ran_b.borrow(), 2);
        let text = uart_text();
        assert!(
            text.contains("vm a: vCPU 0 stopped: SError from the guest"),
            "{text}"
        );
        assert!(!text.contains("vm b: vCPU 0 stopped"), "{text}");
        fake::with(|m| assert!(!m.serror_pending));
    }
}

scenario! {
    /// A busy vCPU's own timer tick goes straight into a list register: it sees it once
    /// at its next entry, deactivates it, and the next tick comes the same way.
    fn timer_tick_goes_straight_into_a_list_register() {
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let (a, b) = (key(0), key(1));
        let vtimer = SYSTEM.devices.vtimer_intid;
        m.guest(a.0, a.1, move |g| {
            if let Some(e) = enable_irq(g, 0, vtimer) {
                return e;
            }
            match g.step {
                2 | 3 => {
                    if g.step == 3 {
                        s.borrow_mut().push(g.pending_virqs());
                        let id = g.ack_virq().expect("the tick is pending");
                        g.eoi_virq(id);
                    }
                    GuestExit::Irq(vtimer)
                }
                4 => {
                    s.borrow_mut().push(g.pending_virqs());
                    call(g, psci::SYSTEM_OFF, &[])
                }
                _ => panic!("vm a runs after SYSTEM_OFF"),
            }
        });
        m.guest(b.0, b.1, |g| call(g, psci::SYSTEM_OFF, &[]));
        assert_eq!(boot(m), End::PowerOff);
        assert_eq!(*seen.borrow(), vec![vec![vtimer], vec![vtimer]]);
        fake::with(|m| assert_eq!(m.entries, vec![a, a, a, a, a, b]));
    }
}

scenario! {
    /// A tick that went into a list register while a reschedule request came with it
    /// goes back to the model when the run loop looks at the schedule: the vCPU, picked
    /// again, sees it exactly once (not twice, not lost).
    fn a_tick_left_in_a_list_register_is_taken_back_at_a_reschedule() {
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let (a, b) = (key(0), key(1));
        let vtimer = SYSTEM.devices.vtimer_intid;
        m.guest(a.0, a.1, move |g| {
            if let Some(e) = enable_irq(g, 0, vtimer) {
                return e;
            }
            match g.step {
                2 => {
                    // The tick, then a kick: both wait when the hypervisor takes them.
                    fake::with(|m| m.pending.push_back(vtimer));
                    GuestExit::Irq(hv_arch::gic::KICK_SGI)
                }
                3 => {
                    *s.borrow_mut() = Some(g.pending_virqs());
                    call(g, psci::SYSTEM_OFF, &[])
                }
                _ => panic!("vm a runs after SYSTEM_OFF"),
            }
        });
        m.guest(b.0, b.1, |g| call(g, psci::SYSTEM_OFF, &[]));
        assert_eq!(boot(m), End::PowerOff);
        assert_eq!(*seen.borrow(), Some(vec![vtimer]));
    }
}

scenario! {
    /// A higher-priority vCPU asleep on its virtual timer wakes at its deadline although a
    /// lower-priority one keeps the CPU busy (hypercalls, never WFI): the EL2 timer stands
    /// in for the sleeper's stopped timer.
    fn a_busy_lower_priority_vm_does_not_keep_a_sleeper_past_its_deadline() {
        let mut m = Machine::new();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let (a, b) = (key(0), key(1));
        let vtimer = SYSTEM.devices.vtimer_intid;
        let ticks = m.step_ticks;
        let deadline = Rc::new(RefCell::new(0u64));
        let (da, db) = (deadline.clone(), deadline.clone());
        m.guest(a.0, a.1, move |g| {
            if let Some(e) = enable_irq(g, 0, vtimer) {
                return e;
            }
            match g.step {
                2 => {
                    *da.borrow_mut() = g.now + 20 * ticks;
                    g.el1.cntv_cval = g.now + 20 * ticks;
                    g.el1.cntv_ctl = hv_arch::timer::CTL_ENABLE;
                    GuestExit::Wfi
                }
                3 => {
                    *s.borrow_mut() = Some((g.now, g.pending_virqs()));
                    call(g, psci::SYSTEM_OFF, &[])
                }
                _ => panic!("vm a runs after SYSTEM_OFF"),
            }
        });
        // Busy for far longer than a's sleep: 200 hypercalls, then off.
        m.guest(b.0, b.1, move |g| match g.step {
            0..200 => call(g, psci::VERSION, &[]),
            _ => {
                assert!(*db.borrow() != 0);
                call(g, psci::SYSTEM_OFF, &[])
            }
        });
        assert_eq!(boot(m), End::PowerOff);
        let (now, virqs) = seen.borrow().clone().expect("vm a woke");
        let deadline = *deadline.borrow();
        assert!(
            now >= deadline && now <= deadline + 4 * ticks,
            "woke at {now}, deadline {deadline}"
        );
        assert_eq!(virqs, vec![vtimer]);
    }
}
