//! Which vCPU a CPU runs next: the first of its schedule (highest priority first) that can
//! run now, within the current time slot on a CPU with a slot table.
//!
//! The decision only: what a vCPU's state is, whether a waiting one has an interrupt to
//! take and whether a reflecting one's fault was completed are the run loop's questions
//! ([`View`]), asked in schedule order and only until a vCPU is picked — the later ones are
//! not looked at, so a question with an effect (a saved timer found fired is raised) is
//! only asked where it decides something. The run loop carries the answer out (a woken
//! vCPU is on again).
use crate::sysdesc::VcpuIndex;

/// A vCPU's state as far as picking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Off, or its VM does not run (ended, or being reset).
    Off,
    /// Runnable.
    On,
    /// Waiting for an interrupt.
    Waiting,
    /// Waiting for another VM to complete its reflected fault.
    Reflecting,
}

/// What the run loop answers about the vCPUs of the schedule (`V`: its vCPU ids).
pub trait View<V> {
    /// The state of `v`.
    fn state(&mut self, v: V) -> State;
    /// Whether waiting `v` has an interrupt to take (then it wakes).
    fn wakes(&mut self, v: V) -> bool;
    /// Whether reflecting `v`'s fault was completed or abandoned (then it resumes).
    fn completes(&mut self, v: V) -> bool;
}

/// The vCPU picked, and what that means for its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picked<V> {
    /// It was on: it runs.
    On(V),
    /// It was waiting and has an interrupt: it is on again and runs.
    Woken(V),
    /// Its reflected fault is done: it is on again and runs with the result.
    Completed(V),
}

impl<V: Copy> Picked<V> {
    /// The vCPU.
    pub fn vcpu(self) -> V {
        match self {
            Picked::On(v) | Picked::Woken(v) | Picked::Completed(v) => v,
        }
    }
}

/// The first vCPU of `schedule` (in priority order) that can run. `slot` is the current
/// time slot's vCPU on a CPU with a slot table (`Some(None)`: an idle slot), `None` on a
/// CPU without one; `index` gives a vCPU's index in the system (what slots name).
#[inline(always)]
pub fn pick<V: Copy>(
    schedule: impl Iterator<Item = V>,
    slot: Option<Option<VcpuIndex>>,
    index: impl Fn(V) -> VcpuIndex,
    view: &mut impl View<V>,
) -> Option<Picked<V>> {
    for v in schedule {
        if let Some(allowed) = slot
            && allowed != Some(index(v))
        {
            continue;
        }
        match view.state(v) {
            State::On => return Some(Picked::On(v)),
            State::Waiting if view.wakes(v) => return Some(Picked::Woken(v)),
            State::Reflecting if view.completes(v) => return Some(Picked::Completed(v)),
            State::Off | State::Waiting | State::Reflecting => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// vCPUs 0..n with a state each, the waiting ones that have an interrupt, the
    /// reflecting ones whose fault is done; every question asked is logged.
    struct Fake {
        state: Vec<State>,
        pending: Vec<bool>,
        done: Vec<bool>,
        asked: Vec<(&'static str, u16)>,
    }

    impl Fake {
        fn new(state: &[State]) -> Fake {
            Fake {
                state: state.to_vec(),
                pending: vec![false; state.len()],
                done: vec![false; state.len()],
                asked: Vec::new(),
            }
        }
    }

    impl View<u16> for Fake {
        fn state(&mut self, v: u16) -> State {
            self.asked.push(("state", v));
            self.state[v as usize]
        }
        fn wakes(&mut self, v: u16) -> bool {
            self.asked.push(("wakes", v));
            self.pending[v as usize]
        }
        fn completes(&mut self, v: u16) -> bool {
            self.asked.push(("completes", v));
            self.done[v as usize]
        }
    }

    fn run(order: &[u16], slot: Option<Option<u16>>, f: &mut Fake) -> Option<Picked<u16>> {
        pick(order.iter().copied(), slot, |v| v, f)
    }

    use State::*;

    #[test]
    fn the_first_runnable_in_priority_order_runs() {
        let mut f = Fake::new(&[On, On, On]);
        assert_eq!(run(&[2, 0, 1], None, &mut f), Some(Picked::On(2)));
        // Nothing after the pick is looked at.
        assert_eq!(f.asked, vec![("state", 2)]);
    }

    #[test]
    fn off_and_waiting_without_an_interrupt_are_passed_over() {
        let mut f = Fake::new(&[Off, Waiting, Reflecting, On]);
        assert_eq!(run(&[0, 1, 2, 3], None, &mut f), Some(Picked::On(3)));
        assert_eq!(
            f.asked,
            vec![
                ("state", 0),
                ("state", 1),
                ("wakes", 1),
                ("state", 2),
                ("completes", 2),
                ("state", 3)
            ]
        );
    }

    #[test]
    fn a_waiting_vcpu_with_an_interrupt_wakes_before_lower_priorities() {
        let mut f = Fake::new(&[On, Waiting]);
        f.pending[1] = true;
        assert_eq!(run(&[1, 0], None, &mut f), Some(Picked::Woken(1)));
        // Without the interrupt the lower priority runs.
        f.pending[1] = false;
        assert_eq!(run(&[1, 0], None, &mut f), Some(Picked::On(0)));
    }

    #[test]
    fn a_completed_reflection_resumes() {
        let mut f = Fake::new(&[Reflecting, On]);
        f.done[0] = true;
        assert_eq!(run(&[0, 1], None, &mut f), Some(Picked::Completed(0)));
        assert_eq!(Picked::Completed(0u16).vcpu(), 0);
    }

    #[test]
    fn nothing_runnable_picks_nothing() {
        let mut f = Fake::new(&[Off, Waiting, Reflecting]);
        assert_eq!(run(&[0, 1, 2], None, &mut f), None);
        assert_eq!(run(&[], None, &mut f), None);
    }

    #[test]
    fn a_slot_admits_only_its_vcpu() {
        let mut f = Fake::new(&[On, On, Waiting]);
        assert_eq!(run(&[0, 1, 2], Some(Some(1)), &mut f), Some(Picked::On(1)));
        // The others are not even looked at.
        assert_eq!(f.asked, vec![("state", 1)]);
        // The slot's vCPU waits with nothing pending: the CPU idles, although vCPU 0
        // could run.
        f.asked.clear();
        assert_eq!(run(&[0, 1, 2], Some(Some(2)), &mut f), None);
        assert_eq!(f.asked, vec![("state", 2), ("wakes", 2)]);
        // An idle slot runs nobody.
        assert_eq!(run(&[0, 1, 2], Some(None), &mut f), None);
    }
}
