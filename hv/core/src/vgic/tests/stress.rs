//! Randomised (deterministic) runs of the list-register manager with two vCPUs, four or
//! fewer list registers, edges arriving at any time, guest traps at any time and SPI
//! routes changing under the guest's feet. Checked: every edge is delivered after it was
//! raised, no EOI ever misses its list register, and nothing is left pending.

#![allow(clippy::needless_range_loop)] // loop indices are vCPU numbers

use super::super::dist::{CTLR, IROUTER};
use super::super::redist::{SGI_BASE, STRIDE};
use super::sim::Cpu;
use super::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SPIS: [u32; 6] = [33, 34, 40, 48, 50, 60];

fn setup() -> G {
    let mut g = G::new(&MPIDRS, &SPIS).unwrap();
    g.gicd_write(CTLR, 4, 2);
    for v in 0..4 {
        g.gicr_write(v * STRIDE + SGI_BASE + 0x100, 4, 0xFFFF_FFFF);
        g.gicr_write(v * STRIDE + SGI_BASE + 0xC04, 4, 0xAAAA_AAAA); // PPIs edge
    }
    g.gicd_write(0x104, 4, 0xFFFF_FFFF);
    g.gicd_write(0xC08, 4, 0xAAAA_AAAA);
    g.gicd_write(0xC0C, 4, 0xAAAA_AAAA);
    g
}

/// Outstanding edges: `[vcpu][intid]` for private ones, `[0][intid]` for SPIs.
type Outstanding = [[bool; 64]; 2];

fn deliver(out: &mut Outstanding, v: usize, id: u32) {
    let row = if id >= 32 { 0 } else { v };
    out[row][id as usize] = false;
}

/// vCPU `c` exits and re-enters as the image does: its list registers are read back
/// and emptied, and filled again only if the sync asks for it or something changed.
fn reenter<const N: usize>(
    g: &mut G,
    cpus: &mut [Cpu<N>; 2],
    dirty: &mut [bool; 2],
    kicks: &mut u64,
    c: usize,
) {
    let s = g.sync_lrs(c, &cpus[c].lrs);
    *kicks |= s.kick;
    for o in 0..2 {
        if s.kick & (1 << o) != 0 {
            dirty[o] = true;
        }
    }
    if core::mem::take(&mut dirty[c]) || s.refill {
        cpus[c].enter(g, c);
    } else {
        cpus[c].enter_untouched();
    }
}

fn run<const N: usize>(seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let mut g = setup();
    let mut cpus = [Cpu::<N>::new(), Cpu::<N>::new()];
    let mut acked: [Option<u32>; 2] = [None, None];
    let mut out: Outstanding = [[false; 64]; 2];
    for v in 0..2 {
        cpus[v].enter(&mut g, v);
    }
    for id in 0..64 {
        let prio = rng.below(32) << 3;
        if id < 32 {
            g.gicr_write(SGI_BASE + 0x400 + id, 1, prio);
            g.gicr_write(STRIDE + SGI_BASE + 0x400 + id, 1, prio);
        } else {
            g.gicd_write(0x400 + id, 1, prio);
        }
    }
    let mut kicks = 0u64;
    // The image's per-vCPU "interrupt state changed" flag: set by raises and route
    // changes for the vCPUs they concern, and by a sync that asks for a refill. An exit
    // with the flag clear re-enters with the list registers left empty.
    let mut dirty = [false; 2];
    for _ in 0..steps {
        let v = rng.below(2) as usize;
        match rng.below(10) {
            0..=2 => {
                let id = if rng.below(2) == 0 {
                    rng.below(32) as u32
                } else {
                    SPIS[rng.below(SPIS.len() as u64) as usize]
                };
                let target = g.raise(v, id).unwrap();
                let row = if id >= 32 { 0 } else { v };
                out[row][id as usize] = true;
                if let Some(t) = target {
                    kicks |= 1 << t;
                    dirty[t] = true;
                }
            }
            3..=4 if acked[v].is_none() => {
                if let Some(id) = cpus[v].ack() {
                    deliver(&mut out, v, id);
                    acked[v] = Some(id);
                }
            }
            5..=6 => {
                if let Some(id) = acked[v].take() {
                    cpus[v].eoi(id);
                }
            }
            7 => kicks |= 1 << v, // the guest traps for some other reason
            8 => {
                let id = SPIS[rng.below(SPIS.len() as u64) as usize];
                let to = rng.below(2);
                if g.gicd_write(IROUTER + 8 * id as u64, 8, to) {
                    kicks |= 0b11;
                    dirty = [true; 2];
                }
            }
            _ => {}
        }
        for c in 0..2 {
            if cpus[c].maintenance() {
                kicks |= 1 << c;
            }
        }
        for c in 0..2 {
            if kicks & (1 << c) != 0 {
                kicks &= !(1 << c);
                reenter(&mut g, &mut cpus, &mut dirty, &mut kicks, c);
            }
        }
    }
    // Drain: the guests handle everything; exits happen only through maintenance and
    // kicks.
    for v in 0..2 {
        if let Some(id) = acked[v].take() {
            cpus[v].eoi(id);
        }
    }
    for _ in 0..10_000 {
        let mut progress = false;
        for v in 0..2 {
            if let Some(id) = cpus[v].ack() {
                deliver(&mut out, v, id);
                cpus[v].eoi(id);
                progress = true;
            }
            if cpus[v].maintenance() {
                kicks |= 1 << v;
            }
        }
        for c in 0..2 {
            if kicks & (1 << c) != 0 {
                kicks &= !(1 << c);
                reenter(&mut g, &mut cpus, &mut dirty, &mut kicks, c);
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    for v in 0..2 {
        assert_eq!(cpus[v].lost_eoi, 0, "seed {seed}: lost EOI on vCPU {v}");
        assert!(!g.has_pending(v), "seed {seed}: vCPU {v} left with pending");
    }
    for (row, o) in out.iter().enumerate() {
        for (id, &pending) in o.iter().enumerate() {
            assert!(
                !pending,
                "seed {seed}: INTID {id} (row {row}) never delivered"
            );
        }
    }
}

#[test]
fn random_runs_one_lr() {
    for seed in 1..40 {
        run::<1>(seed * 0x9E37_79B9, 400);
    }
}

#[test]
fn random_runs_four_lrs() {
    for seed in 1..60 {
        run::<4>(seed * 0x9E37_79B9 + 7, 600);
    }
}
