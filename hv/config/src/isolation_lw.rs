//! Isolation checks of the E2H=1 (VHE) tables, by walking them: the EL2 map and every
//! lightweight VM's address space.
//!
//! What the description promises and the walk must find:
//! - under E2H=1 no leaf of the hypervisor's own map is EL0-accessible or non-global;
//! - an lwVM's address space holds exactly a privileged copy of the EL2 map (every EL2
//!   leaf, same output and attributes, no other privileged leaf) plus its user pages;
//! - every EL0-accessible leaf of an lwVM lies in its window and maps its own memory
//!   (RWX at EL0) or a shared region it names (with the configured rights, never
//!   executable), is PXN (the hypervisor never executes it) and not global (ASID-tagged);
//! - the whole of its memory is mapped.

use crate::Plan;
use crate::fmt::hex;
use crate::lwvm::{WINDOW_BASE, WINDOW_END, vhe_perms};
use crate::walk::{Leaf, Walker, coalesce};

/// Checks the VHE tables of `plan` (nothing to do for an E2H=0 plan).
pub fn check(plan: &Plan, w: &Walker) -> Result<(), String> {
    let d = plan.desc;
    if !d.hv.e2h {
        if d.vms.iter().any(|v| v.lwvm.is_some()) {
            return Err("lightweight VMs in a plan without E2H=1".into());
        }
        return Ok(());
    }
    let el2 = coalesce(&w.leaves(d.hv.ttbr0_el2).map_err(|e| e.to_string())?);
    for l in &el2 {
        let p = vhe_perms(l.attrs);
        if p.el0 || p.ng || p.el0_exec {
            return Err(format!(
                "EL2: {} is reachable from EL0 or not global: {p:?}",
                hex(l.va)
            ));
        }
    }
    for (i, vm) in d.vms.iter().enumerate() {
        let Some(lw) = &vm.lwvm else { continue };
        let leaves = coalesce(&w.leaves(lw.root).map_err(|e| e.to_string())?);
        let (user, privileged): (Vec<Leaf>, Vec<Leaf>) =
            leaves.into_iter().partition(|l| vhe_perms(l.attrs).el0);
        if privileged != el2 {
            return Err(format!(
                "lwvm {}: its privileged mappings are not exactly the EL2 map",
                vm.name
            ));
        }
        let mut mem_bytes = 0;
        for l in &user {
            let p = vhe_perms(l.attrs);
            let at = format!(
                "lwvm {}: VA {} ({:#x} bytes) -> {}",
                vm.name,
                hex(l.va),
                l.size,
                hex(l.pa)
            );
            if l.va < WINDOW_BASE || l.va + l.size > WINDOW_END {
                return Err(format!("{at} is EL0-accessible outside the lwVM window"));
            }
            if p.el2_exec || !p.ng {
                return Err(format!(
                    "{at} is a user page the hypervisor could execute or that is global: {p:?}"
                ));
            }
            let own = l.va >= vm.ram_ipa && l.va + l.size <= vm.ram_ipa + vm.ram_size;
            if own {
                if l.pa != vm.ram_pa + (l.va - vm.ram_ipa) || p.read_only || !p.el0_exec {
                    return Err(format!("{at} is not its memory with {p:?}"));
                }
                mem_bytes += l.size;
                continue;
            }
            let shared = d.shared.iter().any(|s| {
                s.maps.iter().any(|m| {
                    usize::from(m.vm) == i
                        && l.va >= m.ipa
                        && l.va + l.size <= m.ipa + s.size
                        && l.pa == s.pa + (l.va - m.ipa)
                        && p.read_only != m.writable
                        && !p.el0_exec
                })
            });
            if !shared {
                return Err(format!(
                    "{at} is EL0-accessible but neither its memory nor a shared region it maps"
                ));
            }
        }
        if mem_bytes != vm.ram_size {
            return Err(format!(
                "lwvm {}: {mem_bytes:#x} of {:#x} memory bytes mapped",
                vm.name, vm.ram_size
            ));
        }
    }
    Ok(())
}
