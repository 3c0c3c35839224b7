//! Robustness of the stream decoder: whatever happens to the bytes, it never panics, never hands
//! on a damaged or repeated record, resynchronises, and accounts for every lost record.
mod common;

use std::collections::HashSet;

use common::*;
use hv_protocol::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum FrameOp {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
}

#[derive(Debug, Clone)]
enum ByteOp {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    TruncateAt(usize),
}

fn frame_op() -> impl Strategy<Value = FrameOp> {
    prop_oneof![
        any::<usize>().prop_map(FrameOp::Drop),
        any::<usize>().prop_map(FrameOp::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| FrameOp::Swap(a, b)),
    ]
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(p, x)| ByteOp::Flip(p, x)),
        (any::<usize>(), 1..40usize).prop_map(|(p, n)| ByteOp::Delete(p, n)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..40)
        )
            .prop_map(|(p, b)| ByteOp::Insert(p, b)),
        any::<usize>().prop_map(ByteOp::TruncateAt),
    ]
}

/// Frames of the records only (after the hello), one vector per frame.
fn record_frames(sent: &[(Header, Event<'static>)]) -> Vec<Vec<u8>> {
    sent.iter()
        .map(|(h, e)| frame_to_vec(&Frame::Record(*h, *e)))
        .collect()
}

fn apply_frame_ops(frames: &mut Vec<Vec<u8>>, ops: &[FrameOp]) {
    for op in ops {
        if frames.is_empty() {
            return;
        }
        let n = frames.len();
        match *op {
            FrameOp::Drop(i) => {
                frames.remove(i % n);
            }
            FrameOp::Duplicate(i) => {
                let f = frames[i % n].clone();
                frames.insert((i / 7) % (n + 1), f);
            }
            FrameOp::Swap(a, b) => frames.swap(a % n, b % n),
        }
    }
}

fn apply_byte_ops(bytes: &mut Vec<u8>, ops: &[ByteOp]) {
    for op in ops {
        let n = bytes.len();
        if n == 0 {
            return;
        }
        match op {
            ByteOp::Flip(p, x) => bytes[p % n] ^= x,
            ByteOp::Delete(p, len) => {
                let s = p % n;
                bytes.drain(s..(s + len).min(n));
            }
            ByteOp::Insert(p, b) => {
                let s = p % (n + 1);
                bytes.splice(s..s, b.iter().copied());
            }
            ByteOp::TruncateAt(p) => bytes.truncate(p % n),
        }
    }
}

/// Feeds `bytes` in chunks of the given sizes (cycled); returns the stats and the headers of the
/// records handed on.
fn decode(bytes: &[u8], chunks: &[usize]) -> (Stats, Vec<Header>) {
    let mut d = StreamDecoder::new();
    let mut got_headers = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        d.feed(chunk, |item| {
            if let Decoded::Record(h, _) = item {
                got_headers.push(h);
            }
        })
        .expect("the hello is intact");
        rest = tail;
        i += 1;
    }
    (d.stats().clone(), got_headers)
}

/// Builds hello + mutated records + a resync delimiter + one intact final record per CPU.
fn run(n: usize, fops: &[FrameOp], bops: &[ByteOp], chunks: &[usize]) -> Result<(), TestCaseError> {
    let (hello_and_records, mut sent) = stream(n);
    let hello_len = frame_to_vec(&Frame::Hello(HELLO)).len();
    let mut frames = record_frames(&sent);
    apply_frame_ops(&mut frames, fops);
    let mut middle: Vec<u8> = frames.concat();
    apply_byte_ops(&mut middle, bops);

    let mut bytes = hello_and_records[..hello_len].to_vec();
    bytes.extend(&middle);
    bytes.push(0); // the transport may lose a delimiter; the trailer starts clean
    for cpu in 0..2u16 {
        let seq = sent.iter().filter(|(h, _)| h.cpu == cpu).count() as u32;
        let h = Header {
            cpu,
            seq,
            ts: u64::MAX,
        };
        let e = Event::Marker {
            vcpu: 0,
            id: 0,
            value: 0,
        };
        bytes.extend(frame_to_vec(&Frame::Record(h, e)));
        sent.push((h, e));
    }

    let (stats, got) = decode(&bytes, chunks);
    let sent_headers: HashSet<Header> = sent.iter().map(|(h, _)| *h).collect();
    let mut seen = HashSet::new();
    for h in &got {
        prop_assert!(
            sent_headers.contains(h),
            "handed on a record never sent: {h:?}"
        );
        prop_assert!(seen.insert(*h), "handed on twice: {h:?}");
    }
    prop_assert_eq!(
        got.len() as u64 + stats.seq_lost,
        sent.len() as u64,
        "{:?}",
        stats
    );
    let last: Vec<_> = sent[sent.len() - 2..].iter().map(|(h, _)| *h).collect();
    prop_assert!(
        last.iter().all(|h| got.contains(h)),
        "resynchronised for the trailer"
    );
    if bops.is_empty() {
        prop_assert_eq!(stats.decode_errors, 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frame_level_damage_is_accounted(
        n in 0..120usize,
        fops in proptest::collection::vec(frame_op(), 0..12),
        chunks in proptest::collection::vec(1..64usize, 1..8),
    ) {
        run(n, &fops, &[], &chunks)?;
    }

    #[test]
    fn byte_level_damage_is_accounted(
        n in 1..120usize,
        fops in proptest::collection::vec(frame_op(), 0..4),
        bops in proptest::collection::vec(byte_op(), 1..8),
        chunks in proptest::collection::vec(1..200usize, 1..8),
    ) {
        run(n, &fops, &bops, &chunks)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        chunks in proptest::collection::vec(1..300usize, 1..8),
    ) {
        let mut d = StreamDecoder::new();
        let mut with_hello = frame_to_vec(&Frame::Hello(HELLO));
        with_hello.extend(&bytes);
        let mut rest = &with_hello[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = chunks[i % chunks.len()].min(rest.len());
            let _ = d.feed(&rest[..n], |_| {});
            rest = &rest[n..];
            i += 1;
        }
    }
}

#[test]
fn clean_stream_decodes_everything() {
    let (bytes, sent) = stream(500);
    let (stats, got) = decode(&bytes, &[1, 3, 1000]);
    assert_eq!(got.len(), sent.len());
    assert_eq!(stats.seq_lost + stats.decode_errors + stats.duplicates, 0);
    assert_eq!(stats.frames, sent.len() as u64 + 1);
    assert_eq!(stats.bytes, bytes.len() as u64);
}

#[test]
fn one_flipped_byte_costs_one_record() {
    let (mut bytes, sent) = stream(10);
    let hello_len = frame_to_vec(&Frame::Hello(HELLO)).len();
    bytes[hello_len + 3] ^= 0x40; // inside the first record
    let (stats, got) = decode(&bytes, &[7]);
    assert_eq!(got.len(), sent.len() - 1);
    assert_eq!((stats.decode_errors, stats.seq_lost), (1, 1));
}
