//! Lightweight VMs on: boot, the EL0 run path, faults, events.
//!
//! Ownership: an lwVM is pinned to one CPU like a vCPU; its registers live in its
//! [`Vcpu`] slot (x0..x30/PC/PSTATE in `regs`, SP_EL0 and TPIDR_EL0 in `el1.sp_el0` and
//! `el1.tpidr_el0`; the rest of `el1` is unused) and only that CPU touches them. What
//! other CPUs touch is atomic: its event word, its restart count.
//!
//! FP/SIMD registers are switched lazily ([`fp`]): an lwVM never sees a full VM's.
//!
//! Faults (a bad address, an undefined or privileged instruction, a system register,
//! an SError) never reach the hypervisor's own state: the lwVM is stopped or reloaded
//! from its pristine image, as its `restart` policy says, and the fault is logged.
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use hv_arch::context::Exit;
use hv_arch::{firmware, regs};
use hv_core::sysdesc::RestartPolicy;
use hv_lwvm::El0Regs;
use hv_lwvm::abi::event_bit;
use hv_lwvm::events::Events;
use hv_lwvm::trap::{LwFault, LwTrap};

use hv_core::ext::{Core, Extension, Ran};
use hv_core::ids::{CpuId, VcpuId, VmId};

use super::super::api::{Hv, MAX_VMS, Power, Vcpu};
use super::super::generated::SYSTEM;
use crate::hvlog;

mod fp;
#[cfg(feature = "shadow-paging")]
mod shadow;
#[cfg(not(feature = "shadow-paging"))]
#[path = "enabled/shadow_off.rs"]
mod shadow;
mod syscall;

/// What an lwVM's shadow paging made of a trap (`shadow::handle`).
pub enum Outcome {
    /// Not a shadow-paging matter: the lwVM's ordinary trap handling goes on.
    NotMine,
    /// Served: the lwVM goes on (retrying, past the instruction, or in its handler).
    Done,
    /// The lwVM did what its paging cannot allow (no handler for its fault, an
    /// unsupported translation control, a store to a table that cannot be emulated):
    /// stop or restart it, logging why.
    Fault(&'static str),
}

/// Restarts after which a faulting lwVM is stopped for good (a fault loop would
/// otherwise hold its CPU at its priority forever).
const MAX_RESTARTS: u32 = 1000;

/// The state of an lwVM other CPUs may touch.
struct LwState {
    /// Channels raised into it and not yet taken.
    events: Events,
    /// Restarts after faults.
    restarts: AtomicU32,
    /// It blocked in WAIT: x0 gets the event mask when it runs again.
    waiting: AtomicBool,
}

static STATE: [LwState; MAX_VMS] = [const {
    LwState {
        events: Events::new(),
        restarts: AtomicU32::new(0),
        waiting: AtomicBool::new(false),
    }
}; MAX_VMS];

/// The lightweight-VM extension: claims the VMs the configuration marks `lwvm`.
pub struct Lwvm;

impl Extension<Hv> for Lwvm {
    fn boot_check(&self) {
        boot_check();
    }
    #[inline(always)]
    fn claims_vm(&self, vm: VmId) -> bool {
        is_lw_vm(vm)
    }
    fn boot_vm(&self, core: &Hv, vm: VmId, state: &mut Vcpu) {
        boot(core, vm, state);
    }
    fn run(&self, core: &Hv, cpu: CpuId, vm: VmId, v: VcpuId, state: &mut Vcpu) -> Ran {
        run(core, cpu, vm, v, state)
    }
    fn has_events(&self, vm: VmId, _v: VcpuId) -> bool {
        STATE[vm.index()].events.pending()
    }
    fn signal(&self, core: &Hv, vm: VmId, channel: u32) {
        signal(core, vm, channel);
    }
    fn before_switch(&self, cpu: CpuId) {
        fp::before_full_vm(cpu);
    }
}

/// Refuses to go on (before the MMU comes on) on a CPU without VHE: the image's tables
/// and register values are for HCR_EL2.E2H=1.
fn boot_check() {
    if !hv_arch::vhe::supported() {
        // No lock and no telemetry yet (the MMU is off): straight to the UART.
        super::super::uart::write(
            b"hv: FATAL: this image runs with HCR_EL2.E2H=1 (feature `lwvm`) but the CPU lacks \
              ARMv8.1 VHE (ID_AA64MMFR1_EL1.VH = 0); powering off\r\n",
        );
        firmware::system_off();
    }
}

/// Whether VM `vm` is an lwVM.
#[inline(always)]
fn is_lw_vm(vm: VmId) -> bool {
    SYSTEM.vm(vm).lwvm.is_some()
}

/// Posts the event of channel `channel` to lwVM `vm` and makes its CPU look again.
fn signal(core: &Hv, vm: VmId, channel: u32) {
    STATE[vm.index()].events.post(event_bit(channel as usize));
    core.kick(SYSTEM.vm(vm).vcpu_id(0));
}

/// Loads lwVM `vm` from its pristine image and makes it runnable at its entry (first
/// boot and every restart), on the CPU that hosts it. Pending events are kept across a
/// restart, so that a request raised just before a fault is served by the new instance.
fn boot(core: &Hv, vm: VmId, vcpu: &mut Vcpu) {
    let d = SYSTEM.vm(vm);
    let Some(lw) = d.lwvm else { return };
    core.load_payload(vm);
    vcpu.regs = Default::default();
    vcpu.regs.x[0] = restarts(vm);
    vcpu.regs.x[1] = vm.raw() as u64;
    vcpu.regs.elr = d.entry_ipa;
    vcpu.regs.spsr = hv_lwvm::SPSR_EL0T;
    vcpu.el1.sp_el0 = lw.stack_top;
    vcpu.el1.tpidr_el0 = 0;
    vcpu.power = Power::On;
    STATE[vm.index()].waiting.store(false, Ordering::Relaxed);
    fp::reset(vm);
    if let Err(e) = shadow::reset(vm) {
        hvlog!("lwvm {}: shadow paging: {e}; stopped", d.name);
        core.vm_off(vm);
    }
}

/// Runs lwVM slot `v` (picked by CPU `cpu`'s schedule) until it traps, and handles the trap.
fn run(core: &Hv, cpu: CpuId, vm: VmId, v: VcpuId, vcpu: &mut Vcpu) -> Ran {
    let Some(lw) = SYSTEM.vm(vm).lwvm else {
        return Ran::Handled;
    };
    if vcpu.power != Power::On || !core.vm_alive(vm) {
        return Ran::Handled;
    }
    let st = &STATE[vm.index()];
    if st.waiting.swap(false, Ordering::Relaxed) {
        vcpu.regs.x[0] = st.events.take();
    }
    let ttbr = shadow::ttbr(vm).unwrap_or(hv_lwvm::ttbr(lw.root, lw.asid));
    if hv_lwvm::installed() != ttbr {
        // SAFETY: the root is an lwVM's table set generated for E2H=1, which holds a
        // privileged copy of the whole EL2 map (a shadow root copies the EL2 half of it).
        unsafe { hv_lwvm::install(ttbr) };
    }
    fp::before_lwvm(cpu, vm);
    let mut el0 = El0Regs {
        sp: vcpu.el1.sp_el0,
        tpidr: vcpu.el1.tpidr_el0,
    };
    core.trap_enter(cpu, v, vcpu);
    let why = hv_lwvm::enter(&mut vcpu.regs, &mut el0);
    core.trap_exit(cpu, v, &why, vcpu);
    vcpu.el1.sp_el0 = el0.sp;
    vcpu.el1.tpidr_el0 = el0.tpidr;
    match why {
        Exit::Sync => handle_sync(core, cpu, vm, v, vcpu),
        Exit::Irq | Exit::Fiq => return Ran::PhysicalIrq,
        Exit::SError => fault(core, vm, vcpu, LwFault::Other { ec: 0x2f }),
    }
    Ran::Handled
}

fn handle_sync(core: &Hv, cpu: CpuId, vm: VmId, v: VcpuId, vcpu: &mut Vcpu) {
    let s = regs::syndrome();
    let trap = LwTrap::decode(s.esr, s.far);
    match shadow::handle(vm, vcpu, &trap) {
        Outcome::NotMine => {}
        Outcome::Done => return,
        Outcome::Fault(why) => {
            core.console_flush(vm);
            hvlog!("lwvm {}: shadow paging: {why}", SYSTEM.vm(vm).name);
            return fault(core, vm, vcpu, trap_fault(trap));
        }
    }
    match trap {
        // The instruction is retried with the lwVM's own FP registers.
        LwTrap::FpAccess => fp::take(cpu, vm),
        LwTrap::Syscall { imm } => syscall::call(core, vm, v, vcpu, imm),
        LwTrap::Wfx { wfe } => {
            vcpu.regs.elr += 4;
            if !wfe && !STATE[vm.index()].events.pending() {
                vcpu.power = Power::Waiting;
            }
        }
        LwTrap::Fault(f) => fault(core, vm, vcpu, f),
    }
}

/// The fault a trap stands for (a shadow-paging refusal of a trap that was not one).
fn trap_fault(t: LwTrap) -> LwFault {
    match t {
        LwTrap::Fault(f) => f,
        _ => LwFault::Undefined,
    }
}

/// The lwVM did something it may not: stop it or reload it (its restart policy).
fn fault(core: &Hv, vm: VmId, vcpu: &mut Vcpu, f: LwFault) {
    let d = SYSTEM.vm(vm);
    core.console_flush(vm);
    let pc = vcpu.regs.elr;
    match d.restart {
        RestartPolicy::Restart => {
            let n = STATE[vm.index()].restarts.fetch_add(1, Ordering::Relaxed) + 1;
            if n > MAX_RESTARTS {
                hvlog!(
                    "lwvm {}: {f} at pc {pc:#x}; {MAX_RESTARTS} restarts used up: stopped",
                    d.name
                );
                core.vm_off(vm);
                return;
            }
            hvlog!("lwvm {}: {f} at pc {pc:#x}; restart {n}", d.name);
            boot(core, vm, vcpu);
        }
        RestartPolicy::Stop => {
            hvlog!("lwvm {}: {f} at pc {pc:#x}; stopped", d.name);
            core.vm_off(vm);
        }
    }
}

/// Restarts of lwVM `vm` so far.
fn restarts(vm: VmId) -> u64 {
    STATE[vm.index()].restarts.load(Ordering::Relaxed) as u64
}

/// Takes lwVM `vm`'s events for WAIT: the mask now, or block (x0 filled on wake-up).
fn wait(vm: VmId, vcpu: &mut Vcpu) {
    let m = STATE[vm.index()].events.take();
    if m != 0 {
        vcpu.regs.x[0] = m;
    } else {
        STATE[vm.index()].waiting.store(true, Ordering::Relaxed);
        vcpu.power = Power::Waiting;
    }
}

/// Takes lwVM `vm`'s events without blocking.
fn poll(vm: VmId) -> u64 {
    STATE[vm.index()].events.take()
}
