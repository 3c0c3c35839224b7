//! Ballooning in the image (feature `balloon`; the protocol is `extensions/balloon`,
//! the table sets are generated offline by hv-config's `balloon` module).
//!
//! An extension on the core's seam ([`super::ext`]): it owns, per VM, the stage-2 root
//! the VM runs with ([`Balloon::stage2_root`], read by the world switch), serves the
//! BALLOON_* hypercalls, revokes at deadlines and returns a restarting VM's blocks. No
//! page-table entry is ever written: a move only picks another of the roots in
//! [`ElasticDesc`]'s holders.
//!
//! Carrying out a step ([`hv_balloon::Step`]):
//! - *switch* a holder to another root: store it in [`ROOT`], then make sure no CPU
//!   still translates the VM with the old one. This CPU reloads VTTBR_EL2 at once if it
//!   has the VM loaded; every other CPU that hosts a vCPU of the VM is asked (a sync
//!   generation in [`SYNC_REQ`]) and kicked, and acknowledges at the top of its run loop
//!   ([`Balloon::resync`]), after which it enters the VM only with the new root. The
//!   asking CPU waits for the acknowledgements, serving its own meanwhile (two CPUs
//!   waiting on each other both make progress);
//! - *shrink*: after the switch, the VM's TLB entries are invalidated on every CPU
//!   (broadcast TLBI by VMID), then the blocks are scrubbed (zeroed and cleaned to the
//!   point of coherency, for a receiver whose MMU is off) — only then are they free;
//! - *grow*: after the switch the receiver maps the blocks (they were scrubbed when
//!   they were freed) and is notified with the pool's SPI.
//!
//! Each pool's state is behind a lock taken only by these calls (never on a trap path);
//! a CPU waiting for it serves its own acknowledgements. What runs on every pass of the
//! run loop: one load per CPU ([`SYNC_REQ`]) and one of [`ARMED`].
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use hv_arch::{cache, cpu, mem, regs};
use hv_balloon::virtio_mem::{GuestMemory, Lease, Region, VirtioMem};
use hv_balloon::{Pool, Refused, Step};
use hv_core::ext::{Core, DeviceAccess, Extension};
use hv_core::hypercall::{err, fid};
use hv_core::ids::{CpuId, VmId};
use hv_core::sysdesc::ElasticDesc;

use super::api::Hv;
use super::generated::{CPU_COUNT, ELASTIC_COUNT, ELASTIC_PLANNED, SYSTEM, VM_COUNT};

/// The balloon extension (stateless handle; the state is in the statics below).
#[derive(Debug, Clone, Copy)]
pub struct Balloon;

/// Per VM: the stage-2 root it runs with (0: its generated one, `VmDesc::s2_root`).
static ROOT: [AtomicU64; VM_COUNT] = [const { AtomicU64::new(0) }; VM_COUNT];
/// Per CPU: the last sync generation asked of it, and the last it acknowledged.
static SYNC_REQ: [AtomicU32; CPU_COUNT] = [const { AtomicU32::new(0) }; CPU_COUNT];
static SYNC_ACK: [AtomicU32; CPU_COUNT] = [const { AtomicU32::new(0) }; CPU_COUNT];
/// Per pool: the counter value at which its move in flight is revoked (0: none).
static DEADLINE: [AtomicU64; ELASTIC_COUNT] = [const { AtomicU64::new(0) }; ELASTIC_COUNT];
/// Pools with a deadline armed, plus pools with a plan step to come (so the run loop
/// reads the counter only then).
static ARMED: AtomicU32 = AtomicU32::new(ELASTIC_PLANNED);
/// The counter when the first run loop passed (plan times count from it; 0: not yet).
static T0: AtomicU64 = AtomicU64::new(0);
/// Per pool: the index of its next plan step, and the counter value it is due at (0: not
/// computed yet).
static PLAN_NEXT: [AtomicU32; ELASTIC_COUNT] = [const { AtomicU32::new(0) }; ELASTIC_COUNT];
static PLAN_AT: [AtomicU64; ELASTIC_COUNT] = [const { AtomicU64::new(0) }; ELASTIC_COUNT];

/// One pool's run-time state: the protocol, and the virtio-mem device of the holder that
/// sees the pool through one (unused otherwise).
struct State {
    pool: Pool,
    dev: VirtioMem,
}

/// One pool's state behind its lock.
struct Cell {
    locked: AtomicBool,
    state: UnsafeCell<Option<State>>,
}

// SAFETY: `state` is only reached through `with_pool`, which holds `locked`.
unsafe impl Sync for Cell {}

static POOLS: [Cell; ELASTIC_COUNT] = [const {
    Cell {
        locked: AtomicBool::new(false),
        state: UnsafeCell::new(None),
    }
}; ELASTIC_COUNT];

/// Runs `f` on pool `p`'s state under its lock (made on first use from the
/// description); CPU `cpu` serves its sync requests while it waits.
fn with_pool<R>(cpu: CpuId, p: usize, f: impl FnOnce(&mut State) -> R) -> R {
    let c = &POOLS[p];
    while c
        .locked
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        acknowledge(cpu);
        core::hint::spin_loop();
    }
    // SAFETY: the lock is held; nobody else reaches the state.
    let slot = unsafe { &mut *c.state.get() };
    let e = &SYSTEM.elastic[p];
    let state = slot.get_or_insert_with(|| {
        let mut initial = [0; 2];
        for (h, x) in e.holders.iter().enumerate() {
            initial[h] = x.initial;
        }
        let pool = Pool::new(e.blocks, e.holders.len(), initial, e.manager.is_some());
        let mut dev = VirtioMem::new();
        if let Some(h) = virtio_holder(e) {
            dev.set_lease(lease(&pool, h));
        }
        State { pool, dev }
    });
    let r = f(state);
    c.locked.store(false, Ordering::Release);
    r
}

/// The holder of pool `e` that sees it through a virtio-mem device, if any.
fn virtio_holder(e: &ElasticDesc) -> Option<usize> {
    e.holders.iter().position(|h| h.virtio_ipa.is_some())
}

/// What holder `h` holds and is asked for, as its virtio-mem device presents it.
fn lease(pool: &Pool, h: usize) -> Lease {
    Lease {
        held: pool.held(h),
        asked: pool.status(Some(h)).asked,
    }
}

/// The holder index of VM `vm` in pool `e`.
fn holder(e: &ElasticDesc, vm: VmId) -> Option<usize> {
    e.holders.iter().position(|h| h.vm == vm.raw())
}

/// This CPU acknowledges a pending sync request: the VM it has loaded (if any) gets its
/// current root in VTTBR_EL2. Nothing of a guest runs while this executes.
fn acknowledge(cpu: CpuId) {
    let i = cpu.index();
    let req = SYNC_REQ[i].load(Ordering::Acquire);
    if req != SYNC_ACK[i].load(Ordering::Relaxed) {
        reload_loaded();
        SYNC_ACK[i].store(req, Ordering::Release);
    }
}

/// Points VTTBR_EL2 at the current root of the VM whose VMID it holds.
fn reload_loaded() {
    let vmid = (regs::vttbr() >> 48) as u16;
    if vmid == 0 {
        return;
    }
    if let Some(i) = SYSTEM
        .vms
        .iter()
        .position(|v| v.vmid == vmid && v.lwvm.is_none())
    {
        let root = ROOT[i].load(Ordering::Acquire);
        if root != 0 {
            regs::set_vttbr(vmid, root);
        }
    }
}

/// Switches VM `vm` to stage-2 root `root` and returns once no CPU translates it with
/// the previous one (this is CPU `cpu`).
fn switch_root(core: &Hv, cpu: CpuId, vm: VmId, root: u64) {
    ROOT[vm.index()].store(root, Ordering::Release);
    reload_loaded();
    let mut asked = [0u32; CPU_COUNT];
    let mut wait = [false; CPU_COUNT];
    for v in SYSTEM.vm(vm).vcpu_ids() {
        let c = super::placement::cpu_of(v);
        if c == cpu || wait[c.index()] {
            continue;
        }
        asked[c.index()] = SYNC_REQ[c.index()]
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        wait[c.index()] = true;
        core.kick(v);
    }
    for c in 0..CPU_COUNT {
        while wait[c] && (SYNC_ACK[c].load(Ordering::Acquire).wrapping_sub(asked[c]) as i32) < 0 {
            acknowledge(cpu);
            core::hint::spin_loop();
        }
    }
}

/// Carries out the steps of one decision on pool `p`, in order, then brings the pool's
/// virtio-mem device (if any) up to date with what its holder now holds.
fn carry_out(core: &Hv, cpu: CpuId, p: usize, s: &mut State, steps: &hv_balloon::Steps) {
    let e = &SYSTEM.elastic[p];
    for s in steps.iter() {
        match s {
            Step::Shrink { h, from, to } => {
                let x = &e.holders[h];
                let vm = VmId::new(x.vm);
                switch_root(core, cpu, vm, x.roots[to as usize]);
                regs::tlb_flush_for(SYSTEM.vm(vm).vmid);
                for i in to..from {
                    let pa = e.block_pa(h, i);
                    // SAFETY: the block is in the pool, which the EL2 map covers
                    // (certified), and no VM maps it any more (the switch above).
                    unsafe { mem::zero(pa, e.block_size) };
                    cache::clean_to_poc(pa, e.block_size);
                }
                super::telemetry::elastic(p, vm, from, to);
            }
            Step::Grow { h, from, to } => {
                let x = &e.holders[h];
                let vm = VmId::new(x.vm);
                switch_root(core, cpu, vm, x.roots[to as usize]);
                super::telemetry::elastic(p, vm, from, to);
            }
            // A virtio-mem holder learns it from its device (a config change, below).
            Step::NotifyHolder(h) if e.holders[h].virtio_ipa.is_some() => {}
            Step::NotifyHolder(h) => {
                let _ = core.raise(VmId::new(e.holders[h].vm), e.virt_intid);
            }
            Step::NotifyManager => {
                if let Some(m) = e.manager {
                    let _ = core.raise(VmId::new(m), e.virt_intid);
                }
            }
        }
    }
    if let Some(h) = virtio_holder(e)
        && s.dev.set_lease(lease(&s.pool, h))
    {
        let _ = core.raise(VmId::new(e.holders[h].vm), e.virt_intid);
    }
}

/// Arms or disarms pool `p`'s deadline from its state. A deadline armed here reaches the
/// EL2 timer at this CPU's next pass of its run loop (`Extension::deadline`, read when it
/// enters a guest or idles), so the pass is asked for at once: the caller's vCPU may run
/// on without trapping, and every other CPU may be idle with a timer set before.
fn set_deadline(core: &Hv, cpu: CpuId, p: usize, pool: &Pool) {
    let want = pool.ask().map_or(0, |a| a.deadline.max(1));
    let old = DEADLINE[p].swap(want, Ordering::AcqRel);
    match (old != 0, want != 0) {
        (false, true) => {
            ARMED.fetch_add(1, Ordering::AcqRel);
            if let Some(v) = SYSTEM.cpu(cpu).schedule_ids().next() {
                // on this CPU: only its reschedule flag
                core.kick(v);
            }
        }
        (true, false) => {
            ARMED.fetch_sub(1, Ordering::AcqRel);
        }
        _ => {}
    }
}

/// A decision on pool `p` taken and carried out under its lock.
fn decide(
    core: &Hv,
    cpu: CpuId,
    p: usize,
    f: impl FnOnce(&mut Pool) -> Result<hv_balloon::Done, Refused>,
) -> Result<(bool, u32, u32), Refused> {
    with_pool(cpu, p, |s| {
        // by reference: a decision is ~100 bytes, and moving it out of the `Result`
        // costs a byte-wise copy
        let d = f(&mut s.pool);
        let d = match &d {
            Ok(d) => d,
            Err(r) => return Err(*r),
        };
        carry_out(core, cpu, p, s, &d.steps);
        set_deadline(core, cpu, p, &s.pool);
        Ok((d.pending, s.pool.held(0), s.pool.held(1)))
    })
}

fn code(r: Refused) -> i64 {
    match r {
        Refused::Invalid => err::INVALID,
        Refused::Denied => err::DENIED,
        Refused::Busy => err::BUSY,
        Refused::NoMemory => err::NO_MEMORY,
    }
}

fn reply(x0: i64) -> [u64; 4] {
    [x0 as u64, 0, 0, 0]
}

/// Counter ticks in `us` microseconds.
fn ticks(us: u64) -> u64 {
    cpu::counter_frequency() * us / 1_000_000
}

/// One BALLOON_* call of VM `vm` on CPU `cpu`.
fn call(core: &Hv, cpu: CpuId, vm: VmId, x: &[u64; 6]) -> [u64; 4] {
    let Ok(p) = usize::try_from(x[1]) else {
        return reply(err::INVALID);
    };
    let Some(e) = SYSTEM.elastic.get(p) else {
        return reply(err::INVALID);
    };
    let h = holder(e, vm);
    let manager = e.manager == Some(vm.raw());
    if h.is_none() && !manager {
        return reply(err::DENIED);
    }
    let f = x[0] as u32;
    let held = |held: (u32, u32)| h.map_or(0, |h| if h == 0 { held.0 } else { held.1 });
    let count = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    match f {
        fid::BALLOON_INFO => {
            let n = with_pool(cpu, p, |s| h.map_or(0, |h| s.pool.held(h)));
            let ipa = h.map_or(0, |h| e.holders[h].ipa);
            [u64::from(n), u64::from(e.blocks), e.block_size, ipa]
        }
        fid::BALLOON_STATUS => {
            let s = with_pool(cpu, p, |s| s.pool.status(h));
            [s.asked, s.held, s.free, s.wanted].map(u64::from)
        }
        fid::BALLOON_ACQUIRE | fid::BALLOON_RELEASE | fid::BALLOON_MOVE => {
            let k = count(if f == fid::BALLOON_MOVE { x[3] } else { x[2] });
            let r = match f {
                fid::BALLOON_ACQUIRE => match h {
                    Some(h) => decide(core, cpu, p, |pool| pool.acquire(h, k)),
                    None => Err(Refused::Denied),
                },
                fid::BALLOON_RELEASE => match h {
                    Some(h) => decide(core, cpu, p, |pool| pool.release(h, k)),
                    None => Err(Refused::Denied),
                },
                _ => {
                    let to = u16::try_from(x[2])
                        .ok()
                        .and_then(|to| holder(e, VmId::new(to)));
                    let deadline = cpu::counter() + ticks(u64::from(e.deadline_us));
                    match to {
                        Some(to) => {
                            decide(core, cpu, p, |pool| pool.move_to(manager, to, k, deadline))
                        }
                        None if manager => Err(Refused::Invalid),
                        None => Err(Refused::Denied),
                    }
                }
            };
            match r {
                Ok((pending, h0, h1)) => [u64::from(pending), u64::from(held((h0, h1))), 0, 0],
                Err(r) => reply(code(r)),
            }
        }
        _ => reply(err::NOT_SUPPORTED),
    }
}

impl Extension<Hv> for Balloon {
    /// BALLOON_INFO, _STATUS, _ACQUIRE, _RELEASE, _MOVE.
    const CALLS: i64 = (fid::BALLOON_MOVE - fid::BALLOON_INFO + 1) as i64;

    #[inline(always)]
    fn stage2_root(&self, vm: VmId) -> Option<u64> {
        match ROOT[vm.index()].load(Ordering::Acquire) {
            0 => None,
            r => Some(r),
        }
    }

    #[inline(always)]
    fn resync(&self, core: &Hv, cpu: CpuId) {
        acknowledge(cpu);
        if ARMED.load(Ordering::Relaxed) != 0 {
            due(core, cpu);
        }
    }

    fn deadline(&self, _cpu: CpuId) -> Option<u64> {
        if ARMED.load(Ordering::Relaxed) == 0 {
            return None;
        }
        DEADLINE
            .iter()
            .chain(PLAN_AT.iter())
            .map(|d| d.load(Ordering::Acquire))
            .filter(|&d| d != 0)
            .min()
    }

    fn hypercall(&self, core: &Hv, cpu: CpuId, vm: VmId, x: &[u64; 6]) -> Option<[u64; 4]> {
        let f = x[0] as u32;
        (fid::BALLOON_INFO..=fid::BALLOON_MOVE)
            .contains(&f)
            .then(|| call(core, cpu, vm, x))
    }

    fn mmio(&self, core: &Hv, cpu: CpuId, vm: VmId, dev: u16, a: DeviceAccess) -> Option<u64> {
        let p = usize::from(dev);
        let e = SYSTEM.elastic.get(p)?;
        let h = holder(e, vm).filter(|&h| e.holders[h].virtio_ipa.is_some())?;
        Some(virtio_access(core, cpu, p, h, a))
    }

    fn vm_ended(&self, core: &Hv, cpu: CpuId, vm: VmId) {
        for (p, e) in SYSTEM.elastic.iter().enumerate() {
            if let Some(h) = holder(e, vm) {
                with_pool(cpu, p, |s| {
                    if e.holders[h].virtio_ipa.is_some() {
                        s.dev.reset_all();
                    }
                    let steps = s.pool.reset(h);
                    carry_out(core, cpu, p, s, &steps);
                    set_deadline(core, cpu, p, &s.pool);
                });
            }
        }
    }
}

/// An access of holder `h` of pool `p` to its virtio-mem device. The driver's requests
/// are served against what the holder holds; when it has unplugged the top blocks it was
/// asked for, they are released at once (set switch, scrub) as a BALLOON_RELEASE would.
#[cold]
fn virtio_access(core: &Hv, cpu: CpuId, p: usize, h: usize, a: DeviceAccess) -> u64 {
    let e = &SYSTEM.elastic[p];
    let x = &e.holders[h];
    let region = Region {
        ipa: x.ipa,
        block_size: e.block_size,
        blocks: e.blocks,
    };
    let vm = VmId::new(x.vm);
    with_pool(cpu, p, |s| {
        if !a.write {
            return s.dev.read(&region, a.off, a.size);
        }
        let now = lease(&s.pool, h);
        let mut ram = VmRam(SYSTEM.vm(vm));
        let effect = s.dev.write(&region, now, a.off, a.size, a.value, &mut ram);
        if effect.served {
            let k = s.dev.released_top(now);
            if k > 0
                && let Ok(d) = s.pool.release(h, k)
            {
                carry_out(core, cpu, p, s, &d.steps);
                set_deadline(core, cpu, p, &s.pool);
            }
        }
        if effect.interrupt {
            let _ = core.raise(vm, e.virt_intid);
        }
        0
    })
}

/// A VM's RAM as its virtio-mem device reaches it: guest-physical addresses inside the
/// VM's RAM only (the hypervisor's EL2 map covers every VM's RAM).
struct VmRam(&'static hv_core::sysdesc::VmDesc);

impl VmRam {
    /// The physical address of `len` bytes at `ipa`, if all of them are the VM's RAM.
    fn pa(&self, ipa: u64, len: usize) -> Option<u64> {
        let off = ipa.checked_sub(self.0.ram_ipa)?;
        let end = off.checked_add(len as u64)?;
        (end <= self.0.ram_size).then(|| self.0.ram_pa + off)
    }
}

impl GuestMemory for VmRam {
    fn read(&self, ipa: u64, buf: &mut [u8]) -> bool {
        let Some(pa) = self.pa(ipa, buf.len()) else {
            return false;
        };
        // SAFETY: `pa..pa + len` is this VM's RAM, identity-mapped at EL2; a guest may
        // change it concurrently, so it is read byte by byte as plain data.
        unsafe { mem::read(pa, buf) };
        true
    }
    fn write(&mut self, ipa: u64, buf: &[u8]) -> bool {
        let Some(pa) = self.pa(ipa, buf.len()) else {
            return false;
        };
        // Earlier writes (a used-ring entry) are seen before this one (its index).
        core::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: as in `read`.
        unsafe { mem::write(pa, buf) };
        true
    }
}

/// Revokes every move whose deadline has passed, and makes every plan step that is due.
#[cold]
fn due(core: &Hv, cpu: CpuId) {
    let now = cpu::counter();
    for (p, d) in DEADLINE.iter().enumerate() {
        let d = d.load(Ordering::Acquire);
        if d != 0 && now >= d {
            with_pool(cpu, p, |s| {
                let steps = s.pool.tick(now);
                carry_out(core, cpu, p, s, &steps);
                set_deadline(core, cpu, p, &s.pool);
            });
        }
    }
    if ELASTIC_PLANNED != 0 {
        plan_due(core, cpu, now);
    }
}

/// How soon a plan step that found a move in flight looks again.
const PLAN_RETRY_US: u64 = 1000;

/// The plan steps due at `now`, each as the manager's BALLOON_MOVE. A step that finds a
/// move in flight waits for it; one the pool refuses otherwise (the other holder cannot
/// give that many) is dropped. After a pool's last step it no longer counts in [`ARMED`].
fn plan_due(core: &Hv, cpu: CpuId, now: u64) {
    let t0 = match T0.compare_exchange(0, now.max(1), Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => now.max(1),
        Err(t) => t,
    };
    for (p, e) in SYSTEM.elastic.iter().enumerate() {
        let i = PLAN_NEXT[p].load(Ordering::Acquire) as usize;
        let Some(step) = e.plan.get(i) else {
            continue;
        };
        let at = match PLAN_AT[p].load(Ordering::Acquire) {
            0 => {
                let at = t0 + ticks(step.at_us);
                PLAN_AT[p].store(at, Ordering::Release);
                at
            }
            at => at,
        };
        if now < at {
            continue;
        }
        let deadline = now + ticks(u64::from(e.deadline_us));
        let to = usize::from(step.to);
        with_pool(cpu, p, |s| {
            // Under the lock: of the CPUs that find the step due, only the first makes it.
            if PLAN_NEXT[p].load(Ordering::Acquire) as usize != i {
                return;
            }
            match s.pool.move_to(true, to, step.blocks, deadline) {
                Ok(d) => {
                    carry_out(core, cpu, p, s, &d.steps);
                    set_deadline(core, cpu, p, &s.pool);
                }
                Err(Refused::Busy) => {
                    // A move in flight ends by its release or, at the latest, its
                    // deadline: look again in a millisecond (not only at the deadline,
                    // which would hold the plan up for the whole deadline).
                    let d = DEADLINE[p].load(Ordering::Acquire).max(now + 1);
                    PLAN_AT[p].store(d.min(now + ticks(PLAN_RETRY_US)), Ordering::Release);
                    return;
                }
                Err(_) => {}
            }
            PLAN_NEXT[p].store(i as u32 + 1, Ordering::Release);
            match e.plan.get(i + 1) {
                Some(next) => PLAN_AT[p].store(t0 + ticks(next.at_us), Ordering::Release),
                None => {
                    PLAN_AT[p].store(0, Ordering::Release);
                    ARMED.fetch_sub(1, Ordering::AcqRel);
                }
            }
        });
    }
}
