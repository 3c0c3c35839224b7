//! The extension seam: the one interface through which an extension (lightweight VMs,
//! shadow paging, ballooning, big.LITTLE switching) plugs into the static core.
//!
//! Why a seam: each extension reintroduces a little dynamism into a core that decides
//! everything offline. If each one were called by name from the run loop, the interrupt
//! plumbing and the VM life cycle, four of them would tangle the core past reading. Instead
//! the core calls the hooks of [`Extension`] at fixed points, and an extension reaches the
//! core only through [`Core`] (start payloads, raise, kick, end a VM, console, telemetry,
//! the physical interrupts of this CPU) — never the core's modules.
//!
//! Composition is static: the image names its extensions in one tuple type (each `()` when
//! its cargo feature is off). Every hook has a default that does nothing and returns "not
//! mine", and `()` implements the trait with those defaults, so with every feature off the
//! calls inline to constants: zero instructions.
//!
//! Ownership: an extension that runs its own kind of runnable (an lwVM is a VM the
//! configuration marks so, with one execution context in a vCPU slot of its CPU's schedule)
//! claims it with [`Extension::claims_vm`]; the core then lets the extension boot it, run it,
//! signal it and tell whether it has events, and does none of the full-VM work for it.
use crate::ids::{CpuId, VcpuId, VmId};

/// A raise the target VM does not take (an INTID it does not own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotOwned;

/// A trapped access to an extension's device window (`MmioTarget::Extension`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAccess {
    /// Offset in the window.
    pub off: u64,
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// A store (`value` is what is stored) or a load.
    pub write: bool,
    /// The stored value (zero-extended); 0 for a load.
    pub value: u64,
}

/// A vCPU that is to move to another CPU (big.LITTLE switching): what
/// [`Extension::departure`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Departure {
    /// The vCPU (held by the CPU that asked).
    pub vcpu: VcpuId,
    /// Where it runs from now on (one of the CPUs its configuration allows).
    pub to: CpuId,
    /// Who decided (for telemetry).
    pub cause: MoveCause,
}

/// Who decided that a vCPU moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveCause {
    /// The guest's hint.
    Hint,
    /// The utilisation governor.
    Governor,
    /// The configuration's time plan.
    Plan,
}

/// What an extension's [`run`](Extension::run) leaves the core to do: the decision, not
/// the act, so that the extension needs no access to the core's per-CPU state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// The trap was handled; the core looks at its schedule again.
    Handled,
    /// A physical interrupt ended the run: the core takes this CPU's pending interrupts
    /// (the full vCPU still loaded there owns the virtual timer that may have fired).
    PhysicalIrq,
}

/// What the core offers an extension. Implemented once, by the image.
pub trait Core {
    /// The saved state of one execution context (registers and EL1 state).
    type Vcpu;
    /// What the arch reports about a guest exit.
    type Exit;

    /// Loads VM `vm`'s boot payloads (RAM cleared, image copied, caches cleaned).
    fn load_payload(&self, vm: VmId);
    /// Whether VM `vm` is alive (not powered off, not stopped by a fault).
    fn vm_alive(&self, vm: VmId) -> bool;
    /// Ends VM `vm` (it is no longer picked on any CPU; the machine powers off after the
    /// last one).
    fn vm_off(&self, vm: VmId);
    /// Makes the CPU that runs `v` look at its schedule again.
    fn kick(&self, v: VcpuId);
    /// Raises channel interrupt `intid` in VM `vm` (whichever kind of VM it is).
    fn raise(&self, vm: VmId, intid: u32) -> Result<(), NotOwned>;
    /// Writes bytes to VM `vm`'s console.
    fn console_write(&self, vm: VmId, bytes: &[u8]);
    /// Flushes VM `vm`'s partial console line.
    fn console_flush(&self, vm: VmId);
    /// Telemetry: an experiment marker of `v`.
    fn marker(&self, v: VcpuId, id: u16, value: u64);
    /// Telemetry: `v` is entered now (ends the trap being handled).
    fn trap_enter(&self, cpu: CpuId, v: VcpuId, state: &Self::Vcpu);
    /// Telemetry: `v` trapped (`why`) just now.
    fn trap_exit(&self, cpu: CpuId, v: VcpuId, why: &Self::Exit, state: &Self::Vcpu);
}

/// The hooks an extension may implement; every default is "nothing to do / not mine".
///
/// The core calls them at these points:
/// - [`boot_check`](Self::boot_check): on every CPU, before its MMU comes on;
/// - [`claims_vm`](Self::claims_vm): wherever the core would treat a VM as a full VM;
/// - [`boot_vm`](Self::boot_vm) / [`run`](Self::run) / [`has_events`](Self::has_events) /
///   [`signal`](Self::signal): for the VMs it claims;
/// - [`before_switch`](Self::before_switch): before a full vCPU is entered on a CPU;
/// - [`stage2_root`](Self::stage2_root): the stage-2 table a VM runs with;
/// - [`departure`](Self::departure): every pass of a CPU's run loop, a vCPU of that CPU
///   that is to move to another CPU (the core parks it, hands it over and kicks the
///   destination);
/// - [`ran`](Self::ran): a full vCPU left its CPU's run loop turn (how long it ran, and
///   whether it went to wait);
/// - [`on_tick`](Self::on_tick): the CPU's periodic EL2 tick;
/// - [`resync`](Self::resync) / [`deadline`](Self::deadline): every pass of a CPU's
///   run loop, before it picks what to run / when it is about to idle;
/// - [`hypercall`](Self::hypercall): a call of the project's range the core does not know;
/// - [`mmio`](Self::mmio): an access to a device window the configuration gave an
///   extension;
/// - [`vm_ended`](Self::vm_ended): a full VM powers off or is about to restart.
pub trait Extension<C: Core> {
    /// How many functions of the project's hypercall range it answers (added to the
    /// core's in the SMCCC call-count query).
    const CALLS: i64 = 0;

    /// Whether it wants [`ran`](Self::ran) (the core then reads the counter when a vCPU
    /// is taken up and when it leaves; otherwise it does not).
    const ACCOUNTS: bool = false;

    /// Refuses to go on (powers off with a message) when the CPU lacks what the extension
    /// needs. Runs with the MMU off: no locks, no telemetry.
    fn boot_check(&self) {}

    /// Whether VM `vm` is this extension's kind of VM.
    fn claims_vm(&self, _vm: VmId) -> bool {
        false
    }

    /// Boots claimed VM `vm` (first boot and every restart); `state` is its first
    /// execution context.
    fn boot_vm(&self, _core: &C, _vm: VmId, _state: &mut C::Vcpu) {}

    /// Runs runnable `v` of claimed VM `vm` (picked by CPU `cpu`'s schedule) until it traps,
    /// handles the trap, and says what the core must do next.
    fn run(&self, _core: &C, _cpu: CpuId, _vm: VmId, _v: VcpuId, _state: &mut C::Vcpu) -> Ran {
        Ran::Handled
    }

    /// Whether runnable `v` of claimed VM `vm`, waiting, has something to wake up for.
    fn has_events(&self, _vm: VmId, _v: VcpuId) -> bool {
        false
    }

    /// Delivers channel `channel` raised into claimed VM `vm`.
    fn signal(&self, _core: &C, _vm: VmId, _channel: u32) {}

    /// A full vCPU is about to run on CPU `cpu` (give back what an extension's runnable
    /// holds there, e.g. FP/SIMD registers).
    fn before_switch(&self, _cpu: CpuId) {}

    /// The stage-2 root VM `vm` runs with instead of its generated one.
    fn stage2_root(&self, _vm: VmId) -> Option<u64> {
        None
    }

    /// A vCPU that CPU `cpu` holds and that is to run on another CPU from now on, and
    /// that CPU (one of the vCPU's `cpus`): asked at the top of the run loop, where no
    /// guest runs. The core carries the move out (`state::owner`) and calls
    /// [`moved`](Self::moved).
    fn departure(&self, _cpu: CpuId) -> Option<Departure> {
        None
    }

    /// vCPU `v`, parked on CPU `from`, is handed to CPU `to` now: called just before the
    /// hand-over, so that what the extension keeps for `to` is ready when `to` takes the
    /// vCPU up (which it may do at once).
    fn moved(&self, _core: &C, _v: VcpuId, _from: CpuId, _to: CpuId) {}

    /// Full vCPU `v` ran on CPU `cpu` from counter value `since` to `now`, and then went
    /// to wait (`waiting`) or gave the CPU up for another reason.
    fn ran(&self, _cpu: CpuId, _v: VcpuId, _since: u64, _now: u64, _waiting: bool) {}

    /// The periodic EL2 tick of CPU `cpu` at counter value `now`.
    fn on_tick(&self, _cpu: CpuId, _now: u64) {}

    /// CPU `cpu` passes the top of its run loop: nothing of a guest runs on it, and
    /// whatever it enters next is loaded after this (where an extension that changed a
    /// VM's translation learns that this CPU no longer uses the old one).
    fn resync(&self, _core: &C, _cpu: CpuId) {}

    /// The earliest counter value at which CPU `cpu`, about to idle, must pass its run
    /// loop again for this extension.
    fn deadline(&self, _cpu: CpuId) -> Option<u64> {
        None
    }

    /// A call of the project's hypercall range that the core does not implement, from VM
    /// `vm` on CPU `cpu` (`x` = x0..x5): the results for x0..x3, or `None` if it is not
    /// this extension's either.
    fn hypercall(&self, _core: &C, _cpu: CpuId, _vm: VmId, _x: &[u64; 6]) -> Option<[u64; 4]> {
        None
    }

    /// An access of full VM `vm` (on CPU `cpu`) to device window `dev` that the
    /// configuration routes to an extension (`MmioTarget::Extension(dev)`): the value a
    /// load returns (ignored for a store), or `None` if the window is not this
    /// extension's (the core then injects an abort, as for any unbacked address).
    fn mmio(&self, _core: &C, _cpu: CpuId, _vm: VmId, _dev: u16, _a: DeviceAccess) -> Option<u64> {
        None
    }

    /// Full VM `vm` powered off or is about to restart (all its vCPUs stopped), on CPU
    /// `cpu`: what it held of the extension goes back.
    fn vm_ended(&self, _core: &C, _cpu: CpuId, _vm: VmId) {}
}

/// No extension: every hook is its default.
impl<C: Core> Extension<C> for () {}

/// Two extensions side by side: a VM is claimed by the first that claims it; hooks without
/// a claim run both in order; the first answer wins.
impl<C: Core, A: Extension<C>, B: Extension<C>> Extension<C> for (A, B) {
    const CALLS: i64 = A::CALLS + B::CALLS;
    const ACCOUNTS: bool = A::ACCOUNTS || B::ACCOUNTS;
    fn boot_check(&self) {
        self.0.boot_check();
        self.1.boot_check();
    }
    fn claims_vm(&self, vm: VmId) -> bool {
        self.0.claims_vm(vm) || self.1.claims_vm(vm)
    }
    fn boot_vm(&self, core: &C, vm: VmId, state: &mut C::Vcpu) {
        if self.0.claims_vm(vm) {
            self.0.boot_vm(core, vm, state)
        } else {
            self.1.boot_vm(core, vm, state)
        }
    }
    fn run(&self, core: &C, cpu: CpuId, vm: VmId, v: VcpuId, state: &mut C::Vcpu) -> Ran {
        if self.0.claims_vm(vm) {
            self.0.run(core, cpu, vm, v, state)
        } else {
            self.1.run(core, cpu, vm, v, state)
        }
    }
    fn has_events(&self, vm: VmId, v: VcpuId) -> bool {
        if self.0.claims_vm(vm) {
            self.0.has_events(vm, v)
        } else {
            self.1.has_events(vm, v)
        }
    }
    fn signal(&self, core: &C, vm: VmId, channel: u32) {
        if self.0.claims_vm(vm) {
            self.0.signal(core, vm, channel)
        } else {
            self.1.signal(core, vm, channel)
        }
    }
    fn before_switch(&self, cpu: CpuId) {
        self.0.before_switch(cpu);
        self.1.before_switch(cpu);
    }
    fn stage2_root(&self, vm: VmId) -> Option<u64> {
        self.0.stage2_root(vm).or_else(|| self.1.stage2_root(vm))
    }
    fn departure(&self, cpu: CpuId) -> Option<Departure> {
        self.0.departure(cpu).or_else(|| self.1.departure(cpu))
    }
    fn moved(&self, core: &C, v: VcpuId, from: CpuId, to: CpuId) {
        self.0.moved(core, v, from, to);
        self.1.moved(core, v, from, to);
    }
    fn ran(&self, cpu: CpuId, v: VcpuId, since: u64, now: u64, waiting: bool) {
        self.0.ran(cpu, v, since, now, waiting);
        self.1.ran(cpu, v, since, now, waiting);
    }
    fn on_tick(&self, cpu: CpuId, now: u64) {
        self.0.on_tick(cpu, now);
        self.1.on_tick(cpu, now);
    }
    fn resync(&self, core: &C, cpu: CpuId) {
        self.0.resync(core, cpu);
        self.1.resync(core, cpu);
    }
    fn deadline(&self, cpu: CpuId) -> Option<u64> {
        match (self.0.deadline(cpu), self.1.deadline(cpu)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn hypercall(&self, core: &C, cpu: CpuId, vm: VmId, x: &[u64; 6]) -> Option<[u64; 4]> {
        self.0
            .hypercall(core, cpu, vm, x)
            .or_else(|| self.1.hypercall(core, cpu, vm, x))
    }
    fn mmio(&self, core: &C, cpu: CpuId, vm: VmId, dev: u16, a: DeviceAccess) -> Option<u64> {
        self.0
            .mmio(core, cpu, vm, dev, a)
            .or_else(|| self.1.mmio(core, cpu, vm, dev, a))
    }
    fn vm_ended(&self, core: &C, cpu: CpuId, vm: VmId) {
        self.0.vm_ended(core, cpu, vm);
        self.1.vm_ended(core, cpu, vm);
    }
}

#[cfg(test)]
mod tests;
