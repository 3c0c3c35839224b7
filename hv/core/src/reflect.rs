//! Fault reflection's protocol state (after PHIDIAS): the life of one faulting vCPU's
//! reflected access, and the tokens that name it to the emulating VM.
//!
//! A vCPU whose stage-2 fault hits a region "emulated by VM X" posts its access here and
//! waits; X fetches it (FAULT_FETCH, which hands out a token), emulates it and completes it
//! (FAULT_COMPLETE with the token); the vCPU then resumes with X's verdict. A token is the
//! slot (the faulting vCPU) and a generation, so a stale token (of an earlier fault of the
//! same vCPU) or a forged one is refused, and only the VM the region names may fetch or
//! complete. The image keeps one [`Reflection`] per vCPU behind a lock; this module is the
//! whole decision logic, tested on the host.
use crate::hypercall::{FaultAction, err};
use crate::trap::abort::MmioAccess;

/// Where a vCPU's reflected access is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// No reflected access.
    Empty,
    /// Posted; the emulating VM was signalled.
    Pending,
    /// Fetched by the emulating VM (its token is out).
    Fetched,
    /// Completed by the emulating VM; the vCPU resumes with this verdict and, for a load
    /// it emulated, this value.
    Completed(FaultAction, u64),
}

/// One access being reflected: what the emulating VM needs, and how the vCPU resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    /// Index of the emulated region (in `SystemDesc::emulated`).
    pub region: usize,
    /// The decoded access.
    pub access: MmioAccess,
    /// FAR_EL2 of the fault (for an abort injected at completion).
    pub far: u64,
    /// The value a store writes (zero for a load).
    pub data: u64,
    /// Length of the faulting instruction (the PC advance of a `Skip`).
    pub advance: u64,
    /// Counter value after which the access is abandoned (see [`Reflection::expire`]).
    pub deadline: u64,
}

/// The reflection slot of one vCPU.
#[derive(Debug, Clone, Copy)]
pub struct Reflection {
    stage: Stage,
    generation: u32,
    posted: Option<Posted>,
}

/// What FAULT_FETCH returns for one access: x0..x3 = token, IPA, size | write << 8, data.
pub type Fetched = [u64; 4];

/// The completion a vCPU resumes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The emulating VM's verdict.
    pub action: FaultAction,
    /// The value a `Skip`ped load returns.
    pub value: u64,
    /// The access that was reflected.
    pub posted: Posted,
}

impl Reflection {
    /// An empty slot.
    pub const fn new() -> Self {
        Reflection {
            stage: Stage::Empty,
            generation: 0,
            posted: None,
        }
    }

    /// Where the slot is.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The vCPU posts an access (any earlier one is forgotten; its token goes stale).
    pub fn post(&mut self, p: Posted) {
        self.stage = Stage::Pending;
        self.generation = self.generation.wrapping_add(1);
        self.posted = Some(p);
    }

    /// The region of the access the emulating VM fetched and has not completed.
    pub fn fetched_region(&self) -> Option<usize> {
        match (self.stage, self.posted) {
            (Stage::Fetched, Some(p)) => Some(p.region),
            _ => None,
        }
    }

    /// The region of the pending access, if one waits to be fetched.
    pub fn pending_region(&self) -> Option<usize> {
        match (self.stage, self.posted) {
            (Stage::Pending, Some(p)) => Some(p.region),
            _ => None,
        }
    }

    /// FAULT_FETCH of the pending access of slot `slot` (the caller checked that it may
    /// emulate its region): the access and its token; `None` when nothing is pending.
    pub fn fetch(&mut self, slot: usize) -> Option<Fetched> {
        let p = self.posted.filter(|_| self.stage == Stage::Pending)?;
        self.stage = Stage::Fetched;
        let a = p.access;
        Some([
            token(slot, self.generation),
            a.ipa,
            a.size as u64 | ((a.write as u64) << 8),
            p.data,
        ])
    }

    /// FAULT_COMPLETE with a token of this slot whose generation is `generation`, by a VM
    /// that `may` emulate the slot's region (`may(region)`). Returns the SMCCC result.
    pub fn complete(
        &mut self,
        generation: u32,
        action: FaultAction,
        value: u64,
        may: impl FnOnce(usize) -> bool,
    ) -> i64 {
        let Some(p) = self.posted else {
            return err::NO_ENTRY;
        };
        if self.stage != Stage::Fetched || generation != self.generation {
            return err::NO_ENTRY;
        }
        if !may(p.region) {
            return err::DENIED;
        }
        self.stage = Stage::Completed(action, value);
        err::SUCCESS
    }

    /// Whether the access was completed (the vCPU may resume).
    pub fn is_complete(&self) -> bool {
        matches!(self.stage, Stage::Completed(..))
    }

    /// The deadline of an access still waiting for its emulating VM.
    pub fn deadline(&self) -> Option<u64> {
        match (self.stage, self.posted) {
            (Stage::Pending | Stage::Fetched, Some(p)) => Some(p.deadline),
            _ => None,
        }
    }

    /// Ends a waiting access that can no longer be served — its deadline passed at `now`, or
    /// its emulating VM is gone (`emulator_alive` false) — as if the emulating VM had asked for
    /// an external abort; its token goes stale. Returns whether it did.
    pub fn expire(&mut self, now: u64, emulator_alive: bool) -> bool {
        match self.deadline() {
            Some(d) if now >= d || !emulator_alive => {
                self.stage = Stage::Completed(FaultAction::InjectAbort, 0);
                self.generation = self.generation.wrapping_add(1);
                true
            }
            _ => false,
        }
    }

    /// Takes the completion the vCPU resumes with; the slot is empty again.
    pub fn take_completion(&mut self) -> Option<Completion> {
        let Stage::Completed(action, value) = self.stage else {
            return None;
        };
        self.stage = Stage::Empty;
        let posted = self.posted.take()?;
        Some(Completion {
            action,
            value,
            posted,
        })
    }
}

impl Default for Reflection {
    fn default() -> Self {
        Self::new()
    }
}

/// The token of slot `slot` at `generation`: the generation above bit 16, the slot plus
/// one below (zero is never a token).
pub fn token(slot: usize, generation: u32) -> u64 {
    ((generation as u64) << 16) | (slot as u64 + 1)
}

/// The slot and generation a token names, if its slot exists among `slots`.
pub fn parse_token(token: u64, slots: usize) -> Option<(usize, u32)> {
    let s = (token & 0xffff) as usize;
    (s != 0 && s <= slots).then(|| (s - 1, (token >> 16) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(write: bool) -> MmioAccess {
        MmioAccess {
            ipa: 0x1000_0040,
            size: 4,
            write,
            reg: 3,
            sign_extend: false,
            sixty_four: false,
        }
    }

    fn posted(region: usize) -> Posted {
        Posted {
            region,
            access: access(true),
            far: 0x40,
            data: 0xab,
            advance: 4,
            deadline: 1000,
        }
    }

    #[test]
    fn a_reflected_access_goes_post_fetch_complete_resume() {
        let mut r = Reflection::new();
        assert_eq!(r.fetch(2), None, "nothing posted");
        r.post(posted(1));
        assert_eq!(r.pending_region(), Some(1));
        let f = r.fetch(2).unwrap();
        assert_eq!(f[1..], [0x1000_0040, 4 | 1 << 8, 0xab]);
        assert_eq!(r.fetch(2), None, "fetched once");
        let (slot, generation) = parse_token(f[0], 8).unwrap();
        assert_eq!(slot, 2);
        assert!(!r.is_complete());
        assert_eq!(
            r.complete(generation, FaultAction::Skip, 7, |_| true),
            err::SUCCESS
        );
        assert!(r.is_complete());
        let c = r.take_completion().unwrap();
        assert_eq!(
            (c.action, c.value, c.posted),
            (FaultAction::Skip, 7, posted(1))
        );
        assert_eq!(r.stage(), Stage::Empty);
        assert_eq!(r.take_completion(), None);
    }

    #[test]
    fn stale_forged_and_foreign_completions_are_refused() {
        let mut r = Reflection::new();
        r.post(posted(0));
        assert_eq!(
            r.complete(1, FaultAction::Retry, 0, |_| true),
            err::NO_ENTRY,
            "not fetched yet"
        );
        let old = parse_token(r.fetch(0).unwrap()[0], 1).unwrap().1;
        // The vCPU faults again (e.g. after a reset): the first token is stale.
        r.post(posted(0));
        let new = parse_token(r.fetch(0).unwrap()[0], 1).unwrap().1;
        assert_ne!(old, new);
        assert_eq!(
            r.complete(old, FaultAction::Retry, 0, |_| true),
            err::NO_ENTRY
        );
        assert_eq!(
            r.complete(new, FaultAction::Retry, 0, |_| false),
            err::DENIED
        );
        assert_eq!(
            r.complete(new, FaultAction::Retry, 0, |_| true),
            err::SUCCESS
        );
        assert_eq!(
            r.complete(new, FaultAction::Retry, 0, |_| true),
            err::NO_ENTRY,
            "completed once"
        );
    }

    #[test]
    fn an_access_nobody_serves_ends_in_an_abort() {
        let mut r = Reflection::new();
        assert!(!r.expire(u64::MAX, false), "nothing waits");
        r.post(posted(0));
        assert_eq!(r.deadline(), Some(1000));
        assert!(!r.expire(999, true), "before the deadline, emulator alive");
        let token = r.fetch(0).unwrap()[0];
        assert!(r.expire(1000, true), "the deadline");
        assert_eq!(r.deadline(), None);
        let generation = parse_token(token, 1).unwrap().1;
        assert_eq!(
            r.complete(generation, FaultAction::Skip, 0, |_| true),
            err::NO_ENTRY,
            "a late completion finds nothing"
        );
        let c = r.take_completion().unwrap();
        assert_eq!(c.action, FaultAction::InjectAbort);
        // The emulating VM powered off: at once, whatever the deadline.
        r.post(posted(0));
        assert!(r.expire(0, false));
        assert!(r.is_complete());
    }

    #[test]
    fn tokens_name_existing_slots_only() {
        assert_eq!(parse_token(token(3, 9), 4), Some((3, 9)));
        assert_eq!(parse_token(0, 4), None);
        assert_eq!(parse_token(token(4, 1), 4), None);
    }
}
