//! Tests of the hypercall ABI decoding and of guest-range checking.

use super::*;
use crate::sysdesc::ChannelDesc;

fn call(fid: u32, args: [u64; 5]) -> Result<Hypercall, i64> {
    let [a, b, c, d, e] = args;
    Hypercall::decode([fid as u64, a, b, c, d, e])
}

#[test]
fn decode_each_function() {
    assert_eq!(
        call(fid::VIRQ_RAISE, [3, 0, 0, 0, 0]),
        Ok(Hypercall::VirqRaise { channel: 3 })
    );
    assert_eq!(call(fid::WAIT_EVENT, [0; 5]), Ok(Hypercall::WaitEvent));
    assert_eq!(
        call(fid::CONSOLE_WRITE, [0x4000_1000, 12, 0, 0, 0]),
        Ok(Hypercall::ConsoleWrite {
            buf: GuestRange::new(0x4000_1000, 12)
        })
    );
    assert_eq!(
        call(fid::TELEMETRY_MARKER, [7, u64::MAX, 0, 0, 0]),
        Ok(Hypercall::TelemetryMarker {
            id: 7,
            value: u64::MAX
        })
    );
    assert_eq!(call(fid::FAULT_FETCH, [0; 5]), Ok(Hypercall::FaultFetch));
    assert_eq!(
        call(fid::FAULT_COMPLETE, [0xAB, 2, 0, 0, 0]),
        Ok(Hypercall::FaultComplete {
            token: 0xAB,
            action: FaultAction::InjectAbort
        })
    );
    assert_eq!(call(fid::VM_INFO, [0; 5]), Ok(Hypercall::VmInfo));
    assert_eq!(call(fid::CALL_COUNT, [0; 5]), Ok(Hypercall::CallCount));
    assert_eq!(call(fid::CALL_UID, [0; 5]), Ok(Hypercall::CallUid));
    assert_eq!(call(fid::REVISION, [0; 5]), Ok(Hypercall::Revision));
}

#[test]
fn generic_queries_are_smc32_only() {
    for q in [fid::CALL_COUNT, fid::CALL_UID, fid::REVISION] {
        let smc64 = q | (1 << 30);
        assert_eq!(call(smc64, [0; 5]), Err(err::NOT_SUPPORTED), "{smc64:#x}");
        assert!(!implemented(smc64), "{smc64:#x}");
        assert!(implemented(q), "{q:#x}");
    }
    // The other calls keep both forms.
    assert_eq!(
        call(fid::VIRQ_RAISE & !(1 << 30), [3, 0, 0, 0, 0]),
        Ok(Hypercall::VirqRaise { channel: 3 })
    );
}

#[test]
fn decode_rejects() {
    assert_eq!(
        call(fid::VIRQ_RAISE, [0x1_0000, 0, 0, 0, 0]),
        Err(err::INVALID)
    );
    assert_eq!(
        call(fid::TELEMETRY_MARKER, [1 << 32, 0, 0, 0, 0]),
        Err(err::INVALID)
    );
    assert_eq!(
        call(fid::FAULT_COMPLETE, [1, 4, 0, 0, 0]),
        Err(err::INVALID)
    );
    assert_eq!(call(fid::BASE | 0x09, [0; 5]), Err(err::NOT_SUPPORTED));
    assert_eq!(
        call(fid::VM_STATE, [1 << 16, 0, 0, 0, 0]),
        Err(err::INVALID)
    );
    assert_eq!(call(fid::BASE, [0; 5]), Err(err::NOT_SUPPORTED));
    assert_eq!(call(0x8400_0000, [0; 5]), Err(err::NOT_SUPPORTED), "PSCI");
    assert_eq!(
        call(0x0600_0001, [0; 5]),
        Err(err::NOT_SUPPORTED),
        "yielding"
    );
}

#[test]
fn smc32_form_truncates_arguments() {
    // 0x8600_0001: SMC32 VIRQ_RAISE; the upper half of x1 is ignored.
    assert_eq!(
        call(0x8600_0001, [0xFFFF_FFFF_0000_0002, 0, 0, 0, 0]),
        Ok(Hypercall::VirqRaise { channel: 2 })
    );
    assert_eq!(
        call(0x8600_0004, [0xFF_0000_0009, 0xFF_0000_0001, 0, 0, 0]),
        Ok(Hypercall::TelemetryMarker { id: 9, value: 1 })
    );
}

#[test]
fn console_write_is_cut() {
    let Ok(Hypercall::ConsoleWrite { buf }) =
        call(fid::CONSOLE_WRITE, [0x4000_0000, 10_000, 0, 0, 0])
    else {
        panic!()
    };
    assert_eq!(buf.len(), CONSOLE_WRITE_MAX);
}

#[test]
fn guest_range_check() {
    let (base, size) = (0x4000_0000u64, 0x1000_0000u64);
    let ok = GuestRange::new(0x4000_1000, 0x100)
        .check(base, size)
        .unwrap();
    assert_eq!(
        (ok.ipa(), ok.len(), ok.offset()),
        (0x4000_1000, 0x100, 0x1000)
    );
    // Whole region and an empty range at its end are fine.
    assert!(GuestRange::new(base, size).check(base, size).is_ok());
    assert!(
        GuestRange::new(base + size, 0)
            .check(base, size)
            .unwrap()
            .is_empty()
    );
    for (ipa, len) in [
        (base - 1, 1),           // starts below
        (base + size - 1, 2),    // runs past the end
        (base + size, 1),        // starts at the end
        (0, 0x100),              // nowhere near
        (u64::MAX - 1, 4),       // wraps around
        (base + 0x10, u64::MAX), // absurd length
    ] {
        assert_eq!(
            GuestRange::new(ipa, len).check(base, size),
            Err(err::INVALID_ADDRESS),
            "{ipa:#x}+{len:#x}"
        );
    }
    // A region at the top of the address space must not overflow either.
    assert_eq!(
        GuestRange::new(0, 1).check(u64::MAX, 2),
        Err(err::INVALID_ADDRESS)
    );
}

#[test]
fn guest_range_check_any() {
    let regions = [(0x4000_0000, 0x1000), (0x8000_0000, 0x2000)];
    let (i, c) = GuestRange::new(0x8000_1000, 0x1000)
        .check_any(&regions)
        .unwrap();
    assert_eq!((i, c.offset()), (1, 0x1000));
    // Straddling two regions is refused even when both are the VM's.
    let regions = [(0x4000_0000, 0x1000), (0x4000_1000, 0x1000)];
    assert_eq!(
        GuestRange::new(0x4000_0F00, 0x200).check_any(&regions),
        Err(err::INVALID_ADDRESS)
    );
    assert_eq!(
        GuestRange::new(0, 1).check_any(&[]),
        Err(err::INVALID_ADDRESS)
    );
}

#[test]
fn channels() {
    let chans = [
        ChannelDesc {
            name: "a-to-b",
            from: 0,
            to: 1,
            virt_intid: 40,
        },
        ChannelDesc {
            name: "b-to-a",
            from: 1,
            to: 0,
            virt_intid: 41,
        },
    ];
    let vm = VmId::new;
    assert_eq!(resolve_channel(&chans, vm(0), 0), Ok((vm(1), 40)));
    assert_eq!(resolve_channel(&chans, vm(1), 1), Ok((vm(0), 41)));
    assert_eq!(resolve_channel(&chans, vm(0), 1), Err(err::DENIED));
    assert_eq!(resolve_channel(&chans, vm(0), 2), Err(err::INVALID));
}

#[test]
fn features_and_range() {
    for f in [
        fid::VIRQ_RAISE,
        fid::WAIT_EVENT,
        fid::CONSOLE_WRITE,
        fid::TELEMETRY_MARKER,
        fid::FAULT_FETCH,
        fid::FAULT_COMPLETE,
        fid::VM_INFO,
        fid::VM_STATE,
    ] {
        assert!(implemented(f), "{f:#x}");
        assert!(Hypercall::is_hypercall(f as u64));
    }
    assert!(!implemented(fid::BASE | 0x20));
    assert!(!implemented(0x8400_0000));
    assert_eq!(CALL_COUNT, 8);
    // SMCCC_ARCH_FEATURES through the PSCI front end answers for hypercalls.
    let mut vm = crate::psci::PsciVm::<1>::new(&[0x8000_0000], 0x4000_0000, 0x1000).unwrap();
    assert_eq!(
        vm.handle(0, [0x8000_0001, fid::CONSOLE_WRITE as u64, 0, 0]),
        crate::psci::PsciDecision::Reply(0)
    );
}

#[test]
fn vm_state_is_visible_only_along_channels() {
    // One channel between VMs 0 and 1; VM 3 shares channels with 0 and 2.
    let vm = VmId::new;
    let peers: [&[VmId]; 4] = [&[vm(1), vm(3)], &[vm(0)], &[vm(3)], &[vm(0), vm(2)]];
    assert!(may_observe(peers[1], vm(1), vm(0)));
    assert!(may_observe(peers[0], vm(0), vm(1)));
    assert!(may_observe(peers[0], vm(0), vm(3)));
    assert!(may_observe(peers[2], vm(2), vm(2)));
    assert!(!may_observe(peers[2], vm(2), vm(0)));
    assert!(!may_observe(peers[1], vm(1), vm(3)));
}
