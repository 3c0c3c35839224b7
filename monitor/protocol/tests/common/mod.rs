//! Sample events and streams shared by the protocol's integration tests.
#![allow(dead_code)]

use hv_protocol::*;

pub const HELLO: Hello<'static> = Hello::new(
    0x00B0_1D1D,
    0x000C_0F16,
    62_500_000,
    2,
    "shadow-paging",
    "linux,rtos",
    &[0, 0, 1],
);

/// One event of every kind.
pub fn every_event() -> Vec<Event<'static>> {
    vec![
        Event::Switch {
            from: None,
            to: Some(0),
            reason: SwitchReason::Start,
        },
        Event::Trap {
            vcpu: 0,
            kind: TrapKind::Hvc,
            duration_ticks: 40,
        },
        Event::IrqInjected {
            vcpu: 1,
            intid: 27,
            latency_ticks: 12,
        },
        Event::Hypercall {
            vcpu: 1,
            func: 0x8400_0008,
            result: -1,
        },
        Event::Console {
            vm: 1,
            bytes: b"hello\0world\n",
        },
        Event::Log {
            defmt_frame: &[1, 0, 2, 0, 0xff],
        },
        Event::Counters {
            traps_by_kind: [1, 2, 3, 4, 5, 6, 7],
            switches: 8,
            injected: 9,
        },
        Event::Dropped { count: 3 },
        Event::Marker {
            vcpu: 2,
            id: 7,
            value: u64::MAX,
        },
        Event::VmExit {
            vm: 0,
            reason: VmExitReason::PowerOff,
        },
    ]
}

/// A hello followed by `n` records spread over two CPUs, each CPU numbering from 0.
pub fn stream(n: usize) -> (Vec<u8>, Vec<(Header, Event<'static>)>) {
    let events = every_event();
    let mut seqs = [CpuSeq::new(0), CpuSeq::new(1)];
    let mut bytes = frame_to_vec(&Frame::Hello(HELLO));
    let mut sent = Vec::new();
    for i in 0..n {
        let e = events[i % events.len()];
        let e = match e {
            Event::Dropped { .. } => Event::Marker {
                vcpu: 0,
                id: 1,
                value: i as u64,
            },
            e => e,
        };
        let h = seqs[i % 2].next_header(1000 + i as u64 * 10);
        bytes.extend(frame_to_vec(&Frame::Record(h, e)));
        sent.push((h, e));
    }
    (bytes, sent)
}

/// COBS-encodes hand-built frame bytes and appends the delimiter.
pub fn cobs(data: &[u8]) -> Vec<u8> {
    let mut out = cobs::encode_vec(data);
    out.push(0);
    out
}
