//! big.LITTLE core switching: the decisions, apart from the mechanism.
//!
//! The static core pins every vCPU to one CPU. With this extension a vCPU may instead
//! list one CPU per cluster (`cpus = [0, 2]`, checked offline: two vCPUs of one VM never
//! share a CPU in any placement); the hypervisor moves it among them at a trap
//! boundary. This crate decides *where*; the image carries the move out (park on the
//! source CPU, hand the whole state over, load it on the destination) and tells this
//! crate nothing it could not test on the host.
//!
//! Three policies, one per VM:
//! - [`hint`]: the guest says "needs performance" or "can slow down" (a hypercall);
//! - [`Governor`]: the hypervisor measures the vCPU's utilisation — its share of time not
//!   waiting in WFI — over a window, and moves it up at or above `up` percent and down
//!   at or below `down` (the band between is hysteresis: no ping-pong), like Linux's
//!   schedutil does with frequencies;
//! - [`plan_step`]: a static time plan, the whole VM on one cluster and then the next.
#![no_std]

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// One CPU a vCPU may run on: its index, its cluster and the cluster's capacity (1024 is
/// the biggest core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Physical CPU index.
    pub cpu: u16,
    /// Cluster index in the board description.
    pub cluster: u16,
    /// Relative capacity.
    pub capacity: u16,
}

/// Which way a vCPU should go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The biggest core it may run on.
    Big,
    /// The smallest one.
    Little,
}

/// The CPU among `allowed` that `want` names: the largest or the smallest capacity (the
/// first such in the list on a tie, so the choice is stable).
pub fn choose(allowed: &[Place], want: Want) -> Option<Place> {
    let mut best: Option<Place> = None;
    for &p in allowed {
        let better = match (best, want) {
            (None, _) => true,
            (Some(b), Want::Big) => p.capacity > b.capacity,
            (Some(b), Want::Little) => p.capacity < b.capacity,
        };
        if better {
            best = Some(p);
        }
    }
    best
}

/// The guest's hint (BL_HINT's x1): 1 needs performance, 0 can slow down; anything else
/// is malformed.
pub fn hint(x1: u64) -> Option<Want> {
    match x1 {
        1 => Some(Want::Big),
        0 => Some(Want::Little),
        _ => None,
    }
}

/// Where a vCPU now on `current` goes for `want`: `None` when it is there already.
pub fn destination(allowed: &[Place], current: u16, want: Want) -> Option<u16> {
    let to = choose(allowed, want)?;
    let here = allowed.iter().find(|p| p.cpu == current)?;
    (to.cpu != current && to.capacity != here.capacity).then_some(to.cpu)
}

/// The utilisation governor of one vCPU: busy time accumulated over the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Governor {
    /// Counter value the window started at (0: not started yet).
    start: u64,
    /// Ticks of the window the vCPU ran (was not waiting).
    busy: u64,
}

/// A governor's settings, in counter ticks and percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Window length in counter ticks.
    pub window: u64,
    /// Move up at or above this utilisation (percent).
    pub up: u8,
    /// Move down at or below this one.
    pub down: u8,
}

impl Governor {
    /// A governor with no window started.
    pub const fn new() -> Governor {
        Governor { start: 0, busy: 0 }
    }

    /// The vCPU ran from `since` to `now`. When that closes a window, the verdict on it
    /// (and a new window starts at `now`); `None` while the window is open.
    pub fn ran(&mut self, since: u64, now: u64, t: Thresholds) -> Option<Want> {
        if self.start == 0 {
            self.start = since.max(1);
        }
        // Only the part inside the window counts (a run that began before it started).
        self.busy += now.saturating_sub(since.max(self.start));
        self.close(now, t)
    }

    /// Closes the window if it is over at `now` (also called when the vCPU did not run:
    /// a vCPU asleep through a window has 0 % utilisation).
    pub fn close(&mut self, now: u64, t: Thresholds) -> Option<Want> {
        if self.start == 0 {
            self.start = now.max(1);
            return None;
        }
        let elapsed = now.saturating_sub(self.start);
        if elapsed < t.window.max(1) {
            return None;
        }
        let util = (self.busy.min(elapsed) * 100 / elapsed) as u8;
        self.start = now;
        self.busy = 0;
        if util >= t.up {
            Some(Want::Big)
        } else if util <= t.down {
            Some(Want::Little)
        } else {
            None
        }
    }

    /// When the current window ends (for the EL2 timer: a busy vCPU that never leaves its
    /// CPU must still be looked at).
    pub fn window_end(&self, t: Thresholds) -> Option<u64> {
        (self.start != 0).then(|| self.start + t.window.max(1))
    }
}

/// The plan step covering `elapsed` ticks since the plan started (the cycle repeats):
/// (its index, ticks until the next one). `lengths` are the steps' lengths in ticks;
/// `None` for an empty plan or one with no length.
pub fn plan_step(lengths: impl Iterator<Item = u64> + Clone, elapsed: u64) -> Option<(usize, u64)> {
    let cycle: u64 = lengths.clone().sum();
    if cycle == 0 {
        return None;
    }
    let mut at = elapsed % cycle;
    for (i, len) in lengths.enumerate() {
        if at < len {
            return Some((i, len - at));
        }
        at -= len;
    }
    None
}

/// Who decided a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The guest's hint.
    Hint,
    /// The utilisation governor.
    Governor,
    /// The configuration's plan.
    Plan,
}

/// A decided move: vCPU `vcpu` to CPU `to`, for `cause`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// Global vCPU index.
    pub vcpu: usize,
    /// Destination CPU index.
    pub to: u16,
    /// Who decided.
    pub cause: Cause,
}

/// The hand-over's mailbox: moves decided by the CPU that holds a vCPU and taken by that
/// same CPU at the top of its run loop, where it carries them out. Per vCPU the latest
/// decision (a later one replaces it); per CPU a flag, so that a pass with nothing decided
/// costs one load. `V` vCPUs, `C` CPUs.
///
/// Only the holder of a vCPU requests or takes its move, so the per-vCPU words have one
/// user at a time; the image's hand-over orders a holder's last use before the next
/// holder's first (its SeqCst store of the new holder).
pub struct Moves<const V: usize, const C: usize> {
    /// Per vCPU: destination + 1 in the low 16 bits, the cause above (0: none).
    want: [AtomicU32; V],
    /// Per CPU: a vCPU it holds has a move decided.
    pending: [AtomicBool; C],
}

impl<const V: usize, const C: usize> Default for Moves<V, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const V: usize, const C: usize> Moves<V, C> {
    /// Nothing decided.
    pub const fn new() -> Self {
        Moves {
            want: [const { AtomicU32::new(0) }; V],
            pending: [const { AtomicBool::new(false) }; C],
        }
    }

    /// CPU `cpu`, which holds vCPU `vcpu`, decides that it moves to CPU `to`.
    pub fn request(&self, cpu: usize, vcpu: usize, to: u16, cause: Cause) {
        let c = match cause {
            Cause::Hint => 0,
            Cause::Governor => 1,
            Cause::Plan => 2,
        };
        self.want[vcpu].store((u32::from(to) + 1) | (c << 16), Ordering::Relaxed);
        self.pending[cpu].store(true, Ordering::Relaxed);
    }

    /// The next decided move of a vCPU CPU `cpu` holds (`held`: those vCPUs, in schedule
    /// order), taken: each decision is returned once. One load when nothing is decided.
    pub fn take(&self, cpu: usize, held: impl Iterator<Item = usize>) -> Option<Move> {
        if !self.pending[cpu].load(Ordering::Relaxed) {
            return None;
        }
        self.pending[cpu].store(false, Ordering::Relaxed);
        let mut found = None;
        for v in held {
            if self.want[v].load(Ordering::Relaxed) == 0 {
                continue;
            }
            if found.is_some() {
                // Another one waits: the next call takes it.
                self.pending[cpu].store(true, Ordering::Relaxed);
                break;
            }
            let w = self.want[v].swap(0, Ordering::Relaxed);
            let cause = match w >> 16 {
                1 => Cause::Governor,
                2 => Cause::Plan,
                _ => Cause::Hint,
            };
            found = Some(Move {
                vcpu: v,
                to: ((w & 0xffff) - 1) as u16,
                cause,
            });
        }
        found
    }
}

#[cfg(test)]
mod tests;
