extern crate std;
use std::vec::Vec;

use hv_protocol::{Decoded, Event, Hello, StreamDecoder, TrapKind, encode_hello, max_hello_len};

use super::*;

fn trap(i: u32) -> Event<'static> {
    Event::Trap {
        vcpu: 1,
        kind: TrapKind::SysReg,
        duration_ticks: i,
    }
}

fn drain<const N: usize>(t: &mut CpuTelemetry<'_, N>, wire: &mut Vec<u8>) {
    let mut buf = [0u8; N];
    let n = t.ring.copy_out(&mut buf);
    wire.extend_from_slice(&buf[..n]);
    t.ring.consume(n);
}

fn decode(
    wire: &[u8],
) -> (
    Vec<(hv_protocol::Header, Event<'static>)>,
    hv_protocol::Stats,
) {
    let mut d = StreamDecoder::new();
    let mut hello = [0u8; max_hello_len(16)];
    // 4 CPUs: the tests emit as CPU 3, and the monitor drops records of CPUs the hello lacks
    let mut all = encode_hello(&Hello::new(1, 2, 3, 4, "", "a", &[0]), &mut hello)
        .unwrap()
        .to_vec();
    all.extend_from_slice(wire);
    let mut out = Vec::new();
    d.feed(&all, |it| {
        if let Decoded::Record(h, e) = it {
            // Fixed events only in these tests: leak-free copy.
            let e = match e {
                Event::Trap {
                    vcpu,
                    kind,
                    duration_ticks,
                } => Event::Trap {
                    vcpu,
                    kind,
                    duration_ticks,
                },
                Event::Dropped { count } => Event::Dropped { count },
                Event::Console { .. } => Event::Dropped { count: u32::MAX },
                other => panic!("unexpected {other:?}"),
            };
            out.push((h, e));
        }
    })
    .unwrap();
    (out, d.stats().clone())
}

#[test]
fn ring_wraps_and_keeps_whole_frames() {
    let r: Ring<10> = Ring::new();
    assert!(r.push(b"abc\0"));
    assert!(r.push(b"de\0"));
    assert!(!r.push(b"fgh\0"), "3 bytes free only");
    assert_eq!(r.free(), 2);
    r.consume(4);
    assert!(r.push(b"fgh\0"));
    let mut all = [0u8; 16];
    assert_eq!(r.copy_out(&mut all), 7);
    assert_eq!(&all[..7], b"de\0fgh\0");
    let mut out = [0u8; 5];
    assert_eq!(r.copy_frames(&mut out), 3);
    assert_eq!(&out[..3], b"de\0");
    let mut out = [0u8; 64];
    assert_eq!(r.copy_frames(&mut out), 7);
}

#[test]
fn ring_is_drained_from_another_thread_in_order() {
    // One producer thread, one consumer thread (the `telemetry-net` shape: the CPU holding
    // the transport drains other CPUs' rings): every frame arrives whole and in order.
    extern crate std;
    use std::sync::atomic::{AtomicBool, Ordering};
    static RING: Ring<64> = Ring::new();
    static DONE: AtomicBool = AtomicBool::new(false);
    let producer = std::thread::spawn(|| {
        for i in 0..5_000u32 {
            let frame = [(i % 251) as u8 + 1, (i % 7) as u8 + 1, 0];
            while !RING.push(&frame) {
                std::hint::spin_loop();
            }
        }
        DONE.store(true, Ordering::Release);
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    loop {
        let done = DONE.load(Ordering::Acquire);
        let n = RING.copy_frames(&mut buf);
        got.extend_from_slice(&buf[..n]);
        RING.consume(n);
        if done && RING.is_empty() {
            break;
        }
    }
    producer.join().unwrap();
    assert_eq!(got.len(), 3 * 5_000);
    for (i, f) in got.chunks(3).enumerate() {
        assert_eq!(f, [(i % 251) as u8 + 1, (i % 7) as u8 + 1, 0], "frame {i}");
    }
}

#[test]
fn pack_takes_whole_frames_from_every_ring_starting_with_the_first() {
    let rings: [Ring<64>; 3] = [Ring::new(), Ring::new(), Ring::new()];
    assert!(rings[0].push(b"a0\0") && rings[0].push(b"a1\0"));
    assert!(rings[1].push(b"b0\0"));
    assert!(rings[2].push(b"c0-long\0") && rings[2].push(b"c1\0"));
    // Ring 2 first, then 0 (its second frame does not fit any more), then 1 (nor does its).
    let mut out = [0u8; 16];
    let n = pack(&rings, 2, &mut out);
    assert_eq!(&out[..n], b"c0-long\0c1\0a0\0");
    assert_eq!((rings[0].len(), rings[1].len(), rings[2].len()), (3, 3, 0));
    let n = pack(&rings, 0, &mut out);
    assert_eq!(&out[..n], b"a1\0b0\0");
    assert!(rings.iter().all(Ring::is_empty));
    assert_eq!(pack(&rings, 1, &mut out), 0);
}

#[test]
fn every_record_decodes_in_order() {
    let ring = Ring::new();
    let mut t: CpuTelemetry<'_, 4096> = CpuTelemetry::new(0, &ring);
    let mut wire = Vec::new();
    for i in 0..1000 {
        assert!(t.emit(i as u64, &trap(i)));
        if i % 7 == 0 {
            drain(&mut t, &mut wire);
        }
    }
    drain(&mut t, &mut wire);
    let (recs, stats) = decode(&wire);
    assert_eq!(recs.len(), 1000);
    assert_eq!(stats.decode_errors, 0);
    assert_eq!(stats.seq_lost, 0);
    for (i, (h, e)) in recs.iter().enumerate() {
        assert_eq!(h.seq as usize, i);
        assert_eq!(*e, trap(i as u32));
    }
}

#[test]
fn full_ring_drops_and_reports_once_there_is_room() {
    let ring = Ring::new();
    let mut t: CpuTelemetry<'_, 128> = CpuTelemetry::new(3, &ring);
    let mut accepted = 0;
    for i in 0..20 {
        if t.emit(i, &trap(i as u32)) {
            accepted += 1;
        }
    }
    let dropped = 20 - accepted;
    assert!(dropped > 0);
    assert_eq!(t.pending_drops(), dropped);
    let mut wire = Vec::new();
    drain(&mut t, &mut wire);
    assert!(t.emit(99, &trap(99)));
    assert_eq!(t.pending_drops(), 0);
    drain(&mut t, &mut wire);
    let (recs, stats) = decode(&wire);
    assert_eq!(
        stats.seq_lost, 0,
        "refused records never took a sequence number"
    );
    assert_eq!(stats.dropped_reported, dropped as u64);
    assert_eq!(recs.len() as u32, accepted + 2);
    assert_eq!(recs[recs.len() - 2].1, Event::Dropped { count: dropped });
    assert_eq!(t.dropped_total, dropped as u64);
}

#[test]
fn payload_events_fit_their_buffer() {
    let ring = Ring::new();
    let mut t: CpuTelemetry<'_, 1024> = CpuTelemetry::new(0, &ring);
    let bytes = [b'x'; MAX_PAYLOAD];
    assert!(t.emit(
        0,
        &Event::Console {
            vm: 0,
            bytes: &bytes
        }
    ));
    let over = [b'x'; MAX_PAYLOAD + 200];
    assert!(!t.emit(
        0,
        &Event::Console {
            vm: 0,
            bytes: &over
        }
    ));
}

#[test]
fn esr_classes() {
    assert_eq!(classify_esr(0x5a00_0000), TrapKind::Hvc);
    assert_eq!(classify_esr(0x5e00_0000), TrapKind::Smc);
    assert_eq!(classify_esr(0x9200_0046), TrapKind::DataAbort);
    assert_eq!(classify_esr(0x0600_0001), TrapKind::Wfi);
    assert_eq!(classify_esr(0x6200_0000), TrapKind::SysReg);
    assert_eq!(classify_esr(0x0000_0000), TrapKind::Other);
}

#[test]
fn framing_matches_the_protocol_encoder() {
    use hv_protocol::{SwitchReason, VmExitReason};
    let payload: Vec<u8> = (0..=255u8).cycle().take(MAX_PAYLOAD).collect();
    let nonzero = [0x41u8; MAX_PAYLOAD];
    let events = [
        trap(0),
        trap(u32::MAX),
        Event::Switch {
            from: None,
            to: Some(3),
            reason: SwitchReason::Start,
        },
        Event::Counters {
            traps_by_kind: [0, 1, 300, u32::MAX, 5, 6, 7],
            switches: 9,
            injected: 0,
        },
        Event::Console {
            vm: 1,
            bytes: &payload,
        },
        Event::Console {
            vm: 1,
            bytes: &nonzero[..253],
        },
        Event::Console {
            vm: 1,
            bytes: &nonzero[..254],
        },
        Event::Console {
            vm: 1,
            bytes: &nonzero,
        },
        Event::Log {
            defmt_frame: &payload[..17],
        },
        Event::VmExit {
            vm: 0,
            reason: VmExitReason::PowerOff,
        },
        Event::Marker {
            vcpu: 1,
            id: 2,
            value: u64::MAX,
        },
    ];
    for (i, e) in events.iter().enumerate() {
        for ts in [0u64, 0x1234, u64::MAX] {
            let h = hv_protocol::Header {
                cpu: i as u16,
                seq: (i as u32) << 20,
                ts,
            };
            let mut a = [0u8; MAX_FRAME];
            let mut b = [0u8; MAX_FRAME];
            let ours = encode_record(h, e, &mut a).unwrap();
            let theirs = hv_protocol::encode_record(h, e, &mut b).unwrap();
            assert_eq!(ours, theirs, "{e:?}");
        }
    }
}

/// ESR_EL2 of a trapped MSR/MRS (EC 0x18).
const ESR_SYSREG: u32 = 0x18 << 26;
/// ESR_EL2 of an HVC #0 from AArch64 (EC 0x16).
const ESR_HVC: u32 = 0x16 << 26 | 1 << 25;

fn raw_trap(i: u32) -> Raw {
    Raw::Trap {
        entry: i as u64 * 10,
        ret: i as u64 * 11,
        x0_in: 0,
        x0_out: 0,
        esr: ESR_SYSREG,
        vcpu: 1,
        exit: ExitClass::Sync,
    }
}

#[test]
fn queued_records_are_encoded_in_order_and_before_a_later_direct_event() {
    let ring = Ring::new();
    let mut t: CpuTelemetry<'_, 8192> = CpuTelemetry::new(0, &ring);
    for i in 0..10 {
        t.record(raw_trap(i));
    }
    assert_eq!(t.queued(), 10);
    assert!(ring.is_empty(), "recording encodes nothing");
    // A direct event goes out after everything queued before it.
    assert!(t.emit(1000, &Event::Console { vm: 0, bytes: b"x" }));
    assert_eq!(t.queued(), 0);
    let mut wire = Vec::new();
    drain(&mut t, &mut wire);
    let (got, stats) = decode(&wire);
    assert_eq!(stats.crc_errors, 0);
    assert_eq!(got.len(), 11);
    for (i, (h, e)) in got[..10].iter().enumerate() {
        assert_eq!(*e, trap(i as u32));
        assert_eq!(h.ts, i as u64 * 10);
    }
    assert_eq!(
        got[10].1,
        Event::Dropped { count: u32::MAX },
        "the console record"
    );
}

#[test]
fn a_hypercall_trap_becomes_a_hypercall_and_a_trap_record() {
    let r = Raw::Trap {
        entry: 100,
        ret: 105,
        x0_in: 0x8400_0000,
        x0_out: 0x10002,
        esr: ESR_HVC,
        vcpu: 2,
        exit: ExitClass::Sync,
    };
    let [a, b] = r.events();
    assert_eq!(
        a,
        Some((
            105,
            Event::Hypercall {
                vcpu: 2,
                func: 0x8400_0000,
                result: 0x10002
            }
        ))
    );
    assert_eq!(
        b,
        Some((
            100,
            Event::Trap {
                vcpu: 2,
                kind: TrapKind::Hvc,
                duration_ticks: 5
            }
        ))
    );
}

#[test]
fn pump_is_bounded_and_keeps_what_the_ring_cannot_take() {
    let ring = Ring::new();
    // Room for a few frames only.
    let mut t: CpuTelemetry<'_, 256> = CpuTelemetry::new(0, &ring);
    for i in 0..50 {
        t.record(raw_trap(i));
    }
    assert_eq!(t.pump(3), 3, "the budget bounds one pump");
    let mut wire = Vec::new();
    let mut rounds = 0;
    while t.queued() > 0 {
        t.pump(usize::MAX);
        drain(&mut t, &mut wire);
        rounds += 1;
        assert!(rounds < 100);
    }
    assert!(
        rounds > 1,
        "a small ring takes the records in several rounds"
    );
    let (got, stats) = decode(&wire);
    assert_eq!(stats.crc_errors, 0);
    assert_eq!(got.len(), 50, "nothing was lost while the ring was full");
    assert_eq!(t.dropped_total, 0);
    for (i, (_, e)) in got.iter().enumerate() {
        assert_eq!(*e, trap(i as u32));
    }
}

#[test]
fn a_full_queue_counts_its_losses_and_reports_them() {
    let ring = Ring::new();
    let mut t: CpuTelemetry<'_, { 64 * 1024 }> = CpuTelemetry::new(0, &ring);
    for i in 0..(RAW_DEPTH as u32 + 7) {
        t.record(raw_trap(i));
    }
    assert_eq!(t.queued(), RAW_DEPTH);
    t.pump(usize::MAX);
    assert_eq!(t.dropped_total, 7);
    let mut wire = Vec::new();
    drain(&mut t, &mut wire);
    let (got, _) = decode(&wire);
    assert_eq!(got[0].1, Event::Dropped { count: 7 }, "losses come first");
    assert_eq!(got.len(), 1 + RAW_DEPTH);
}

#[test]
fn traps_are_classified_and_counted_when_encoded() {
    let ring = Ring::new();
    let mut t: CpuTelemetry<'_, 8192> = CpuTelemetry::new(0, &ring);
    let mut irq = raw_trap(1);
    if let Raw::Trap { exit, .. } = &mut irq {
        *exit = ExitClass::Irq;
    }
    t.record(raw_trap(0));
    t.record(irq);
    assert_eq!(
        t.counters.event(),
        Counters::new().event(),
        "nothing counted while queued"
    );
    t.pump(usize::MAX);
    let mut expect = Counters::new();
    expect.trap(TrapKind::SysReg);
    expect.trap(TrapKind::Irq);
    assert_eq!(t.counters.event(), expect.event());
    let mut wire = Vec::new();
    drain(&mut t, &mut wire);
    let kinds: Vec<_> = decode(&wire)
        .0
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Trap { kind, .. } => Some(kind),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [TrapKind::SysReg, TrapKind::Irq]);
}
