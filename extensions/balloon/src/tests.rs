//! The protocol on the host: the worked scenarios of docs/BALLOON.md, and a random walk
//! over every request that checks, after every step, that no block is in two holders,
//! that the steps replayed on a model of the blocks agree with the state, and that a
//! block reaches a holder only scrubbed.
use super::*;
use std::vec::Vec;

/// A model of the pool's blocks: who holds each, and whether it holds data.
struct Blocks {
    owner: [Option<Holder>; 16],
    dirty: [bool; 16],
    n: u32,
}

impl Blocks {
    fn new(n: u32, initial: [u32; 2]) -> Blocks {
        let mut b = Blocks {
            owner: [None; 16],
            dirty: [false; 16],
            n,
        };
        for i in 0..initial[0] {
            b.owner[i as usize] = Some(0);
        }
        for i in 0..initial[1] {
            b.owner[(n - 1 - i) as usize] = Some(1);
        }
        b
    }
    /// Pool block of window block `i` of holder `h` (as `ElasticDesc::block_pa`).
    fn block(&self, h: Holder, i: u32) -> usize {
        (if h == 0 { i } else { self.n - 1 - i }) as usize
    }
    fn apply(&mut self, steps: &Steps) {
        for s in steps.iter() {
            match s {
                Step::Shrink { h, from, to } => {
                    for i in to..from {
                        let b = self.block(h, i);
                        assert_eq!(
                            self.owner[b],
                            Some(h),
                            "shrink of a block {h} does not hold"
                        );
                        self.owner[b] = None;
                        self.dirty[b] = false; // scrubbed
                    }
                }
                Step::Grow { h, from, to } => {
                    for i in from..to {
                        let b = self.block(h, i);
                        assert_eq!(self.owner[b], None, "block {b} given to {h} while held");
                        assert!(!self.dirty[b], "block {b} reaches {h} unscrubbed");
                        self.owner[b] = Some(h);
                    }
                }
                Step::NotifyHolder(_) | Step::NotifyManager => {}
            }
        }
    }
    fn count(&self, h: Holder) -> u32 {
        self.owner.iter().filter(|o| **o == Some(h)).count() as u32
    }
}

#[test]
fn acquire_from_free_blocks_is_immediate() {
    let mut p = Pool::new(8, 2, [2, 0], false);
    let d = p.acquire(1, 3).unwrap();
    assert!(!d.pending);
    let s: Vec<_> = d.steps.iter().collect::<Vec<_>>();
    assert_eq!(
        s[0],
        Step::Grow {
            h: 1,
            from: 0,
            to: 3
        }
    );
    assert_eq!(s[1], Step::NotifyHolder(1));
    assert_eq!((p.held(0), p.held(1), p.free()), (2, 3, 3));
    assert_eq!(p.acquire(1, 4), Err(Refused::NoMemory));
    assert_eq!(p.acquire(1, 6), Err(Refused::Invalid));
    assert_eq!(p.acquire(1, 0), Err(Refused::Invalid));
    assert_eq!(p.acquire(2, 1), Err(Refused::Invalid));
}

#[test]
fn a_move_asks_the_giver_and_completes_on_release() {
    let mut p = Pool::new(8, 2, [8, 0], true);
    assert_eq!(p.move_to(false, 1, 4, 100), Err(Refused::Denied));
    let d = p.move_to(true, 1, 4, 100).unwrap();
    assert!(d.pending);
    assert_eq!(d.steps.iter().next(), Some(Step::NotifyHolder(0)));
    assert_eq!(p.status(Some(0)).asked, 4);
    assert_eq!(p.move_to(true, 1, 1, 100), Err(Refused::Busy));
    // While a move is in flight every request waits, even one that only the move's
    // outcome makes valid: all 8 back to holder 0, which holds 8 now and will hold 4.
    assert_eq!(p.move_to(true, 0, 8, 100), Err(Refused::Busy));
    assert_eq!(p.acquire(0, 1), Err(Refused::Busy));
    // More than the pool is wrong whatever is in flight.
    assert_eq!(p.move_to(true, 0, 9, 100), Err(Refused::Invalid));
    assert_eq!(p.acquire(0, 9), Err(Refused::Invalid));
    // A partial release counts; the rest completes the move.
    let d = p.release(0, 1).unwrap();
    assert_eq!(d.steps.len(), 1);
    assert_eq!(p.status(Some(0)).asked, 3);
    let d = p.release(0, 3).unwrap();
    let s: Vec<_> = d.steps.iter().collect::<Vec<_>>();
    assert_eq!(
        s,
        [
            Step::Shrink {
                h: 0,
                from: 7,
                to: 4
            },
            Step::Grow {
                h: 1,
                from: 0,
                to: 4
            },
            Step::NotifyHolder(1)
        ]
    );
    assert_eq!((p.held(0), p.held(1), p.ask()), (4, 4, None));
}

#[test]
fn an_unanswered_ask_is_revoked_at_its_deadline() {
    let mut p = Pool::new(4, 2, [0, 4], true);
    p.move_to(true, 0, 4, 1000).unwrap();
    assert!(p.tick(999).is_empty());
    let s: Vec<_> = p.tick(1000).iter().collect::<Vec<_>>();
    assert_eq!(
        s,
        [
            Step::Shrink {
                h: 1,
                from: 4,
                to: 0
            },
            Step::Grow {
                h: 0,
                from: 0,
                to: 4
            },
            Step::NotifyHolder(0)
        ]
    );
    assert!(p.tick(2000).is_empty());
}

#[test]
fn a_restarting_holder_gives_everything_back() {
    let mut p = Pool::new(4, 2, [0, 3], true);
    // The giver restarts while asked: its blocks serve the move.
    p.move_to(true, 0, 4, 1000).unwrap();
    let s: Vec<_> = p.reset(1).iter().collect::<Vec<_>>();
    assert_eq!(
        s[0],
        Step::Shrink {
            h: 1,
            from: 3,
            to: 0
        }
    );
    assert_eq!(
        s[1],
        Step::Grow {
            h: 0,
            from: 0,
            to: 4
        }
    );
    // The receiver of a move restarts: the move is dropped.
    let mut p = Pool::new(4, 2, [0, 4], true);
    p.move_to(true, 0, 2, 1000).unwrap();
    assert!(p.reset(0).is_empty());
    assert_eq!(p.ask(), None);
    assert!(p.tick(5000).is_empty());
    // A holder asking for more than is free is passed to the manager.
    let d = p.acquire(0, 1).unwrap();
    assert!(d.pending);
    assert_eq!(d.steps.iter().next(), Some(Step::NotifyManager));
    assert_eq!(p.status(None).wanted, 1);
}

/// Every request at random, 20 000 times, on pools of 1..=12 blocks.
#[test]
fn random_requests_never_put_a_block_in_two_holders() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for round in 0..200 {
        let n = 1 + (round % 12) as u32;
        let holders = if round % 5 == 0 { 1 } else { 2 };
        let i0 = rnd(u64::from(n) + 1) as u32;
        let i1 = if holders == 2 {
            rnd(u64::from(n - i0) + 1) as u32
        } else {
            0
        };
        let mut p = Pool::new(n, holders, [i0, i1], round % 3 != 0);
        let mut m = Blocks::new(n, [i0, i1]);
        let mut now = 0u64;
        for _ in 0..100 {
            now += rnd(50);
            let h = rnd(3) as usize; // 2 = no such holder
            let k = rnd(u64::from(n) + 2) as u32;
            let r = match rnd(5) {
                0 => p.acquire(h, k).map(|d| d.steps),
                1 => p.release(h, k).map(|d| d.steps),
                2 => p
                    .move_to(rnd(4) != 0, h, k, now + rnd(200))
                    .map(|d| d.steps),
                3 => Ok(p.tick(now)),
                _ => Ok(p.reset(h)),
            };
            if let Ok(steps) = r {
                m.apply(&steps);
            }
            assert!(p.held(0) + p.held(1) <= n);
            assert_eq!(m.count(0), p.held(0));
            assert_eq!(m.count(1), p.held(1));
            // The holders' blocks are their own ends of the pool.
            for i in 0..p.held(0) {
                assert_eq!(m.owner[m.block(0, i)], Some(0));
            }
            for i in 0..p.held(1) {
                assert_eq!(m.owner[m.block(1, i)], Some(1));
            }
            // Holders write into what they hold.
            for b in 0..n as usize {
                if m.owner[b].is_some() {
                    m.dirty[b] = true;
                }
            }
            if let Some(a) = p.ask() {
                assert!(a.count <= p.held(a.giver) && a.count > 0);
            }
        }
    }
}
