//! A vCPU's own PMU (`pmu = "virtual"`): its registers moved between the hardware and its
//! [`PmuState`]. While a vCPU with a virtual PMU runs, MDCR_EL2 lets its PMU accesses
//! through (`features::set_pmu_access`) and keeps the counters from counting at EL2
//! (HPMD, HCCD where the PMU version has them); when it stops running its counters are
//! saved and the PMU is left stopped, with nothing enabled, so that no other guest sees
//! or is interrupted by them.
use core::arch::asm;

pub use crate::state::PmuState;

macro_rules! rd {
    ($name:literal) => {{
        let v: u64;
        // SAFETY: reading a PMU register at EL2 (the CPU has PMUv3: only called for a VM
        // whose PMU is virtual, which the toolkit allows only then) has no side effects.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

macro_rules! wr {
    ($name:literal, $v:expr) => {{
        let v: u64 = $v;
        // SAFETY: the PMU belongs to the guest vCPU being switched; the hypervisor does not
        // use it, and EL2 counting is prohibited by MDCR_EL2 while a guest owns it.
        unsafe { asm!(concat!("msr ", $name, ", {}"), in(reg) v, options(nomem, nostack)) };
    }};
}

/// Applies `$m!(index, "pmevtyper<i>_el0", "pmevcntr<i>_el0")` to the first `$n` counters.
macro_rules! each_counter {
    ($n:expr, $m:ident) => {
        each_counter!(@ $n, $m;
            0 "pmevtyper0_el0" "pmevcntr0_el0", 1 "pmevtyper1_el0" "pmevcntr1_el0",
            2 "pmevtyper2_el0" "pmevcntr2_el0", 3 "pmevtyper3_el0" "pmevcntr3_el0",
            4 "pmevtyper4_el0" "pmevcntr4_el0", 5 "pmevtyper5_el0" "pmevcntr5_el0",
            6 "pmevtyper6_el0" "pmevcntr6_el0", 7 "pmevtyper7_el0" "pmevcntr7_el0",
            8 "pmevtyper8_el0" "pmevcntr8_el0", 9 "pmevtyper9_el0" "pmevcntr9_el0",
            10 "pmevtyper10_el0" "pmevcntr10_el0", 11 "pmevtyper11_el0" "pmevcntr11_el0",
            12 "pmevtyper12_el0" "pmevcntr12_el0", 13 "pmevtyper13_el0" "pmevcntr13_el0",
            14 "pmevtyper14_el0" "pmevcntr14_el0", 15 "pmevtyper15_el0" "pmevcntr15_el0",
            16 "pmevtyper16_el0" "pmevcntr16_el0", 17 "pmevtyper17_el0" "pmevcntr17_el0",
            18 "pmevtyper18_el0" "pmevcntr18_el0", 19 "pmevtyper19_el0" "pmevcntr19_el0",
            20 "pmevtyper20_el0" "pmevcntr20_el0", 21 "pmevtyper21_el0" "pmevcntr21_el0",
            22 "pmevtyper22_el0" "pmevcntr22_el0", 23 "pmevtyper23_el0" "pmevcntr23_el0",
            24 "pmevtyper24_el0" "pmevcntr24_el0", 25 "pmevtyper25_el0" "pmevcntr25_el0",
            26 "pmevtyper26_el0" "pmevcntr26_el0", 27 "pmevtyper27_el0" "pmevcntr27_el0",
            28 "pmevtyper28_el0" "pmevcntr28_el0", 29 "pmevtyper29_el0" "pmevcntr29_el0",
            30 "pmevtyper30_el0" "pmevcntr30_el0")
    };
    (@ $n:expr, $m:ident; $($i:literal $t:literal $c:literal),*) => {
        $( if $i < $n { $m!($i, $t, $c); } )*
    };
}

/// The event counters the hardware has (PMCR_EL0.N; MDCR_EL2.HPMN gives them all to the
/// guest).
pub fn counters() -> usize {
    ((rd!("pmcr_el0") >> 11) & 0x1f) as usize
}

/// Saves the CPU's PMU into `s` and leaves it stopped and clear: counters disabled,
/// interrupts disabled, overflow flags clear, EL0 access off.
pub fn save(s: &mut PmuState) {
    let pmcr = rd!("pmcr_el0");
    // Stopped first, so that the values read are the ones the guest left.
    wr!("pmcr_el0", pmcr & !1);
    // SAFETY: a barrier only.
    unsafe { asm!("isb", options(nomem, nostack)) };
    let n = ((pmcr >> 11) & 0x1f) as usize;
    // E, D, X, DP, LC, LP (P and C are write-only actions).
    s.pmcr = pmcr & 0xf9;
    s.cnten = rd!("pmcntenset_el0");
    s.inten = rd!("pmintenset_el1");
    s.ovs = rd!("pmovsset_el0");
    s.selr = rd!("pmselr_el0");
    s.userenr = rd!("pmuserenr_el0");
    s.ccfiltr = rd!("pmccfiltr_el0");
    s.ccntr = rd!("pmccntr_el0");
    macro_rules! save_one {
        ($i:literal, $t:literal, $c:literal) => {
            s.evtyper[$i] = rd!($t);
            s.evcntr[$i] = rd!($c);
        };
    }
    each_counter!(n, save_one);
    wr!("pmcntenclr_el0", u64::MAX);
    wr!("pmintenclr_el1", u64::MAX);
    wr!("pmovsclr_el0", u64::MAX);
    wr!("pmuserenr_el0", 0);
}

/// Loads `s` into the CPU's PMU (counting resumes where it stopped if it was enabled).
pub fn load(s: &PmuState) {
    let n = counters();
    macro_rules! load_one {
        ($i:literal, $t:literal, $c:literal) => {
            wr!($t, s.evtyper[$i]);
            wr!($c, s.evcntr[$i]);
        };
    }
    each_counter!(n, load_one);
    wr!("pmccfiltr_el0", s.ccfiltr);
    wr!("pmccntr_el0", s.ccntr);
    wr!("pmselr_el0", s.selr);
    wr!("pmuserenr_el0", s.userenr);
    wr!("pmovsclr_el0", u64::MAX);
    wr!("pmovsset_el0", s.ovs);
    wr!("pmintenclr_el1", u64::MAX);
    wr!("pmintenset_el1", s.inten);
    wr!("pmcntenclr_el0", u64::MAX);
    wr!("pmcntenset_el0", s.cnten);
    wr!("pmcr_el0", s.pmcr);
}

/// Disables every overflow interrupt (PMINTENCLR_EL1): for a PMU interrupt that no vCPU
/// with its own PMU raised (a shared, unswitched PMU), so that its level line stops.
pub fn mask_overflow_irqs() {
    wr!("pmintenclr_el1", u64::MAX);
}
