//! The time-slot part of the static schedule (time partitioning).
//!
//! A CPU may have a cyclic slot table from the configuration: the cycle starts at
//! counter value 0 and repeats; during a slot only the slot's vCPU may run (an idle slot
//! leaves the CPU idle), so a partition gets its share of time whatever the others do.
//! Within the slot the vCPU still runs event-driven (it may wait in WFI). CPUs without a
//! table use the plain fixed-priority order. Pure arithmetic: the run loop asks which
//! slot covers `now` and when the next one starts (to arm the EL2 timer).
use crate::sysdesc::{Slot, SlotLength, VcpuIndex};

/// Length of a slot in counter ticks.
pub const fn ticks(len: SlotLength, freq_hz: u64) -> u64 {
    match len {
        SlotLength::Ticks(t) => t,
        SlotLength::Micros(us) => us.saturating_mul(freq_hz) / 1_000_000,
    }
}

/// The slot covering counter value `now`: (its vCPU, the counter value at which the next
/// slot starts). `None` for an empty table or one whose cycle has no length.
pub fn slot_at(slots: &[Slot], freq_hz: u64, now: u64) -> Option<(Option<VcpuIndex>, u64)> {
    let cycle: u64 = slots.iter().map(|s| ticks(s.length, freq_hz)).sum();
    if cycle == 0 {
        return None;
    }
    let start = now - now % cycle;
    let mut at = start;
    for s in slots {
        let end = at + ticks(s.length, freq_hz);
        if now < end {
            return Some((s.vcpu, end));
        }
        at = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: [Slot; 3] = [
        Slot {
            vcpu: Some(0),
            length: SlotLength::Ticks(100),
        },
        Slot {
            vcpu: None,
            length: SlotLength::Ticks(50),
        },
        Slot {
            vcpu: Some(1),
            length: SlotLength::Micros(1),
        },
    ];

    #[test]
    fn slots_cover_the_cycle_in_order() {
        // 1 µs at 100 MHz = 100 ticks: cycle 250.
        assert_eq!(slot_at(&T, 100_000_000, 0), Some((Some(0), 100)));
        assert_eq!(slot_at(&T, 100_000_000, 99), Some((Some(0), 100)));
        assert_eq!(slot_at(&T, 100_000_000, 100), Some((None, 150)));
        assert_eq!(slot_at(&T, 100_000_000, 150), Some((Some(1), 250)));
        assert_eq!(slot_at(&T, 100_000_000, 249), Some((Some(1), 250)));
        assert_eq!(slot_at(&T, 100_000_000, 250), Some((Some(0), 350)));
        assert_eq!(
            slot_at(&T, 100_000_000, 10_000_120),
            Some((None, 10_000_150))
        );
    }

    #[test]
    fn empty_or_zero_length_tables_have_no_slot() {
        assert_eq!(slot_at(&[], 1, 5), None);
        assert_eq!(
            slot_at(
                &[Slot {
                    vcpu: Some(0),
                    length: SlotLength::Ticks(0)
                }],
                1,
                5
            ),
            None
        );
    }
}
