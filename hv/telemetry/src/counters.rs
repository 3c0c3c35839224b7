//! Per-CPU running totals and the classification of traps.
use hv_protocol::{Event, TRAP_KINDS, TrapKind};

/// Running totals of one physical CPU since boot (sent as `Event::Counters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub traps_by_kind: [u32; TRAP_KINDS],
    pub switches: u32,
    pub injected: u32,
}

impl Counters {
    pub const fn new() -> Self {
        Counters {
            traps_by_kind: [0; TRAP_KINDS],
            switches: 0,
            injected: 0,
        }
    }

    pub fn trap(&mut self, kind: TrapKind) {
        let c = &mut self.traps_by_kind[kind as usize];
        *c = c.wrapping_add(1);
    }

    pub fn switch(&mut self) {
        self.switches = self.switches.wrapping_add(1);
    }

    pub fn injected(&mut self) {
        self.injected = self.injected.wrapping_add(1);
    }

    pub fn event(&self) -> Event<'static> {
        Event::Counters {
            traps_by_kind: self.traps_by_kind,
            switches: self.switches,
            injected: self.injected,
        }
    }
}

/// Class of a synchronous trap from its ESR_EL2 (exception class, bits [31:26]; Arm ARM
/// D24.2.40 "ESR_EL2").
pub fn classify_esr(esr: u64) -> TrapKind {
    match (esr >> 26) & 0x3f {
        0x01 => TrapKind::Wfi,              // WFI/WFE
        0x12 | 0x16 => TrapKind::Hvc,       // HVC (AArch32, AArch64)
        0x13 | 0x17 => TrapKind::Smc,       // SMC (AArch32, AArch64)
        0x18 => TrapKind::SysReg,           // MSR/MRS/system instruction
        0x24 | 0x25 => TrapKind::DataAbort, // data abort (lower EL, same EL)
        _ => TrapKind::Other,
    }
}
