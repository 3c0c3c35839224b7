//! What a synchronous exception from an lwVM means.
//!
//! Why: with HCR_EL2.TGE=1 every exception of EL0 goes to EL2, including the ones a
//! kernel would handle (system calls, page faults, undefined instructions). The
//! hypervisor serves system calls and blocks on WFI; everything else is a *fault* that
//! stops or restarts the lwVM (its `restart` policy) and never the hypervisor. This is a
//! pure function of ESR_EL2/FAR_EL2, tested on the host.
//!
//! Under TGE=1 an instruction EL0 may not execute at all — an `MRS`/`MSR` of an EL1 or
//! EL2 register, `HVC`, `SMC`, `ERET` — is UNDEFINED and arrives as EC 0x00; accesses
//! EL0 could be granted but is not (DAIF, cache maintenance, CTR_EL0, DC ZVA) arrive as
//! EC 0x18.
use core::fmt;

use hv_core::trap::{FaultStatus, Trap, ec};

/// A decoded exception of an lwVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LwTrap {
    /// `SVC #imm` (EC 0x15): a system call; ELR_EL2 already points past it.
    Syscall {
        /// The immediate (0 for the ABI's calls).
        imm: u16,
    },
    /// WFI (block until an event) or WFE (a hint: just continue), ELR_EL2 at the
    /// instruction.
    Wfx {
        /// WFE rather than WFI.
        wfe: bool,
    },
    /// An FP/SIMD instruction while the CPU's FP registers belong to someone else
    /// (CPTR_EL2.FPEN traps EL0): switch the FP state and retry the instruction.
    FpAccess,
    /// Anything else: the lwVM did something it may not.
    Fault(LwFault),
}

/// Why an lwVM is stopped or restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LwFault {
    /// A load or store it has no mapping or no right for.
    DataAbort {
        /// Fault status (translation, permission, alignment, …).
        status: FaultStatus,
        /// Faulting virtual address.
        far: u64,
        /// A write.
        write: bool,
    },
    /// An instruction fetch from where it may not execute.
    InstructionAbort {
        /// Fault status.
        status: FaultStatus,
        /// Faulting virtual address.
        far: u64,
    },
    /// An undefined instruction, or one EL0 may not execute (EC 0x00).
    Undefined,
    /// A system register or system instruction EL0 is not granted (EC 0x18).
    SystemRegister {
        /// The ISS (Op0, Op1, CRn, CRm, Op2, Rt, direction).
        iss: u32,
    },
    /// A misaligned PC or SP.
    Alignment,
    /// `BRK`.
    Breakpoint,
    /// An SError, an exception from AArch32, or any other class.
    Other {
        /// Exception class (0x2F for SError; 0xff for AArch32 state).
        ec: u8,
    },
}

impl LwTrap {
    /// Decodes ESR_EL2 and FAR_EL2 of a synchronous exception from EL0.
    pub fn decode(esr: u64, far: u64) -> LwTrap {
        let class = ((esr >> 26) & 0x3f) as u8;
        let iss = (esr & 0x01ff_ffff) as u32;
        if class == ec::SVC64 {
            return LwTrap::Syscall { imm: iss as u16 };
        }
        let fault = match Trap::decode(esr, far, 0) {
            Trap::Wfx { wfe, .. } => return LwTrap::Wfx { wfe },
            Trap::FpAccess => return LwTrap::FpAccess,
            Trap::DataAbort(d) => LwFault::DataAbort {
                status: d.status(),
                far: d.far,
                write: d.wnr,
            },
            Trap::InstructionAbort(i) => LwFault::InstructionAbort {
                status: FaultStatus::decode(i.ifsc),
                far: i.far,
            },
            Trap::Unknown => LwFault::Undefined,
            Trap::SysReg(_) => LwFault::SystemRegister { iss },
            _ => match class {
                ec::PC_ALIGN | ec::SP_ALIGN => LwFault::Alignment,
                ec::BRK64 => LwFault::Breakpoint,
                // HVC/SMC are UNDEFINED at EL0 and arrive as EC 0; should one ever be
                // reported by its own class, it is as fatal as any other.
                c => LwFault::Other { ec: c },
            },
        };
        LwTrap::Fault(fault)
    }
}

impl fmt::Display for LwFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LwFault::DataAbort { status, far, write } => {
                let dir = if *write { "writing" } else { "reading" };
                write!(f, "data abort ({status:?}) {dir} {far:#x}")
            }
            LwFault::InstructionAbort { status, far } => {
                write!(f, "instruction abort ({status:?}) fetching {far:#x}")
            }
            LwFault::Undefined => write!(f, "undefined or privileged instruction"),
            LwFault::SystemRegister { iss } => {
                let (op0, op1, crn, crm, op2) = (
                    (iss >> 20) & 3,
                    (iss >> 14) & 7,
                    (iss >> 10) & 0xf,
                    (iss >> 1) & 0xf,
                    (iss >> 17) & 7,
                );
                let dir = if iss & 1 != 0 { "read" } else { "write" };
                write!(
                    f,
                    "system register {dir} S{op0}_{op1}_C{crn}_C{crm}_{op2} not granted to EL0"
                )
            }
            LwFault::Alignment => write!(f, "misaligned PC or SP"),
            LwFault::Breakpoint => write!(f, "breakpoint"),
            LwFault::Other { ec } => write!(f, "exception class {ec:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IL: u64 = 1 << 25;
    fn esr(class: u8, iss: u32) -> u64 {
        ((class as u64) << 26) | IL | iss as u64
    }

    #[test]
    fn syscalls_and_waits() {
        assert_eq!(LwTrap::decode(esr(0x15, 0), 0), LwTrap::Syscall { imm: 0 });
        assert_eq!(LwTrap::decode(esr(0x15, 7), 0), LwTrap::Syscall { imm: 7 });
        assert_eq!(LwTrap::decode(esr(0x01, 0), 0), LwTrap::Wfx { wfe: false });
        assert_eq!(LwTrap::decode(esr(0x01, 1), 0), LwTrap::Wfx { wfe: true });
        assert_eq!(LwTrap::decode(esr(0x07, 0), 0), LwTrap::FpAccess);
        // SVE stays trapped for lwVMs: a fault.
        assert_eq!(
            LwTrap::decode(esr(0x19, 0), 0),
            LwTrap::Fault(LwFault::Other { ec: 0x19 })
        );
    }

    #[test]
    fn faults() {
        // Permission fault, level 3, write (WnR = ISS[6], DFSC 0x0f).
        let t = LwTrap::decode(esr(0x24, (1 << 6) | 0x0f), 0x4020_0000);
        assert_eq!(
            t,
            LwTrap::Fault(LwFault::DataAbort {
                status: FaultStatus::Permission(3),
                far: 0x4020_0000,
                write: true
            })
        );
        // Translation fault, level 1, on fetch.
        let t = LwTrap::decode(esr(0x20, 0x05), 0x10);
        assert_eq!(
            t,
            LwTrap::Fault(LwFault::InstructionAbort {
                status: FaultStatus::Translation(1),
                far: 0x10
            })
        );
        assert_eq!(
            LwTrap::decode(esr(0x00, 0), 0),
            LwTrap::Fault(LwFault::Undefined)
        );
        assert!(matches!(
            LwTrap::decode(esr(0x18, 0x30_0000), 0),
            LwTrap::Fault(LwFault::SystemRegister { .. })
        ));
        assert_eq!(
            LwTrap::decode(esr(0x22, 0), 0),
            LwTrap::Fault(LwFault::Alignment)
        );
        assert_eq!(
            LwTrap::decode(esr(0x3c, 0), 0),
            LwTrap::Fault(LwFault::Breakpoint)
        );
        assert_eq!(
            LwTrap::decode(esr(0x16, 0), 0),
            LwTrap::Fault(LwFault::Other { ec: 0x16 })
        );
    }

    #[test]
    fn fault_text_names_the_address() {
        let f = LwFault::DataAbort {
            status: FaultStatus::Translation(2),
            far: 0x1234,
            write: false,
        };
        assert_eq!(format!("{f}"), "data abort (Translation(2)) reading 0x1234");
        // MRS x0, SCTLR_EL1 would be UNDEFINED; a DC CIVAC at EL0 (Op0 1, Op1 3, C7, C14, 1).
        let dc = (1 << 20) | (3 << 14) | (1 << 17) | (7 << 10) | (14 << 1);
        let f = LwFault::SystemRegister { iss: dc };
        assert_eq!(
            format!("{f}"),
            "system register write S1_3_C7_C14_1 not granted to EL0"
        );
    }
}
