//! The per-VM vCPU power-state machine behind PSCI.
//!
//! Why: PSCI's answers depend on the state of the VM's vCPUs (CPU_ON on a running vCPU is
//! ALREADY_ON, AFFINITY_INFO reports ON/OFF/ON_PENDING). The model holds that state for
//! one VM and turns each call into a [`PsciDecision`] the arch carries out; it never
//! touches registers or other VMs. Spec: DEN 0022 1.1, the CPU_ON, CPU_OFF, AFFINITY_INFO, CPU_SUSPEND,
//! SYSTEM_OFF/RESET and PSCI_FEATURES descriptions, and "power state
//! coordination" (ON_PENDING).
//!
//! Invariants:
//! - A VM can only name its own vCPUs: targets are looked up by MPIDR affinity
//!   (Aff3..Aff0; other bits ignored) among the VM's vCPUs only.
//! - A CPU_ON entry point must lie inside the VM's RAM and be 4-byte aligned, otherwise
//!   INVALID_ADDRESS: the arch never starts a vCPU outside its VM's memory.
//! - `StartVcpu` leaves the target `OnPending` until the arch reports it running with
//!   [`PsciVm::mark_on`] (call it at once if the start is synchronous).

use super::{MIGRATE_INFO_TYPE_NOT_PRESENT, PSCI_VERSION_1_1, PsciCall, implemented, ret};
use crate::smccc::{self, ArchCall};

/// MPIDR affinity fields: Aff3 \[39:32\], Aff2 \[23:16\], Aff1 \[15:8\], Aff0 \[7:0\].
pub const MPIDR_AFF_MASK: u64 = 0xFF_00FF_FFFF;

/// Power state of one vCPU (the AFFINITY_INFO view).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    /// Running (or runnable).
    On,
    /// Off: waits for CPU_ON.
    Off,
    /// CPU_ON accepted, not yet running.
    OnPending,
}

impl PowerState {
    /// The AFFINITY_INFO return value: 0 ON, 1 OFF, 2 ON_PENDING.
    pub const fn affinity_info(self) -> i64 {
        match self {
            PowerState::On => 0,
            PowerState::Off => 1,
            PowerState::OnPending => 2,
        }
    }
}

/// What the arch must do after a PSCI (or SMCCC architecture) call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciDecision {
    /// Write this value to the caller's x0 and resume it.
    Reply(i64),
    /// Start the VM's vCPU `vcpu` (index within the VM) at `entry` with
    /// `x0 = context_id`, at EL1h with MMU/caches off and DAIF masked; write SUCCESS to
    /// the caller's x0 and resume it.
    StartVcpu {
        /// Index of the vCPU within the VM.
        vcpu: usize,
        /// Guest-physical entry point (checked inside the VM's RAM).
        entry: u64,
        /// Value for the target's x0.
        context_id: u64,
    },
    /// The caller is now off: stop running it (it only comes back through CPU_ON).
    StopThisVcpu,
    /// CPU_SUSPEND: wait for an interrupt as WFI would, then write SUCCESS to x0.
    Suspend,
    /// Power the whole VM off.
    SystemOff,
    /// Reset the whole VM (the arch reloads its images and calls [`PsciVm::reset`]).
    SystemReset,
}

/// The power state of one VM's vCPUs, for at most `N` vCPUs.
#[derive(Debug, Clone)]
pub struct PsciVm<const N: usize> {
    mpidr: [u64; N],
    state: [PowerState; N],
    count: usize,
    ram_ipa: u64,
    ram_size: u64,
}

impl<const N: usize> PsciVm<N> {
    /// A VM whose vCPU `i` has MPIDR `mpidrs[i]` and whose RAM is
    /// `[ram_ipa, ram_ipa + ram_size)`. vCPU 0 is on, the others off. `None` when there
    /// are no vCPUs or more than `N`.
    pub fn new(mpidrs: &[u64], ram_ipa: u64, ram_size: u64) -> Option<Self> {
        if mpidrs.is_empty() || mpidrs.len() > N {
            return None;
        }
        let mut vm = PsciVm {
            mpidr: [0; N],
            state: [PowerState::Off; N],
            count: mpidrs.len(),
            ram_ipa,
            ram_size,
        };
        vm.mpidr[..mpidrs.len()].copy_from_slice(mpidrs);
        vm.reset();
        Some(vm)
    }

    /// Back to the boot state: vCPU 0 on, all others off.
    pub fn reset(&mut self) {
        self.state = [PowerState::Off; N];
        self.state[0] = PowerState::On;
    }

    /// Number of vCPUs.
    pub fn vcpus(&self) -> usize {
        self.count
    }

    /// Power state of vCPU `vcpu` (`Off` for an index out of range).
    pub fn state(&self, vcpu: usize) -> PowerState {
        if vcpu < self.count {
            self.state[vcpu]
        } else {
            PowerState::Off
        }
    }

    /// The arch reports that a started vCPU runs.
    pub fn mark_on(&mut self, vcpu: usize) {
        if vcpu < self.count {
            self.state[vcpu] = PowerState::On;
        }
    }

    /// The vCPU with this MPIDR affinity.
    pub fn find(&self, mpidr: u64) -> Option<usize> {
        self.mpidr[..self.count]
            .iter()
            .position(|m| m & MPIDR_AFF_MASK == mpidr & MPIDR_AFF_MASK)
    }

    fn entry_ok(&self, entry: u64) -> bool {
        entry & 3 == 0 && entry >= self.ram_ipa && entry - self.ram_ipa < self.ram_size
    }

    /// The reply to a call whose answer depends on no vCPU's or VM's state (SMCCC_VERSION,
    /// SMCCC_ARCH_FEATURES, PSCI_VERSION, PSCI_FEATURES, MIGRATE_INFO_TYPE), or `None`.
    /// The trap path answers these without taking the VM's lock.
    #[inline]
    pub fn constant_reply(x: [u64; 4]) -> Option<i64> {
        // The two version queries first, one compare each (inlined into the trap paths):
        // the decoders of the others build every call's arguments before they match.
        match x[0] as u32 {
            super::fid::VERSION => Some(PSCI_VERSION_1_1),
            smccc::SMCCC_VERSION => Some(smccc::VERSION_1_1),
            _ => Self::constant_query(x),
        }
    }

    /// [`Self::constant_reply`] of the feature queries and MIGRATE_INFO_TYPE.
    fn constant_query(x: [u64; 4]) -> Option<i64> {
        if let Some(arch) = ArchCall::decode(x[0], x[1]) {
            return Some(arch.reply(|f| implemented(f) || crate::hypercall::implemented(f)));
        }
        match PsciCall::decode(x) {
            PsciCall::Version => Some(PSCI_VERSION_1_1),
            PsciCall::MigrateInfoType => Some(MIGRATE_INFO_TYPE_NOT_PRESENT),
            PsciCall::Features { fid } if implemented(fid) => Some(ret::SUCCESS),
            PsciCall::Features { .. } => Some(ret::NOT_SUPPORTED),
            _ => None,
        }
    }

    /// Handles a call from vCPU `caller` (index within the VM) with registers x0..x3.
    /// Covers PSCI and the SMCCC architecture calls (SMCCC_VERSION, ARCH_FEATURES, which
    /// also answers for the project's hypercalls); anything else gets NOT_SUPPORTED.
    pub fn handle(&mut self, caller: usize, x: [u64; 4]) -> PsciDecision {
        use PsciDecision::Reply;
        if caller >= self.count {
            return Reply(ret::INTERNAL_FAILURE);
        }
        if let Some(r) = Self::constant_reply(x) {
            return Reply(r);
        }
        match PsciCall::decode(x) {
            PsciCall::Version | PsciCall::MigrateInfoType | PsciCall::Features { .. } => {
                unreachable!("answered by constant_reply")
            }
            PsciCall::CpuSuspend { .. } => PsciDecision::Suspend,
            PsciCall::CpuOff => {
                self.state[caller] = PowerState::Off;
                PsciDecision::StopThisVcpu
            }
            PsciCall::CpuOn {
                target,
                entry,
                context_id,
            } => {
                let Some(vcpu) = self.find(target) else {
                    return Reply(ret::INVALID_PARAMETERS);
                };
                match self.state[vcpu] {
                    PowerState::On => Reply(ret::ALREADY_ON),
                    PowerState::OnPending => Reply(ret::ON_PENDING),
                    PowerState::Off if !self.entry_ok(entry) => Reply(ret::INVALID_ADDRESS),
                    PowerState::Off => {
                        self.state[vcpu] = PowerState::OnPending;
                        PsciDecision::StartVcpu {
                            vcpu,
                            entry,
                            context_id,
                        }
                    }
                }
            }
            PsciCall::AffinityInfo {
                target,
                lowest_level,
            } => match (lowest_level, self.find(target)) {
                (0, Some(vcpu)) => Reply(self.state[vcpu].affinity_info()),
                _ => Reply(ret::INVALID_PARAMETERS),
            },
            PsciCall::SystemOff => PsciDecision::SystemOff,
            PsciCall::SystemReset => PsciDecision::SystemReset,
            PsciCall::Unknown(_) => Reply(ret::NOT_SUPPORTED),
        }
    }
}
