//! The monitor against hostile input: whatever the bytes, no panic, memory bounded (measured
//! with a counting allocator), and every loss or undecodable byte counted (so every command
//! exits non-zero). The cases named after findings reproduce them exactly.
//!
//! Memory bound of a session for any input (see the crate docs of `hv_protocol::stream`,
//! `hvmon::stat`, `hvmon::view::state`): pending frame ≤ 64 KiB, ≤ 256 CPU trackers of
//! ~0.6 KiB, ≤ 256 latency histograms of ≤ 112 KiB (28 MiB), tables sized by the hello
//! (≤ 256 VMs, ≤ 1024 vCPUs), console scroll-back ≤ 64 KiB per pane. [`BOUND`] is what the
//! tests allow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use hv_protocol::*;
use hvmon::Session;
use hvmon::Summary;
use proptest::prelude::*;

/// Peak live heap a test may reach while decoding (beyond what it held before).
const BOUND: isize = 48 << 20;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

struct Counting;

fn add(n: isize) {
    let _ = LIVE.try_with(|l| {
        let v = l.get() + n;
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are
// thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        add(new as isize - l.size() as isize);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Runs `f`, returning its result and the peak heap growth during it.
fn measured<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, PEAK.with(Cell::get) - base)
}

const HELLO: Hello<'static> = Hello::new(0xB1D, 0xC0F, 62_500_000, 2, "", "linux,rtos", &[0, 0, 1]);

fn hello_bytes() -> Vec<u8> {
    frame_to_vec(&Frame::Hello(HELLO))
}

fn rec(cpu: u16, seq: u32, ts: u64, e: Event<'_>) -> Vec<u8> {
    frame_to_vec(&Frame::Record(Header { cpu, seq, ts }, e))
}

fn trap(vcpu: u16) -> Event<'static> {
    Event::Trap {
        vcpu,
        kind: TrapKind::DataAbort,
        duration_ticks: 30,
    }
}

/// Feeds `bytes` in pieces of `chunk`, then ends the session.
fn replay(bytes: &[u8], chunk: usize) -> (Session, u64) {
    let mut s = Session::new();
    let mut records = 0;
    for c in bytes.chunks(chunk.max(1)) {
        // a refused hello ends the session; the tests that care check it
        if s.feed(c, |_, u| {
            records += matches!(u, hvmon::session::Update::Record(..)) as u64
        })
        .is_err()
        {
            break;
        }
    }
    s.finish(|_, _| {});
    (s, records)
}

#[test]
fn frames_naming_65535_cpu_ids_stay_bounded_and_are_counted() {
    // the finding: 1.1 MB of frames naming 65,535 CPU ids grew the monitor past 3 GB
    let mut bytes = hello_bytes();
    let mut n = 0u64;
    while bytes.len() < 1_100_000 {
        let cpu = (n % 65_535) as u16;
        bytes.extend(rec(cpu, (n / 65_535) as u32, n, trap(0)));
        n += 1;
    }
    let ((s, records), peak) = measured(|| replay(&bytes, 4096));
    let st = s.stats();
    let own = n.div_ceil(65_535).min(n) * 2; // records of cpu 0 and 1
    assert!(peak < BOUND, "peak {peak} bytes");
    assert!(st.bad_cpu >= n - own, "{st:?}");
    assert_eq!(records + st.bad_cpu + st.duplicates, n, "{st:?}");
    assert!(!Summary::of(&s).clean());
}

#[test]
fn a_hello_claiming_every_id_is_cut_to_the_limits() {
    let names: String = (0..300).map(|i| format!("vm{i},")).collect();
    let vcpus: Vec<u8> = (0..5000).map(|i| (i % 256) as u8).collect();
    let hello = Hello::new(1, 2, 62_500_000, u16::MAX, "", &names, &vcpus);
    let mut bytes = frame_to_vec(&Frame::Hello(hello));
    let mut n = 0u32;
    while bytes.len() < 2_000_000 {
        let cpu = (n % 65_535) as u16;
        let kind = TrapKind::ALL[(n % 7) as usize];
        let e = Event::Trap {
            vcpu: (n % 6000) as u16,
            kind,
            duration_ticks: n,
        };
        bytes.extend(frame_to_vec(&Frame::Record(
            Header {
                cpu,
                seq: n / 65_535,
                ts: u64::from(n),
            },
            e,
        )));
        n += 1;
    }
    let ((s, _), peak) = measured(|| replay(&bytes, 65_536));
    assert!(peak < BOUND, "peak {peak} bytes");
    let info = s.info().unwrap();
    assert_eq!(usize::from(info.cpus), MAX_CPUS);
    assert_eq!(info.vcpu_vm.len(), hvmon::info::MAX_VCPUS);
    assert!(info.vms.len() <= hvmon::info::MAX_VMS);
    assert!(s.stats().bad_cpu > 0 && s.invalid_ids() > 0);
    assert!(
        s.metrics.stat.budget_left() == 0,
        "the histogram budget was used up, not exceeded"
    );
}

#[test]
fn a_far_ahead_sequence_number_is_a_jump_not_two_billion_losses() {
    let mut bytes = hello_bytes();
    for i in 0..100 {
        bytes.extend(rec(0, i, u64::from(i), trap(0)));
    }
    bytes.extend(rec(0, 0x7fff_0000, 100, trap(0)));
    for i in 100..9600 {
        bytes.extend(rec(0, i, u64::from(i), trap(0)));
    }
    let (s, records) = replay(&bytes, 1000);
    let st = s.stats();
    assert_eq!(
        (st.seq_lost, st.duplicates, st.seq_jumps),
        (0, 0, 1),
        "{st:?}"
    );
    assert_eq!(records, 9601, "every real record decoded");
    assert!(!Summary::of(&s).clean(), "a jump is reported");
}

#[test]
fn a_repeated_hello_is_a_resync_not_phantom_losses() {
    for restart in [false, true] {
        let mut bytes = hello_bytes();
        for i in 0..5000 {
            bytes.extend(rec(0, i, u64::from(i), trap(0)));
            bytes.extend(rec(1, i, u64::from(i), trap(2)));
        }
        bytes.extend(hello_bytes());
        let first = if restart { 0 } else { 5000 };
        for i in first..first + 5000 {
            bytes.extend(rec(0, i, u64::from(i), trap(0)));
            bytes.extend(rec(1, i, u64::from(i), trap(2)));
        }
        let (s, records) = replay(&bytes, 777);
        let st = s.stats();
        assert_eq!(
            (st.seq_lost, st.duplicates, st.hellos),
            (0, 0, 2),
            "restart {restart}: {st:?}"
        );
        assert_eq!(records, 20_000);
        assert!(Summary::of(&s).clean(), "{}", Summary::of(&s).line());
    }
}

#[test]
fn records_before_the_hello_are_undecodable_not_lost() {
    let mut bytes = Vec::new();
    for i in 0..100 {
        bytes.extend(rec(0, i, u64::from(i), trap(0)));
    }
    bytes.extend(hello_bytes());
    for i in 100..200 {
        bytes.extend(rec(0, i, u64::from(i), trap(0)));
    }
    // cpu 1 sends nothing before the hello and starts mid-numbering: the monitor joined late
    for i in 70..80 {
        bytes.extend(rec(1, i, u64::from(i), trap(2)));
    }
    let (s, records) = replay(&bytes, 333);
    let st = s.stats();
    assert_eq!((st.before_hello, st.seq_lost), (100, 0), "{st:?}");
    assert_eq!(records, 110);
    let sum = Summary::of(&s);
    assert_eq!(sum.undecodable, 100);
    assert!(!sum.clean());
}

#[test]
fn a_truncated_last_frame_and_a_stream_without_delimiter_are_counted() {
    let mut bytes = hello_bytes();
    for i in 0..10 {
        bytes.extend(rec(0, i, u64::from(i), trap(0)));
    }
    let whole = replay(&bytes, 64).0;
    assert!(Summary::of(&whole).clean());
    bytes.truncate(bytes.len() - 3);
    let (s, _) = replay(&bytes, 64);
    assert!(s.stats().truncated_bytes > 0);
    assert!(!Summary::of(&s).clean());

    // 50 MB without a final delimiter: bounded, counted
    let ((s, _), peak) = measured(|| {
        let mut s = Session::new();
        s.feed(&hello_bytes(), |_, _| {}).unwrap();
        let junk = vec![0x5au8; 1 << 20];
        for _ in 0..50 {
            s.feed(&junk, |_, _| {}).unwrap();
        }
        s.finish(|_, _| {});
        (s, 0)
    });
    assert!(peak < 4 << 20, "peak {peak} bytes");
    assert!(s.stats().decode_errors >= 1, "{:?}", s.stats());
    assert!(!Summary::of(&s).clean());
}

/// One event with ids drawn from a wide range (many outside the hello).
fn wild_event() -> impl Strategy<Value = (u16, u32, Event<'static>)> {
    let id = prop_oneof![0..4u16, any::<u16>()];
    (
        id.clone(),
        any::<u32>(),
        id.clone(),
        id,
        0..7usize,
        any::<u32>(),
    )
        .prop_map(|(cpu, seq, vcpu, vm, k, d)| {
            let e = match d % 5 {
                0 => Event::Switch {
                    from: Some(vcpu),
                    to: (d % 3 != 0).then_some(vm),
                    reason: SwitchReason::ALL[k % SwitchReason::COUNT],
                },
                1 => Event::Console {
                    vm,
                    bytes: b"no newline, ever ",
                },
                2 => Event::VmExit {
                    vm,
                    reason: VmExitReason::Fault,
                },
                3 => Event::IrqInjected {
                    vcpu,
                    intid: d,
                    latency_ticks: d,
                },
                _ => Event::Trap {
                    vcpu,
                    kind: TrapKind::ALL[k],
                    duration_ticks: d,
                },
            };
            (cpu, seq, e)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Valid frames carrying wild ids and sequence numbers, hellos repeated, bytes damaged
    /// and the stream cut anywhere: no panic, bounded memory, and anything wrong is noticed.
    #[test]
    fn any_stream_is_bounded_and_every_anomaly_noticed(
        events in proptest::collection::vec(wild_event(), 0..3000),
        hellos in proptest::collection::vec(any::<usize>(), 0..4),
        flips in proptest::collection::vec((any::<usize>(), 1..=255u8), 0..6),
        cut in any::<Option<usize>>(),
        chunk in 1..5000usize,
    ) {
        let mut bytes = hello_bytes();
        let mut sane = true;
        let mut next = [0u32; 2];
        for (cpu, seq, e) in &events {
            let in_hello = usize::from(*cpu) < 2 && HELLO_IDS.ok(e);
            let seq = if in_hello && seq % 4 != 0 {
                // mostly in order, so the accounting has something to get right
                let s = next[usize::from(*cpu)];
                next[usize::from(*cpu)] += 1;
                s
            } else {
                sane = false;
                *seq
            };
            bytes.extend(rec(*cpu, seq, u64::from(seq), *e));
        }
        for h in &hellos {
            let at = h % (bytes.len() + 1);
            // at a frame boundary or not: either way no panic
            let hb = hello_bytes();
            bytes.splice(at..at, hb);
            sane = false;
        }
        for (p, x) in &flips {
            let n = bytes.len();
            bytes[p % n] ^= x;
            sane = false;
        }
        if let Some(c) = cut {
            let n = bytes.len();
            bytes.truncate(c % (n + 1));
            sane = false;
        }
        let ((s, _), peak) = measured(|| replay(&bytes, chunk));
        prop_assert!(peak < BOUND, "peak {} bytes", peak);
        let sum = Summary::of(&s);
        if sane {
            prop_assert!(sum.clean(), "{}", sum.line());
        }
        if flips.len() == 1 && cut.is_none() {
            // one damaged byte is always noticed (CRC-32)
            prop_assert!(!sum.clean(), "{}", sum.line());
        }
    }
}

/// Which ids the test hello has (2 CPUs, VMs 0..2, vCPUs 0..3).
struct HelloIds;
const HELLO_IDS: HelloIds = HelloIds;

impl HelloIds {
    fn ok(&self, e: &Event<'_>) -> bool {
        let v = |x: u16| x < 3;
        let m = |x: u16| x < 2;
        match *e {
            Event::Switch { from, to, .. } => from.is_none_or(v) && to.is_none_or(v),
            Event::Trap { vcpu, .. } | Event::IrqInjected { vcpu, .. } => v(vcpu),
            Event::Console { vm, .. } | Event::VmExit { vm, .. } => m(vm),
            _ => true,
        }
    }
}
