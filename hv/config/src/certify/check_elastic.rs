//! Checks of elastic memory pools: every table set the run time may switch a holder to,
//! and every pair of sets the protocol can reach.
//!
//! The run time only ever picks, for each holder, one of its `roots[k]`, keeping the
//! holders' counts within the pool (`k0 + k1 <= blocks`). So it is enough to prove, for
//! every holder and every `k`, that `roots[k]` is the holder's own stage 2 plus `k`
//! blocks of its end of the pool (all other properties of the VM's stage 2 then hold of
//! it too, and [`super::check_vm::check_stage2`] runs on it as well), and, for every
//! pair of counts that fits, that the two holders' window pages are disjoint.

use super::check::{Report, Subject};
use super::property::Property as P;
use crate::fmt::{hex, overlaps};
use crate::walk::{Leaf, Walker, coalesce};
use hv_core::sysdesc::ElasticDesc;
use std::collections::HashSet;

/// Whether leaf `l` of VM `i` lies in the window of a pool VM `i` holds and maps there
/// the pool block that position must map, RWX normal memory (the count is checked by
/// [`check_elastic`]).
pub(crate) fn window_leaf(d: &hv_core::sysdesc::SystemDesc, i: usize, l: &Leaf) -> Option<bool> {
    for e in d.elastic {
        for (h, x) in e.holders.iter().enumerate() {
            let window = u64::from(e.blocks) * e.block_size;
            if usize::from(x.vm) != i || !overlaps(l.va, l.size, x.ipa, window) {
                continue;
            }
            let p = crate::walk::s2_perms(l.attrs);
            let inside = l.va >= x.ipa && l.va + l.size <= x.ipa + window;
            let exact = inside
                && (l.va..l.va + l.size).step_by(0x1000).all(|va| {
                    let off = va - x.ipa;
                    let blk = (off / e.block_size) as u32;
                    e.block_pa(h, blk) + off % e.block_size == l.pa + (va - l.va)
                });
            return Some(exact && p.read && p.write && p.exec);
        }
    }
    None
}

/// The pool pages (4 KiB page addresses) a set maps in its window.
fn window_pages(e: &ElasticDesc, ipa: u64, leaves: &[Leaf]) -> (HashSet<u64>, u64) {
    let window = u64::from(e.blocks) * e.block_size;
    let mut pages = HashSet::new();
    let mut top = 0;
    for l in leaves
        .iter()
        .filter(|l| overlaps(l.va, l.size, ipa, window))
    {
        for off in (0..l.size).step_by(0x1000) {
            pages.insert(l.pa + off);
        }
        top = top.max(l.va + l.size - ipa);
    }
    (pages, top)
}

/// Every set of every holder, and every reachable pair. `seen` holds the tables of the
/// regimes walked already; a set may share tables only with its own VM's stage 2.
pub(crate) fn check_elastic(s: &Subject, w: &Walker, seen: &mut HashSet<u64>, r: &mut Report) {
    let d = s.desc;
    for e in d.elastic {
        let window = u64::from(e.blocks) * e.block_size;
        // Per holder, per count: the pool pages its window maps.
        let mut sets: Vec<Vec<HashSet<u64>>> = Vec::new();
        for x in e.holders {
            let i = usize::from(x.vm);
            let vm = &d.vms[i];
            let mut per_k = Vec::new();
            if x.roots.len() != e.blocks as usize + 1
                || x.roots.get(x.initial as usize) != Some(&vm.s2_root)
            {
                r.fail(
                    P::ElasticSets,
                    &format!("vm {} elastic {}", vm.name, e.name),
                    None,
                    format!(
                        "{} sets for {} blocks, or the VM does not start with the set of its initial count {}",
                        x.roots.len(),
                        e.blocks,
                        x.initial
                    ),
                );
                sets.push(Vec::new());
                continue;
            }
            let own_tables: HashSet<u64> = w
                .tables(x.roots[0])
                .unwrap_or_default()
                .into_iter()
                .collect();
            let own: Vec<Leaf> = w
                .leaves(x.roots[0])
                .map(|l| coalesce(&l))
                .unwrap_or_default();
            let outside = |ls: &[Leaf]| -> Vec<Leaf> {
                ls.iter()
                    .filter(|l| !overlaps(l.va, l.size, x.ipa, window))
                    .copied()
                    .collect()
            };
            let own_outside = outside(&own);
            for (k, &root) in x.roots.iter().enumerate() {
                let regime = format!("vm {} elastic {} x{k}", vm.name, e.name);
                r.count(P::ElasticSets, 1);
                let leaves = match (w.tables(root), w.leaves(root)) {
                    (Ok(t), Ok(l)) => {
                        if k != x.initial as usize {
                            for t in t.iter().filter(|t| !own_tables.contains(t)) {
                                if !seen.insert(*t) {
                                    r.fail(
                                        P::TablesWellFormed,
                                        &regime,
                                        Some(*t),
                                        "table is shared with another regime",
                                    );
                                }
                            }
                        }
                        coalesce(&l)
                    }
                    (Err(err), _) | (_, Err(err)) => {
                        r.fail(P::TablesWellFormed, &regime, Some(root), err.to_string());
                        per_k.push(HashSet::new());
                        continue;
                    }
                };
                if outside(&leaves) != own_outside {
                    r.fail(
                        P::ElasticSets,
                        &regime,
                        None,
                        format!(
                            "differs from the stage 2 of vm {} outside the pool's window",
                            vm.name
                        ),
                    );
                }
                let (pages, top) = window_pages(e, x.ipa, &leaves);
                let want = k as u64 * e.block_size;
                if pages.len() as u64 * 0x1000 != want || top != want {
                    r.fail(
                        P::ElasticSets,
                        &regime,
                        Some(x.ipa),
                        format!(
                            "maps {:#x} bytes up to window offset {:#x}; the set for {k} blocks maps exactly {want:#x}",
                            pages.len() as u64 * 0x1000,
                            top
                        ),
                    );
                }
                // Everything else about it is the VM's stage 2 (its window leaves are
                // checked against the pool there).
                super::check_vm::check_stage2(s, w, i, &regime, &leaves, r);
                per_k.push(pages);
            }
            sets.push(per_k);
        }
        if let [a, b] = &sets[..] {
            for (k0, p0) in a.iter().enumerate() {
                for (k1, p1) in b.iter().enumerate().take(e.blocks as usize + 1 - k0) {
                    r.count(P::ElasticSets, 1);
                    if let Some(page) = p0.intersection(p1).next() {
                        r.fail(
                            P::ElasticSets,
                            &format!("elastic {}", e.name),
                            Some(*page),
                            format!(
                                "with {k0} and {k1} blocks ({} in all, of {}), both holders map {}",
                                k0 + k1,
                                e.blocks,
                                hex(*page)
                            ),
                        );
                    }
                }
            }
        }
    }
}
