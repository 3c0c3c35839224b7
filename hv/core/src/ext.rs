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
use crate::sysdesc::{CpuIndex, VcpuIndex, VmIndex};

/// A raise the target VM does not take (an INTID it does not own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotOwned;

/// What the core offers an extension. Implemented once, by the image.
pub trait Core {
    /// The saved state of one execution context (registers and EL1 state).
    type Vcpu;
    /// The run loop's per-CPU context.
    type Cpu;
    /// What the arch reports about a guest exit.
    type Exit;

    /// Loads VM `vm`'s boot payloads (RAM cleared, image copied, caches cleaned).
    fn load_payload(&self, vm: VmIndex);
    /// Whether VM `vm` is alive (not powered off, not stopped by a fault).
    fn vm_alive(&self, vm: VmIndex) -> bool;
    /// Ends VM `vm` (it is no longer picked on any CPU; the machine powers off after the
    /// last one).
    fn vm_off(&self, vm: VmIndex);
    /// Makes the CPU that runs `v` look at its schedule again.
    fn kick(&self, v: VcpuIndex);
    /// Raises channel interrupt `intid` in VM `vm` (whichever kind of VM it is).
    fn raise(&self, vm: VmIndex, intid: u32) -> Result<(), NotOwned>;
    /// Writes bytes to VM `vm`'s console.
    fn console_write(&self, vm: VmIndex, bytes: &[u8]);
    /// Flushes VM `vm`'s partial console line.
    fn console_flush(&self, vm: VmIndex);
    /// Takes the physical interrupts pending on this CPU (the full vCPU loaded, if any, owns
    /// the virtual timer that may fire).
    fn physical_irqs(&self, cpu: &mut Self::Cpu);
    /// Telemetry: an experiment marker of `v`.
    fn marker(&self, v: VcpuIndex, id: u16, value: u64);
    /// Telemetry: `v` is entered now (ends the trap being handled).
    fn trap_enter(&self, cpu: &Self::Cpu, v: VcpuIndex, state: &Self::Vcpu);
    /// Telemetry: `v` trapped (`why`) just now.
    fn trap_exit(&self, cpu: &Self::Cpu, v: VcpuIndex, why: &Self::Exit, state: &Self::Vcpu);
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
/// - [`placement`](Self::placement): the CPU a vCPU runs on next;
/// - [`on_tick`](Self::on_tick): the CPU's periodic EL2 tick.
pub trait Extension<C: Core> {
    /// Refuses to go on (powers off with a message) when the CPU lacks what the extension
    /// needs. Runs with the MMU off: no locks, no telemetry.
    fn boot_check(&self) {}

    /// Whether VM `vm` is this extension's kind of VM.
    fn claims_vm(&self, _vm: VmIndex) -> bool {
        false
    }

    /// Boots claimed VM `vm` (first boot and every restart); `state` is its first
    /// execution context.
    fn boot_vm(&self, _core: &C, _vm: VmIndex, _state: &mut C::Vcpu) {}

    /// Runs runnable `v` of claimed VM `vm` (picked by the schedule) until it traps, and
    /// handles the trap.
    fn run(&self, _core: &C, _cpu: &mut C::Cpu, _vm: VmIndex, _v: VcpuIndex, _state: &mut C::Vcpu) {
    }

    /// Whether runnable `v` of claimed VM `vm`, waiting, has something to wake up for.
    fn has_events(&self, _vm: VmIndex, _v: VcpuIndex) -> bool {
        false
    }

    /// Delivers channel `channel` raised into claimed VM `vm`.
    fn signal(&self, _core: &C, _vm: VmIndex, _channel: u32) {}

    /// A full vCPU is about to run on CPU `cpu` (give back what an extension's runnable
    /// holds there, e.g. FP/SIMD registers).
    fn before_switch(&self, _cpu: CpuIndex) {}

    /// The stage-2 root VM `vm` runs with instead of its generated one.
    fn stage2_root(&self, _vm: VmIndex) -> Option<u64> {
        None
    }

    /// The CPU vCPU `v` runs on next instead of its configured one.
    fn placement(&self, _v: VcpuIndex) -> Option<CpuIndex> {
        None
    }

    /// The periodic EL2 tick of CPU `cpu` at counter value `now`.
    fn on_tick(&self, _cpu: CpuIndex, _now: u64) {}
}

/// No extension: every hook is its default.
impl<C: Core> Extension<C> for () {}

/// Two extensions side by side: a VM is claimed by the first that claims it; hooks without
/// a claim run both in order; the first answer wins.
impl<C: Core, A: Extension<C>, B: Extension<C>> Extension<C> for (A, B) {
    fn boot_check(&self) {
        self.0.boot_check();
        self.1.boot_check();
    }
    fn claims_vm(&self, vm: VmIndex) -> bool {
        self.0.claims_vm(vm) || self.1.claims_vm(vm)
    }
    fn boot_vm(&self, core: &C, vm: VmIndex, state: &mut C::Vcpu) {
        if self.0.claims_vm(vm) {
            self.0.boot_vm(core, vm, state)
        } else {
            self.1.boot_vm(core, vm, state)
        }
    }
    fn run(&self, core: &C, cpu: &mut C::Cpu, vm: VmIndex, v: VcpuIndex, state: &mut C::Vcpu) {
        if self.0.claims_vm(vm) {
            self.0.run(core, cpu, vm, v, state)
        } else {
            self.1.run(core, cpu, vm, v, state)
        }
    }
    fn has_events(&self, vm: VmIndex, v: VcpuIndex) -> bool {
        if self.0.claims_vm(vm) {
            self.0.has_events(vm, v)
        } else {
            self.1.has_events(vm, v)
        }
    }
    fn signal(&self, core: &C, vm: VmIndex, channel: u32) {
        if self.0.claims_vm(vm) {
            self.0.signal(core, vm, channel)
        } else {
            self.1.signal(core, vm, channel)
        }
    }
    fn before_switch(&self, cpu: CpuIndex) {
        self.0.before_switch(cpu);
        self.1.before_switch(cpu);
    }
    fn stage2_root(&self, vm: VmIndex) -> Option<u64> {
        self.0.stage2_root(vm).or_else(|| self.1.stage2_root(vm))
    }
    fn placement(&self, v: VcpuIndex) -> Option<CpuIndex> {
        self.0.placement(v).or_else(|| self.1.placement(v))
    }
    fn on_tick(&self, cpu: CpuIndex, now: u64) {
        self.0.on_tick(cpu, now);
        self.1.on_tick(cpu, now);
    }
}

#[cfg(test)]
mod tests;
