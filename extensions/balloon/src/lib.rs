//! The balloon protocol: who holds how many blocks of an elastic pool, and what the
//! hypervisor must do when a request moves them. Pure state and decisions; the image
//! (`hv/src/image/balloon.rs`) carries the decisions out (switch stage-2 roots, wait
//! until no CPU runs a holder with its old root, invalidate the TLB, scrub, notify).
//!
//! Why a state machine of its own: the guarantees (no block in two VMs, nothing lost,
//! no data crossing VMs) are properties of the order of steps, which is easier to test
//! exhaustively on the host than in a running hypervisor.
//!
//! Model (docs/BALLOON.md): a pool of `blocks` blocks has one or two holders. Holder 0
//! holds the pool's lowest `held[0]` blocks, holder 1 its highest `held[1]`; the rest are
//! free, and free blocks are always scrubbed (a block is zeroed when it leaves a holder).
//! The invariant `held[0] + held[1] <= blocks` is what makes the holders' stage-2 sets
//! disjoint (proven offline for every such pair). Requests:
//! - a holder *acquires* `k` blocks: granted at once from free blocks, else passed to the
//!   manager (if the pool has one) or refused;
//! - a holder *releases* `k` blocks (its highest window blocks): they are scrubbed and
//!   become free, and count toward what it was asked to give;
//! - the manager *moves* `k` blocks to a holder: free blocks first, the rest is asked of
//!   the other holder, which is notified and has until a deadline to release; after the
//!   deadline the blocks are revoked anyway;
//! - a holder that restarts gives back everything it held (scrubbed).
//!
//! Only one move is in flight per pool: a second request while one is asked is BUSY.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod virtio_mem;

/// Which end of the pool: 0 holds the lowest blocks, 1 the highest.
pub type Holder = usize;

/// Why a request was refused (the image turns these into hypercall error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A count of zero, a holder that does not exist, more blocks than the pool has or
    /// than the caller holds.
    Invalid,
    /// The caller is not the pool's manager.
    Denied,
    /// A move is in flight.
    Busy,
    /// Not enough free blocks, and no manager to ask.
    NoMemory,
}

/// What the image must do, in order, to carry out a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Holder `h` goes from `from` blocks to `to < from`: switch it to its set for `to`,
    /// wait until no CPU runs it with the old set, invalidate its TLB entries, then
    /// scrub its window blocks `to..from` (they are free from now on).
    Shrink { h: Holder, from: u32, to: u32 },
    /// Holder `h` goes from `from` blocks to `to > from` (the blocks were free, so
    /// scrubbed): switch it to its set for `to` and wait until every CPU uses it.
    Grow { h: Holder, from: u32, to: u32 },
    /// Raise the pool's notification interrupt in holder `h` (asked to release, or given
    /// blocks).
    NotifyHolder(Holder),
    /// Raise the pool's notification interrupt in the manager (a holder asked for more
    /// than is free).
    NotifyManager,
}

/// At most this many steps come out of one decision.
pub const MAX_STEPS: usize = 4;

/// The steps of one decision, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Steps {
    steps: [Option<Step>; MAX_STEPS],
    len: usize,
}

impl Steps {
    fn push(&mut self, s: Step) {
        self.steps[self.len] = Some(s);
        self.len += 1;
    }
    /// The steps in order.
    pub fn iter(&self) -> impl Iterator<Item = Step> + '_ {
        self.steps[..self.len].iter().flatten().copied()
    }
    /// How many.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A move in flight: `giver` was asked for `count` more blocks for `receiver`, who then
/// gets `total` (free blocks included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    /// The holder asked to release.
    pub giver: Holder,
    /// The holder that gets the blocks.
    pub receiver: Holder,
    /// Blocks the giver still has to release.
    pub count: u32,
    /// Blocks the receiver gets when the giver is done.
    pub total: u32,
    /// Counter value after which the giver's blocks are revoked.
    pub deadline: u64,
}

/// What a holder learns from a status query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Blocks it holds.
    pub held: u32,
    /// Blocks it is asked to release now.
    pub asked: u32,
    /// Free blocks in the pool.
    pub free: u32,
    /// Blocks a holder asked for and the manager has not served (manager's view: the
    /// larger of the holders' wishes).
    pub wanted: u32,
}

/// A successful request: its answer and what the image must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// Whether the request completed (blocks moved) or is in flight (asked of the other
    /// holder, or passed to the manager).
    pub pending: bool,
    /// The steps, in order.
    pub steps: Steps,
}

/// One pool's protocol state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    blocks: u32,
    holders: usize,
    held: [u32; 2],
    wanted: [u32; 2],
    ask: Option<Ask>,
    has_manager: bool,
}

impl Pool {
    /// A pool of `blocks` blocks with `holders` (1 or 2) holders that start with
    /// `initial` blocks (their sum at most `blocks`, checked offline).
    pub const fn new(blocks: u32, holders: usize, initial: [u32; 2], has_manager: bool) -> Pool {
        Pool {
            blocks,
            holders,
            held: initial,
            wanted: [0; 2],
            ask: None,
            has_manager,
        }
    }

    /// Blocks holder `h` holds.
    pub fn held(&self, h: Holder) -> u32 {
        self.held[h]
    }

    /// Blocks no holder holds.
    pub fn free(&self) -> u32 {
        self.blocks - self.held[0] - self.held[1]
    }

    /// The move in flight, if any.
    pub fn ask(&self) -> Option<Ask> {
        self.ask
    }

    /// What holder `h` (or, with `None`, the manager) sees.
    pub fn status(&self, h: Option<Holder>) -> Status {
        let asked = match (h, self.ask) {
            (Some(h), Some(a)) if a.giver == h => a.count,
            _ => 0,
        };
        Status {
            held: h.map_or(0, |h| self.held[h]),
            asked,
            free: self.free(),
            wanted: match h {
                Some(h) => self.wanted[h],
                None => self.wanted[0].max(self.wanted[1]),
            },
        }
    }

    fn check_holder(&self, h: Holder) -> Result<(), Refused> {
        if h < self.holders {
            Ok(())
        } else {
            Err(Refused::Invalid)
        }
    }

    /// Holder `h` asks for `k` more blocks.
    pub fn acquire(&mut self, h: Holder, k: u32) -> Result<Done, Refused> {
        self.check_holder(h)?;
        if k == 0 || k > self.blocks {
            return Err(Refused::Invalid);
        }
        // Before the check against what the caller holds: a move in flight may change it.
        if self.ask.is_some() {
            return Err(Refused::Busy);
        }
        if k > self.blocks - self.held[h] {
            return Err(Refused::Invalid);
        }
        let mut steps = Steps::default();
        if k <= self.free() {
            self.grow(h, k, &mut steps);
            return Ok(Done {
                pending: false,
                steps,
            });
        }
        if !self.has_manager {
            return Err(Refused::NoMemory);
        }
        self.wanted[h] = k;
        steps.push(Step::NotifyManager);
        Ok(Done {
            pending: true,
            steps,
        })
    }

    /// Holder `h` gives back its highest `k` window blocks (at `now`).
    pub fn release(&mut self, h: Holder, k: u32) -> Result<Done, Refused> {
        self.check_holder(h)?;
        if k == 0 || k > self.held[h] {
            return Err(Refused::Invalid);
        }
        let mut steps = Steps::default();
        self.shrink(h, k, &mut steps);
        Ok(Done {
            pending: false,
            steps,
        })
    }

    /// The manager moves `k` blocks to holder `to`, asking the other holder for what is
    /// not free; `deadline` is when an unanswered ask is revoked.
    pub fn move_to(
        &mut self,
        manager: bool,
        to: Holder,
        k: u32,
        deadline: u64,
    ) -> Result<Done, Refused> {
        if !manager {
            return Err(Refused::Denied);
        }
        self.check_holder(to)?;
        if k == 0 || k > self.blocks {
            return Err(Refused::Invalid);
        }
        // Before the check against what the receiver holds: the move in flight changes
        // it (a plan's next step must wait for it, not be refused).
        if self.ask.is_some() {
            return Err(Refused::Busy);
        }
        if k > self.blocks - self.held[to] {
            return Err(Refused::Invalid);
        }
        let mut steps = Steps::default();
        self.wanted[to] = 0;
        if k <= self.free() {
            self.grow(to, k, &mut steps);
            return Ok(Done {
                pending: false,
                steps,
            });
        }
        let giver = 1 - to;
        self.ask = Some(Ask {
            giver,
            receiver: to,
            count: k - self.free(),
            total: k,
            deadline,
        });
        steps.push(Step::NotifyHolder(giver));
        Ok(Done {
            pending: true,
            steps,
        })
    }

    /// The counter reads `now`: an ask past its deadline is revoked.
    pub fn tick(&mut self, now: u64) -> Steps {
        let mut steps = Steps::default();
        if let Some(a) = self.ask
            && now >= a.deadline
        {
            self.shrink(a.giver, a.count, &mut steps);
        }
        steps
    }

    /// Holder `h` restarts: everything it held goes back to the pool; a move to it is
    /// dropped, a move from it completes.
    pub fn reset(&mut self, h: Holder) -> Steps {
        let mut steps = Steps::default();
        if h >= self.holders {
            return steps;
        }
        self.wanted[h] = 0;
        if let Some(a) = self.ask
            && a.receiver == h
        {
            self.ask = None;
        }
        if self.held[h] > 0 {
            let k = self.held[h];
            self.shrink(h, k, &mut steps);
        }
        steps
    }

    /// Holder `h` loses its top `k` blocks; an ask of it is served by them.
    fn shrink(&mut self, h: Holder, k: u32, steps: &mut Steps) {
        let from = self.held[h];
        self.held[h] = from - k;
        steps.push(Step::Shrink {
            h,
            from,
            to: from - k,
        });
        if let Some(mut a) = self.ask
            && a.giver == h
        {
            a.count = a.count.saturating_sub(k);
            if a.count == 0 {
                self.ask = None;
                self.grow(a.receiver, a.total, steps);
            } else {
                self.ask = Some(a);
            }
        }
    }

    /// Holder `h` gets `k` free blocks and is told.
    fn grow(&mut self, h: Holder, k: u32, steps: &mut Steps) {
        let from = self.held[h];
        self.held[h] = from + k;
        self.wanted[h] = 0;
        steps.push(Step::Grow {
            h,
            from,
            to: from + k,
        });
        steps.push(Step::NotifyHolder(h));
    }
}

#[cfg(test)]
mod tests;
