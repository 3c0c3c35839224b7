//! big.LITTLE core switching in the image (feature `big-little`; the policies are
//! `extensions/big-little`, the placements are checked offline by hv-config).
//!
//! An extension on the core's seam ([`super::ext`]). It decides *that* a vCPU moves and
//! *where* — among the CPUs its `cpus` list allows, at most one per cluster — and the core
//! carries the move out at the top of the holder's run loop (`run::hand_over`: park, save
//! everything into the vCPU's state, hand over, kick the destination). Three policies,
//! one per VM (`[vm.big-little] policy`):
//! - `hint`: BL_HINT from the guest, served on the CPU the calling vCPU is on; the call
//!   returns (x0 = 1) on the new CPU;
//! - `governor`: the vCPU's utilisation — the share of a window it spent running, not
//!   waiting in WFI — measured from the run loop's [`ran`](BigLittle::ran) reports, up
//!   at `up` percent, down at `down`;
//! - `plan`: the configuration's time plan, every vCPU of the VM on one cluster and then
//!   the next (the cycle starts when the first CPU passes its run loop).
//!
//! Every decision is made on the CPU that holds the vCPU, for a vCPU it holds, so the
//! per-vCPU policy state here has one user at a time, as the vCPU's own state has. What
//! runs on every pass of a run loop: one load (the decided-move flag of [`DECIDED`])
//! and, for systems with a governor or a plan, a counter read against [`CHECK_AT`].
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use hv_arch::cpu;
use hv_big_little::{Cause, Governor, Moves, Place, Thresholds, Want};
use hv_core::ext::{Core, Departure, Extension, MoveCause};
use hv_core::hypercall::{err, fid};
use hv_core::ids::{CpuId, VcpuId, VmId};
use hv_core::sysdesc::{MigrateDesc, MigratePolicy};

use super::api::{Hv, cpu_of, migration};
use super::generated::{CPU_COUNT, MIGRATIONS_TIMED, SYSTEM, VCPU_COUNT};

/// The big.LITTLE extension (stateless handle; the state is in the statics below).
#[derive(Debug, Clone, Copy)]
pub struct BigLittle;

/// Moves decided and not yet carried out (`hv_big_little::Moves`: per vCPU the latest
/// decision, per CPU a flag).
static DECIDED: Moves<VCPU_COUNT, CPU_COUNT> = Moves::new();
/// Per vCPU: how many times it moved.
static MOVES: [AtomicU32; VCPU_COUNT] = [const { AtomicU32::new(0) }; VCPU_COUNT];
/// Per CPU: the counter value at which its governed vCPUs' windows or a plan step are
/// due next (0: at its next pass).
static CHECK_AT: [AtomicU64; CPU_COUNT] = [const { AtomicU64::new(0) }; CPU_COUNT];
/// The counter when the first run loop passed (plans count from it; 0: not yet).
static T0: AtomicU64 = AtomicU64::new(0);

/// Per vCPU: its governor's window.
struct GovCell(UnsafeCell<Governor>);

// SAFETY: a vCPU's cell is only touched by the CPU that holds the vCPU (`ran` and
// `resync` run on that CPU's run loop, for vCPUs it holds), and a hand-over to another
// CPU is ordered after the last use here (`placement::hand`).
unsafe impl Sync for GovCell {}

static GOV: [GovCell; VCPU_COUNT] =
    [const { GovCell(UnsafeCell::new(Governor::new())) }; VCPU_COUNT];

/// Whether any VM follows a governor or a plan (decided offline; else the run loop's
/// passes cost one load).
#[inline(always)]
fn timed() -> bool {
    MIGRATIONS_TIMED
}

/// vCPU `v`'s governor (the caller holds `v`).
#[allow(clippy::mut_from_ref)]
fn governor(v: VcpuId) -> &'static mut Governor {
    // SAFETY: see `GovCell`: only the holder of `v` calls this, one use at a time (each
    // caller finishes with the reference before it returns).
    unsafe { &mut *GOV[v.index()].0.get() }
}

/// The CPUs vCPU `v` may run on, with their clusters and capacities.
fn places(v: VcpuId, out: &mut [Place; 8]) -> &[Place] {
    let cpus = SYSTEM.vcpu(v).cpus;
    let n = cpus.len().min(out.len());
    for (o, &c) in out.iter_mut().zip(cpus) {
        let d = &SYSTEM.cpus[usize::from(c)];
        *o = Place {
            cpu: c,
            cluster: d.cluster,
            capacity: d.capacity,
        };
    }
    &out[..n]
}

/// The vCPU of VM `vm` that CPU `cpu` holds (one at most: no two vCPUs of a VM share a
/// CPU in any placement — checked offline).
fn held_vcpu(vm: VmId, cpu: CpuId) -> Option<VcpuId> {
    SYSTEM.vm(vm).vcpu_ids().find(|&v| cpu_of(v) == cpu)
}

/// Decides that vCPU `v`, held by `cpu`, moves to `to`.
fn request(cpu: CpuId, v: VcpuId, to: u16, cause: Cause) {
    DECIDED.request(cpu.index(), v.index(), to, cause);
}

/// Where `v` (held by `cpu`) goes for `want`, if it is not there already.
fn destination(v: VcpuId, cpu: CpuId, want: Want) -> Option<u16> {
    let mut buf = [Place {
        cpu: 0,
        cluster: 0,
        capacity: 0,
    }; 8];
    hv_big_little::destination(places(v, &mut buf), cpu.raw(), want)
}

/// The governor's settings of VM `m`, in counter ticks.
fn thresholds(m: &MigrateDesc) -> Thresholds {
    Thresholds {
        window: u64::from(m.window_us) * cpu::counter_frequency() / 1_000_000,
        up: m.up,
        down: m.down,
    }
}

/// The plan's step lengths in counter ticks.
fn plan_ticks(m: &MigrateDesc) -> impl Iterator<Item = u64> + Clone + '_ {
    let f = cpu::counter_frequency();
    m.plan.iter().map(move |s| u64::from(s.us) * f / 1_000_000)
}

/// BL_HINT from the vCPU of `vm` that `cpu` holds: x1 = 1 needs performance, 0 can slow
/// down.
fn hint(core: &Hv, cpu: CpuId, vm: VmId, x1: u64) -> i64 {
    let Some(m) = migration(vm) else {
        return err::NOT_SUPPORTED;
    };
    if m.policy != MigratePolicy::Hint {
        // The governor or the plan decides for this VM.
        return err::DENIED;
    }
    let Some(want) = hv_big_little::hint(x1) else {
        return err::INVALID;
    };
    let Some(v) = held_vcpu(vm, cpu) else {
        return err::INVALID;
    };
    match destination(v, cpu, want) {
        Some(to) => {
            request(cpu, v, to, Cause::Hint);
            // This CPU's reschedule flag: the run loop leaves the vCPU after this trap
            // and hands it over at the top of its loop.
            core.kick(v);
            1
        }
        None => 0,
    }
}

/// BL_WHERE: (CPU, cluster, capacity, moves) of the vCPU of `vm` that `cpu` holds.
fn where_am_i(cpu: CpuId, vm: VmId) -> [u64; 4] {
    let d = SYSTEM.cpu(cpu);
    let moves = held_vcpu(vm, cpu).map_or(0, |v| MOVES[v.index()].load(Ordering::Relaxed));
    [
        u64::from(cpu.raw()),
        u64::from(d.cluster),
        u64::from(d.capacity),
        u64::from(moves),
    ]
}

/// CPU `cpu`'s timed decisions due at `now`: plan steps and closed governor windows of
/// the vCPUs it holds. Returns when it must look again.
#[cold]
fn check(cpu: CpuId, now: u64) -> u64 {
    let t0 = match T0.compare_exchange(0, now.max(1), Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => now.max(1),
        Err(t) => t,
    };
    let mut next = u64::MAX;
    for v in SYSTEM.cpu(cpu).schedule_ids() {
        let Some(m) = migration(SYSTEM.vm_of(v)) else {
            continue;
        };
        if cpu_of(v) != cpu {
            // Not this CPU's now, but it may be handed here at any moment, and then the
            // next look must not be later than its window or plan step allows (a move
            // can race with this very check): the plan's next step, or one window.
            next = next.min(match m.policy {
                MigratePolicy::Hint => u64::MAX,
                MigratePolicy::Governor => now + thresholds(m).window.max(1),
                MigratePolicy::Plan => {
                    hv_big_little::plan_step(plan_ticks(m), now.saturating_sub(t0))
                        .map_or(u64::MAX, |(_, left)| now + left)
                }
            });
            continue;
        }
        match m.policy {
            MigratePolicy::Hint => {}
            MigratePolicy::Governor => {
                let t = thresholds(m);
                let g = governor(v);
                if let Some(want) = g.close(now, t)
                    && let Some(to) = destination(v, cpu, want)
                {
                    request(cpu, v, to, Cause::Governor);
                }
                next = next.min(g.window_end(t).unwrap_or(u64::MAX));
            }
            MigratePolicy::Plan => {
                let Some((i, left)) =
                    hv_big_little::plan_step(plan_ticks(m), now.saturating_sub(t0))
                else {
                    continue;
                };
                let cluster = m.plan[i].cluster;
                let to = SYSTEM
                    .vcpu(v)
                    .cpus
                    .iter()
                    .copied()
                    .find(|&c| SYSTEM.cpus[usize::from(c)].cluster == cluster);
                if let Some(to) = to.filter(|&to| to != cpu.raw()) {
                    request(cpu, v, to, Cause::Plan);
                }
                next = next.min(now + left);
            }
        }
    }
    next
}

impl Extension<Hv> for BigLittle {
    const CALLS: i64 = 3;
    const ACCOUNTS: bool = true;

    fn departure(&self, cpu: CpuId) -> Option<Departure> {
        let held = SYSTEM
            .cpu(cpu)
            .schedule_ids()
            .filter(|&v| cpu_of(v) == cpu)
            .map(|v| v.index());
        let m = DECIDED.take(cpu.index(), held)?;
        Some(Departure {
            vcpu: VcpuId::new(m.vcpu as u16),
            to: CpuId::new(m.to),
            cause: match m.cause {
                Cause::Hint => MoveCause::Hint,
                Cause::Governor => MoveCause::Governor,
                Cause::Plan => MoveCause::Plan,
            },
        })
    }

    fn moved(&self, _core: &Hv, v: VcpuId, _from: CpuId, to: CpuId) {
        MOVES[v.index()].fetch_add(1, Ordering::Relaxed);
        // The new holder looks at its timed decisions at once (the vCPU's governor
        // window or plan step may be due): set before the hand-over, whose store the
        // new holder's taking up is ordered after, so it finds this when it arms its
        // EL2 timer for the vCPU (a deadline of 0 fires at once).
        CHECK_AT[to.index()].store(0, Ordering::Relaxed);
    }

    fn ran(&self, cpu: CpuId, v: VcpuId, since: u64, now: u64, _waiting: bool) {
        let Some(m) = migration(SYSTEM.vm_of(v)) else {
            return;
        };
        if m.policy != MigratePolicy::Governor {
            return;
        }
        if let Some(want) = governor(v).ran(since, now, thresholds(m))
            && let Some(to) = destination(v, cpu, want)
        {
            request(cpu, v, to, Cause::Governor);
        }
    }

    fn resync(&self, _core: &Hv, cpu: CpuId) {
        if !timed() {
            return;
        }
        let now = cpu::counter();
        let at = &CHECK_AT[cpu.index()];
        if now >= at.load(Ordering::Relaxed) {
            at.store(check(cpu, now), Ordering::Relaxed);
        }
    }

    fn deadline(&self, cpu: CpuId) -> Option<u64> {
        if !timed() {
            return None;
        }
        match CHECK_AT[cpu.index()].load(Ordering::Relaxed) {
            u64::MAX => None,
            at => Some(at),
        }
    }

    fn hypercall(&self, core: &Hv, cpu: CpuId, vm: VmId, x: &[u64; 6]) -> Option<[u64; 4]> {
        match x[0] as u32 {
            fid::BL_HINT => Some([hint(core, cpu, vm, x[1]) as u64, 0, 0, 0]),
            fid::BL_WHERE => Some(where_am_i(cpu, vm)),
            fid::BL_POWER => {
                let d = SYSTEM.cpu(cpu);
                Some([
                    u64::from(d.busy_mw),
                    u64::from(d.idle_mw),
                    u64::from(d.capacity),
                    0,
                ])
            }
            _ => None,
        }
    }
}
