//! What a trap taken from AArch32 code (a 32-bit task at a guest's EL0) needs beyond an
//! AArch64 one: the condition of a conditional instruction, and the IT state of a T32
//! instruction the hypervisor skips.
//!
//! Spec: Arm ARM (DDI 0487), ESR_ELx ISS encodings (CV/COND of EC 0x01 and the other
//! conditional classes), "Conditional execution" (ConditionHolds), and the PSTATE.IT
//! advance of an instruction that completes (ITAdvance), with SPSR_ELx's IT[1:0] at
//! bits 26:25 and IT[7:2] at bits 15:10.

/// SPSR.M\[4\]: the exception was taken from AArch32.
pub const SPSR_AARCH32: u64 = 1 << 4;
/// SPSR.T: the AArch32 code was T32.
pub const SPSR_T: u64 = 1 << 5;

/// Whether the trapped instruction must be treated as executed: always for AArch64, and
/// for AArch32 when the syndrome says its condition is unknown (CV = 0: it passed) or the
/// condition holds for the NZCV flags in `spsr`. An instruction whose condition failed may
/// still be trapped (it is IMPLEMENTATION DEFINED): it must then act as a NOP.
pub fn condition_passed(iss: u32, spsr: u64) -> bool {
    if spsr & SPSR_AARCH32 == 0 || iss & (1 << 24) == 0 {
        return true;
    }
    condition_holds(((iss >> 20) & 0xf) as u8, (spsr >> 28) as u8 & 0xf)
}

/// ConditionHolds(cond) for the flags `nzcv` (N in bit 3).
pub fn condition_holds(cond: u8, nzcv: u8) -> bool {
    let (n, z, c, v) = (nzcv & 8 != 0, nzcv & 4 != 0, nzcv & 2 != 0, nzcv & 1 != 0);
    let base = match cond >> 1 {
        0 => z,            // EQ / NE
        1 => c,            // CS / CC
        2 => n,            // MI / PL
        3 => v,            // VS / VC
        4 => c && !z,      // HI / LS
        5 => n == v,       // GE / LT
        6 => n == v && !z, // GT / LE
        _ => true,         // AL (0b1111 is AL too for these purposes)
    };
    if cond & 1 == 1 && cond != 0xf {
        !base
    } else {
        base
    }
}

/// The SPSR after the trapped instruction completes: for T32 code inside an IT block, the
/// IT state advances (ITAdvance); anything else is unchanged.
pub fn advance_itstate(spsr: u64) -> u64 {
    if spsr & (SPSR_AARCH32 | SPSR_T) != (SPSR_AARCH32 | SPSR_T) {
        return spsr;
    }
    let it = (((spsr >> 10) & 0x3f) << 2) | ((spsr >> 25) & 0x3);
    if it == 0 {
        return spsr;
    }
    let next = if it & 0x7 == 0 {
        0
    } else {
        (it & 0xe0) | ((it << 1) & 0x1f)
    };
    let cleared = spsr & !((0x3f << 10) | (0x3 << 25));
    cleared | (((next >> 2) & 0x3f) << 10) | ((next & 0x3) << 25)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPSR of AArch32 T32 user code with IT state `it` and flags `nzcv`.
    fn t32(it: u64, nzcv: u64) -> u64 {
        0x10 | SPSR_T | (nzcv << 28) | (((it >> 2) & 0x3f) << 10) | ((it & 3) << 25)
    }

    fn it_of(spsr: u64) -> u64 {
        (((spsr >> 10) & 0x3f) << 2) | ((spsr >> 25) & 3)
    }

    #[test]
    fn conditions_follow_the_flags() {
        // EQ with Z set, NE with Z set, GE with N == V, LT with N != V, AL.
        assert!(condition_holds(0x0, 0b0100));
        assert!(!condition_holds(0x1, 0b0100));
        assert!(condition_holds(0xa, 0b1001));
        assert!(condition_holds(0xb, 0b1000));
        assert!(condition_holds(0xe, 0));
        // HI needs C and not Z; LS is its opposite.
        assert!(condition_holds(0x8, 0b0010));
        assert!(condition_holds(0x9, 0b0110));
    }

    #[test]
    fn a_failed_condition_is_a_nop_and_aarch64_always_passes() {
        let cv_ne = (1 << 24) | (0x1 << 20);
        assert!(
            !condition_passed(cv_ne, 0x10 | (0b0100 << 28)),
            "NE with Z set"
        );
        assert!(condition_passed(cv_ne, 0x10), "NE with Z clear");
        assert!(condition_passed(0x1 << 20, 0x10 | (0b0100 << 28)), "CV = 0");
        assert!(
            condition_passed(cv_ne, 0x3c5 | (0b0100 << 28)),
            "from AArch64"
        );
    }

    #[test]
    fn the_it_state_advances_and_ends() {
        // ITTE EQ: firstcond 0000, mask 1010 → IT = 0b0000_0110 after the IT instruction's
        // first slot; each completed instruction shifts IT[4:0] left until IT[2:0] = 000.
        let mut s = t32(0b0000_0110, 0);
        s = advance_itstate(s);
        assert_eq!(it_of(s), 0b0000_1100);
        s = advance_itstate(s);
        assert_eq!(it_of(s), 0b0001_1000);
        s = advance_itstate(s);
        assert_eq!(it_of(s), 0, "the block ended");
        assert_eq!(
            s & !(0x3f << 10 | 3 << 25),
            t32(0, 0),
            "nothing else changes"
        );
        // Outside an IT block, A32 code or AArch64: unchanged.
        assert_eq!(advance_itstate(t32(0, 0b1010)), t32(0, 0b1010));
        assert_eq!(advance_itstate(0x10 | (0x3f << 10)), 0x10 | (0x3f << 10));
        assert_eq!(advance_itstate(0x3c5), 0x3c5);
    }
}
