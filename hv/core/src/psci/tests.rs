//! Tests of PSCI decoding and the power-state machine (DEN 0022 1.1 semantics).

use super::*;

const RAM: u64 = 0x4000_0000;
const RAM_SIZE: u64 = 0x0800_0000;
/// VMPIDR values as the configuration emits them (bit 31 set).
const MPIDRS: [u64; 4] = [0x8000_0000, 0x8000_0001, 0x8000_0002, 0x8000_0100];

fn vm() -> PsciVm<4> {
    PsciVm::new(&MPIDRS, RAM, RAM_SIZE).unwrap()
}

fn cpu_on64(target: u64, entry: u64, ctx: u64) -> [u64; 4] {
    [(fid::CPU_ON | fid::SMC64) as u64, target, entry, ctx]
}

#[test]
fn decode_calls() {
    assert_eq!(PsciCall::decode([0x8400_0000, 0, 0, 0]), PsciCall::Version);
    assert_eq!(
        PsciCall::decode([0xC400_0003, 0x1_0000_0001, 0x1_4000_0000, 7]),
        PsciCall::CpuOn {
            target: 0x1_0000_0001,
            entry: 0x1_4000_0000,
            context_id: 7
        }
    );
    // SMC32: arguments truncated to 32 bits; upper bits of w0's x0 ignored.
    assert_eq!(
        PsciCall::decode([
            0xFFFF_FFFF_8400_0003,
            0xAA_0000_0001,
            0xBB_4000_0000,
            0xCC_0000_0007
        ]),
        PsciCall::CpuOn {
            target: 1,
            entry: 0x4000_0000,
            context_id: 7
        }
    );
    assert_eq!(
        PsciCall::decode([0x8400_0004, 1, 0, 0]),
        PsciCall::AffinityInfo {
            target: 1,
            lowest_level: 0
        }
    );
    assert_eq!(PsciCall::decode([0x8400_0002, 0, 0, 0]), PsciCall::CpuOff);
    assert_eq!(
        PsciCall::decode([0x8400_0008, 0, 0, 0]),
        PsciCall::SystemOff
    );
    assert_eq!(
        PsciCall::decode([0x8400_0009, 0, 0, 0]),
        PsciCall::SystemReset
    );
    assert_eq!(
        PsciCall::decode([0x8400_0006, 0, 0, 0]),
        PsciCall::MigrateInfoType
    );
    assert_eq!(
        PsciCall::decode([0x8400_000A, 0xC400_0003, 0, 0]),
        PsciCall::Features { fid: 0xC400_0003 }
    );
    // No SMC64 variant of CPU_OFF / SYSTEM_OFF / VERSION.
    assert_eq!(
        PsciCall::decode([0xC400_0002, 0, 0, 0]),
        PsciCall::Unknown(0xC400_0002)
    );
    assert_eq!(
        PsciCall::decode([0xC400_0000, 0, 0, 0]),
        PsciCall::Unknown(0xC400_0000)
    );
    assert_eq!(
        PsciCall::decode([0x8400_0005, 0, 0, 0]),
        PsciCall::Unknown(0x8400_0005)
    );
    assert!(PsciCall::is_psci(0x8400_0000) && PsciCall::is_psci(0xC400_0012));
    assert!(!PsciCall::is_psci(0x8000_0000) && !PsciCall::is_psci(0xC600_0000));
    assert!(!PsciCall::is_psci(0x0400_0000), "yielding call");
}

#[test]
fn version_features_and_smccc() {
    let mut v = vm();
    assert_eq!(
        v.handle(0, [0x8400_0000, 0, 0, 0]),
        PsciDecision::Reply(0x1_0001)
    );
    let feat = |v: &mut PsciVm<4>, f: u32| match v.handle(0, [0x8400_000A, f as u64, 0, 0]) {
        PsciDecision::Reply(r) => r,
        d => panic!("{d:?}"),
    };
    for f in [
        0x8400_0000,
        0x8400_0001,
        0xC400_0001,
        0x8400_0002,
        0x8400_0003,
        0xC400_0003,
        0x8400_0004,
        0xC400_0004,
        0x8400_0006,
        0x8400_0008,
        0x8400_0009,
        0x8400_000A,
        0x8000_0000,
    ] {
        assert_eq!(feat(&mut v, f), ret::SUCCESS, "{f:#x}");
    }
    for f in [
        0x8400_0005,
        0x8400_000E,
        0xC400_0012,
        0x8400_0013,
        0x8000_8000,
        0x1234,
    ] {
        assert_eq!(feat(&mut v, f), ret::NOT_SUPPORTED, "{f:#x}");
    }
    // SMCCC architecture calls.
    assert_eq!(
        v.handle(0, [0x8000_0000, 0, 0, 0]),
        PsciDecision::Reply(0x1_0001)
    );
    assert_eq!(
        v.handle(0, [0x8000_0001, 0x8000_8000, 0, 0]),
        PsciDecision::Reply(-1)
    );
    assert_eq!(
        v.handle(0, [0x8000_0001, 0x8000_0000, 0, 0]),
        PsciDecision::Reply(0)
    );
    assert_eq!(
        v.handle(0, [0x8000_0001, 0x8400_0003, 0, 0]),
        PsciDecision::Reply(0)
    );
    assert_eq!(v.handle(0, [0x8000_8000, 0, 0, 0]), PsciDecision::Reply(-1));
    // Unknown IDs.
    assert_eq!(v.handle(0, [0x8400_001F, 0, 0, 0]), PsciDecision::Reply(-1));
    assert_eq!(v.handle(0, [0xC600_0000, 0, 0, 0]), PsciDecision::Reply(-1));
    assert_eq!(v.handle(0, [0x8400_0006, 0, 0, 0]), PsciDecision::Reply(2));
}

#[test]
fn cpu_on_lifecycle() {
    let mut v = vm();
    assert_eq!(v.state(0), PowerState::On);
    assert_eq!(v.state(1), PowerState::Off);
    // Target by affinity only (bit 31 clear), as Linux and QEMU pass it.
    assert_eq!(
        v.handle(0, cpu_on64(0x1, RAM + 0x1000, 0xC0FFEE)),
        PsciDecision::StartVcpu {
            vcpu: 1,
            entry: RAM + 0x1000,
            context_id: 0xC0FFEE
        }
    );
    assert_eq!(v.state(1), PowerState::OnPending);
    assert_eq!(
        v.handle(0, cpu_on64(0x1, RAM, 0)),
        PsciDecision::Reply(ret::ON_PENDING)
    );
    assert_eq!(v.handle(0, [0x8400_0004, 1, 0, 0]), PsciDecision::Reply(2));
    v.mark_on(1);
    assert_eq!(
        v.handle(0, cpu_on64(0x1, RAM, 0)),
        PsciDecision::Reply(ret::ALREADY_ON)
    );
    assert_eq!(v.handle(2, [0x8400_0004, 1, 0, 0]), PsciDecision::Reply(0));
    // Calling CPU_ON on oneself: already on.
    assert_eq!(
        v.handle(0, cpu_on64(0x0, RAM, 0)),
        PsciDecision::Reply(ret::ALREADY_ON)
    );
    // vCPU 1 turns itself off; it can be started again.
    assert_eq!(
        v.handle(1, [0x8400_0002, 0, 0, 0]),
        PsciDecision::StopThisVcpu
    );
    assert_eq!(v.handle(0, [0xC400_0004, 1, 0, 0]), PsciDecision::Reply(1));
    assert!(matches!(
        v.handle(0, [0x8400_0003, 0x8000_0001, RAM, 0]),
        PsciDecision::StartVcpu { vcpu: 1, .. }
    ));
    // Aff1 = 1.
    assert!(matches!(
        v.handle(0, cpu_on64(0x100, RAM, 0)),
        PsciDecision::StartVcpu { vcpu: 3, .. }
    ));
}

#[test]
fn cpu_on_rejects() {
    let mut v = vm();
    // No such vCPU in this VM.
    assert_eq!(
        v.handle(0, cpu_on64(0x7, RAM, 0)),
        PsciDecision::Reply(ret::INVALID_PARAMETERS)
    );
    assert_eq!(
        v.handle(0, cpu_on64(0x1_0000_0001, RAM, 0)),
        PsciDecision::Reply(ret::INVALID_PARAMETERS),
        "Aff3 differs"
    );
    // Entry outside RAM, at its end, below it, misaligned.
    for entry in [
        RAM - 4,
        RAM + RAM_SIZE,
        RAM + RAM_SIZE + 0x1000,
        0,
        RAM + 2,
        u64::MAX,
    ] {
        assert_eq!(
            v.handle(0, cpu_on64(0x1, entry, 0)),
            PsciDecision::Reply(ret::INVALID_ADDRESS),
            "{entry:#x}"
        );
    }
    assert_eq!(v.state(1), PowerState::Off, "rejected calls change nothing");
    // Last word of RAM is fine.
    assert!(matches!(
        v.handle(0, cpu_on64(0x1, RAM + RAM_SIZE - 4, 0)),
        PsciDecision::StartVcpu { .. }
    ));
}

#[test]
fn affinity_info_levels() {
    let mut v = vm();
    assert_eq!(v.handle(0, [0x8400_0004, 0, 0, 0]), PsciDecision::Reply(0));
    assert_eq!(v.handle(0, [0x8400_0004, 2, 0, 0]), PsciDecision::Reply(1));
    for level in [1, 2, 3] {
        assert_eq!(
            v.handle(0, [0x8400_0004, 0, level, 0]),
            PsciDecision::Reply(ret::INVALID_PARAMETERS)
        );
    }
    assert_eq!(
        v.handle(0, [0x8400_0004, 0x42, 0, 0]),
        PsciDecision::Reply(ret::INVALID_PARAMETERS)
    );
}

#[test]
fn system_calls_and_reset() {
    let mut v = vm();
    assert_eq!(v.handle(0, [0x8400_0008, 0, 0, 0]), PsciDecision::SystemOff);
    assert_eq!(
        v.handle(0, [0x8400_0009, 0, 0, 0]),
        PsciDecision::SystemReset
    );
    assert_eq!(
        v.handle(0, [0xC400_0001, 0x1_0000, RAM, 0]),
        PsciDecision::Suspend
    );
    v.handle(0, cpu_on64(1, RAM, 0));
    v.mark_on(1);
    v.reset();
    assert_eq!((v.state(0), v.state(1)), (PowerState::On, PowerState::Off));
}

#[test]
fn construction_limits() {
    assert!(PsciVm::<2>::new(&MPIDRS, RAM, RAM_SIZE).is_none());
    assert!(PsciVm::<2>::new(&[], RAM, RAM_SIZE).is_none());
    let mut v = PsciVm::<8>::new(&MPIDRS[..1], RAM, RAM_SIZE).unwrap();
    assert_eq!(v.vcpus(), 1);
    assert_eq!(v.state(5), PowerState::Off);
    assert_eq!(
        v.handle(5, [0x8400_0000, 0, 0, 0]),
        PsciDecision::Reply(ret::INTERNAL_FAILURE)
    );
    // A vCPU index past the VM's count is not addressable even if N is larger.
    assert_eq!(
        v.handle(0, cpu_on64(0, RAM, 0)),
        PsciDecision::Reply(ret::ALREADY_ON)
    );
    assert_eq!(
        v.handle(0, cpu_on64(1, RAM, 0)),
        PsciDecision::Reply(ret::INVALID_PARAMETERS)
    );
}
