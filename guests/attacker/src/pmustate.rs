//! The PMU registers a guest reaches at EL1, read and written as one value, for the
//! `pmu-victim` / `pmu-attacker` pair (a VM with `pmu = "virtual"` has a PMU of its own).
// Each of the two binaries uses part of it.
#![allow(dead_code)]
use core::arch::asm;

/// Every PMU register the pair compares (event counters beyond PMCR_EL0.N are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pmu {
    /// PMCR_EL0 without N/IMP/IDCODE (read-only) and P/C (write-only).
    pub pmcr: u64,
    pub cnten: u64,
    pub inten: u64,
    pub ovs: u64,
    pub selr: u64,
    pub userenr: u64,
    pub ccfiltr: u64,
    pub ccntr: u64,
    pub evtyper: [u64; 31],
    pub evcntr: [u64; 31],
}

macro_rules! rd {
    ($name:literal) => {{
        let v: u64;
        // SAFETY: reading a PMU register of this VM's own PMU has no side effects.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

macro_rules! wr {
    ($name:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: the PMU is this VM's own; nothing in the guest depends on it.
        unsafe {
            asm!(concat!("msr ", $name, ", {}"), "isb", in(reg) v, options(nomem, nostack))
        };
    }};
}

/// ID_AA64DFR0_EL1.PMUVer.
pub fn version() -> u64 {
    (rd!("id_aa64dfr0_el1") >> 8) & 0xf
}

/// PMCR_EL0.N: the event counters this vCPU has.
pub fn counters() -> usize {
    ((rd!("pmcr_el0") >> 11) & 0x1f) as usize
}

/// Event counter `i` (selected through PMSELR_EL0, which the caller restores).
fn select(i: usize) {
    wr!("pmselr_el0", i as u64);
}

/// Reads the whole PMU (PMSELR_EL0 is left as it was).
pub fn read() -> Pmu {
    let n = counters();
    let selr = rd!("pmselr_el0");
    let mut p = Pmu {
        pmcr: rd!("pmcr_el0") & 0xf9,
        cnten: rd!("pmcntenset_el0"),
        inten: rd!("pmintenset_el1"),
        ovs: rd!("pmovsset_el0"),
        selr,
        userenr: rd!("pmuserenr_el0"),
        ccfiltr: rd!("pmccfiltr_el0"),
        ccntr: rd!("pmccntr_el0"),
        evtyper: [0; 31],
        evcntr: [0; 31],
    };
    for i in 0..n {
        select(i);
        p.evtyper[i] = rd!("pmxevtyper_el0");
        p.evcntr[i] = rd!("pmxevcntr_el0");
    }
    select(selr as usize);
    p
}

/// Writes the whole PMU (enables last).
pub fn write(p: &Pmu) {
    let n = counters();
    for i in 0..n {
        select(i);
        wr!("pmxevtyper_el0", p.evtyper[i]);
        wr!("pmxevcntr_el0", p.evcntr[i]);
    }
    wr!("pmselr_el0", p.selr);
    wr!("pmccfiltr_el0", p.ccfiltr);
    wr!("pmccntr_el0", p.ccntr);
    wr!("pmuserenr_el0", p.userenr);
    wr!("pmovsclr_el0", u64::MAX);
    wr!("pmovsset_el0", p.ovs);
    wr!("pmintenclr_el1", u64::MAX);
    wr!("pmintenset_el1", p.inten);
    wr!("pmcntenclr_el0", u64::MAX);
    wr!("pmcntenset_el0", p.cnten);
    wr!("pmcr_el0", p.pmcr);
}

/// INST_RETIRED (architectural event 0x08).
pub const INST_RETIRED: u64 = 0x08;
/// CPU_CYCLES (0x11).
pub const CPU_CYCLES: u64 = 0x11;
/// PMEVTYPER.NSH / PMCCFILTR.NSH: also count at EL2 (the hypervisor must refuse it).
pub const NSH: u64 = 1 << 27;
/// PMEVTYPER.U: do not count at EL0.
pub const U: u64 = 1 << 30;

/// A distinct pattern per `tag`: counter 0 counts CPU_CYCLES, counter 1 CPU_CYCLES with
/// NSH (asking to count EL2 too; QEMU counts INST_RETIRED only under icount), the others CPU_CYCLES/INST_RETIRED with filters;
/// every counter starts at a tag-specific value; all counters and the cycle counter
/// enabled, counting on (PMCR.E); interrupts and overflow flags set on bits that do not
/// overlap (no interrupt is asserted); EL0 access on.
pub fn pattern(tag: u64) -> Pmu {
    let n = counters();
    let mut p = Pmu {
        pmcr: 1 | (1 << 6), // E, LC
        cnten: (1 << 31) | ((1 << n) - 1),
        inten: 0b0101 & ((1 << n) - 1),
        ovs: 0b1010 & ((1 << n) - 1),
        selr: tag % n as u64,
        userenr: 0b1101,
        ccfiltr: U,
        ccntr: tag << 20,
        evtyper: [0; 31],
        evcntr: [0; 31],
    };
    for i in 0..n {
        p.evtyper[i] = match i {
            0 => CPU_CYCLES,
            1 => CPU_CYCLES | NSH,
            _ if (i as u64 + tag) % 2 == 0 => CPU_CYCLES | U,
            _ => INST_RETIRED,
        };
        p.evcntr[i] = (tag << 16) + i as u64 * 0x100;
    }
    p
}

/// `p` without its running counts (what must come back exactly).
pub fn setup(p: &Pmu) -> Pmu {
    Pmu {
        ccntr: 0,
        evcntr: [0; 31],
        ..*p
    }
}

/// Counter 0 counts CPU_CYCLES from `start` with its overflow interrupt enabled (every
/// other counter and interrupt off).
pub fn arm_overflow(start: u64) {
    wr!("pmcntenclr_el0", u64::MAX);
    wr!("pmintenclr_el1", u64::MAX);
    wr!("pmovsclr_el0", u64::MAX);
    select(0);
    wr!("pmxevtyper_el0", CPU_CYCLES);
    wr!("pmxevcntr_el0", start);
    wr!("pmintenset_el1", 1);
    wr!("pmcntenset_el0", 1);
    wr!("pmcr_el0", 1);
}

/// In the PMU interrupt's handler: whether counter 0 overflowed; if so the flag is
/// cleared (the line is level) and the counter restarts from `start`.
pub fn take_overflow(start: u64) -> bool {
    if rd!("pmovsset_el0") & 1 == 0 {
        return false;
    }
    wr!("pmovsclr_el0", 1);
    select(0);
    wr!("pmxevcntr_el0", start);
    true
}

/// Stops counting and disables every overflow interrupt.
pub fn disarm() {
    wr!("pmintenclr_el1", u64::MAX);
    wr!("pmcntenclr_el0", u64::MAX);
    wr!("pmovsclr_el0", u64::MAX);
    wr!("pmcr_el0", 0);
}
