//! Replaying a recording at the pace it was recorded, with pause and seek.
//!
//! A [`Recording`] is the raw byte stream with a time index: after each frame, the stream time
//! reached so far (the records' counter, converted with the hello's frequency, from the first
//! record on; a running maximum, since CPUs' frames interleave). A [`Player`] turns wall-clock
//! time into "feed the bytes up to here": paused it feeds nothing; seeking forward feeds the
//! bytes in between at once; seeking back asks the caller to start a fresh session and feed
//! from the beginning (decoding is fast, and the loss accounting stays that of one stream).
//!
//! Positions are always frame ends, so a replay cut at `--to` is a complete stream, never a
//! truncated frame. Memory: the recording's bytes and one index entry per 10 µs of stream time
//! that has frames.

use std::ops::Range;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use hv_protocol::{Decoded, decode_frame};

use crate::time::Clock;

/// Index entries closer than this in stream time are merged.
const INDEX_STEP_NS: u64 = 10_000;

/// A recording held in memory with its time index.
pub struct Recording {
    bytes: Vec<u8>,
    /// (byte offset just after a frame's delimiter, stream time in ns reached by then).
    marks: Vec<(usize, u64)>,
}

impl Recording {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot open recording {}", path.display()))?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let mut marks: Vec<(usize, u64)> = Vec::new();
        let mut clock = Clock::new(0);
        let mut first: Option<u64> = None;
        let mut now = 0u64;
        let mut start = 0;
        let mut frame = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            if b != 0 {
                continue;
            }
            frame.clear();
            frame.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            match decode_frame(&mut frame) {
                Ok(Decoded::Hello(h)) => clock = Clock::new(h.counter_hz),
                Ok(Decoded::Record(h, _)) | Ok(Decoded::Unknown { header: h, .. }) => {
                    let t0 = *first.get_or_insert(h.ts);
                    now = now.max(clock.ns(h.ts.saturating_sub(t0)));
                }
                Err(_) => {}
            }
            match marks.last_mut() {
                Some(last) if now < last.1 + INDEX_STEP_NS => last.0 = start,
                _ => marks.push((start, now)),
            }
        }
        Recording { bytes, marks }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Stream time of the last frame (ns since the first record).
    pub fn duration_ns(&self) -> u64 {
        self.marks.last().map_or(0, |m| m.1)
    }

    /// The end of the last whole frame whose stream time is at most `ns` (0: none).
    pub fn offset_at(&self, ns: u64) -> usize {
        let i = self.marks.partition_point(|m| m.1 <= ns);
        if i == 0 { 0 } else { self.marks[i - 1].0 }
    }

    /// Everything up to the last whole frame (a cut-off tail is left out of time-based
    /// positions, but fed at the very end of an unbounded replay so that it is counted).
    fn end(&self) -> usize {
        self.bytes.len()
    }
}

/// What the caller does after [`Player::seek`].
#[derive(Debug, PartialEq, Eq)]
pub enum Seek {
    /// Feed these bytes (forward).
    Feed(Range<usize>),
    /// Start a fresh session and feed these bytes (back).
    Restart(Range<usize>),
}

/// Wall-clock pacing of a [`Recording`] between two stream times.
pub struct Player {
    rec: Recording,
    /// Bytes fed so far.
    pos: usize,
    /// Stream time shown (ns).
    at: u64,
    /// Stream time to stop at.
    to: u64,
    /// Stream ns per wall-clock ns; `None`: as fast as possible.
    speed: Option<f64>,
    paused: bool,
    /// (wall clock, stream time) when playing last (re)started.
    anchor: (Instant, u64),
}

impl Player {
    /// A player whose first [`Player::advance`] feeds everything up to `from` at once.
    pub fn new(
        rec: Recording,
        from: u64,
        to: Option<u64>,
        speed: Option<f64>,
        now: Instant,
    ) -> Self {
        let to = to.unwrap_or(u64::MAX);
        Player {
            rec,
            pos: 0,
            at: from.min(to),
            to,
            speed: speed.filter(|s| *s > 0.0),
            paused: false,
            anchor: (now, from.min(to)),
        }
    }

    pub fn recording(&self) -> &Recording {
        &self.rec
    }

    /// Stream time shown (ns since the first record).
    pub fn at_ns(&self) -> u64 {
        self.at.min(self.rec.duration_ns())
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Whether everything up to the end (or `--to`) has been fed.
    pub fn done(&self) -> bool {
        self.pos >= self.limit()
    }

    /// Where the replay ends: the frame end at `to`, or the whole recording.
    fn limit(&self) -> usize {
        if self.to >= self.rec.duration_ns() {
            self.rec.end()
        } else {
            self.rec.offset_at(self.to)
        }
    }

    fn target(&self, ns: u64) -> usize {
        if ns >= self.rec.duration_ns() && self.to >= self.rec.duration_ns() {
            self.rec.end()
        } else {
            self.rec.offset_at(ns.min(self.to))
        }
    }

    /// The bytes to feed now.
    pub fn advance(&mut self, now: Instant) -> Range<usize> {
        if !self.paused {
            self.at = match self.speed {
                None => self.to,
                Some(s) => {
                    let wall = now.saturating_duration_since(self.anchor.0).as_nanos() as f64;
                    (self.anchor.1 as f64 + wall * s).min(self.to as f64) as u64
                }
            };
        }
        let end = self.target(self.at).max(self.pos);
        let r = self.pos..end;
        self.pos = end;
        r
    }

    pub fn toggle_pause(&mut self, now: Instant) {
        self.paused = !self.paused;
        self.anchor = (now, self.at);
    }

    /// Moves the shown time by `delta_ns` (clamped to the start and to `to`).
    pub fn seek_by(&mut self, delta_ns: i64, now: Instant) -> Seek {
        let t = self.at.saturating_add_signed(delta_ns);
        self.seek(t, now)
    }

    /// Jumps to stream time `ns`.
    pub fn seek(&mut self, ns: u64, now: Instant) -> Seek {
        self.at = ns.min(self.to).min(self.rec.duration_ns());
        self.anchor = (now, self.at);
        let target = self.target(self.at);
        if target < self.pos {
            self.pos = target;
            Seek::Restart(0..target)
        } else {
            let r = self.pos..target;
            self.pos = target;
            Seek::Feed(r)
        }
    }
}

/// Parses a stream time: `1.5s`, `200ms`, `30us`, `500ns`, `2` (seconds).
pub fn parse_time(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, scale) = [
        ("ns", 1.0),
        ("us", 1e3),
        ("µs", 1e3),
        ("ms", 1e6),
        ("s", 1e9),
    ]
    .iter()
    .find_map(|(suffix, scale)| s.strip_suffix(suffix).map(|n| (n, *scale)))
    .unwrap_or((s, 1e9));
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a time (e.g. 1.5s, 200ms, 30us)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}`: a time must be zero or more"));
    }
    Ok((v * scale) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv_protocol::{CpuSeq, Event, Frame, Hello, MAGIC, SCHEMA_HASH, TrapKind, VERSION};
    use std::time::Duration;

    /// A hello at 1 GHz and one trap record every millisecond, 0..n ms.
    fn recording(n: u64) -> Recording {
        let hello = Hello {
            magic: MAGIC,
            version: VERSION,
            schema: SCHEMA_HASH,
            build_id: 1,
            config_id: 2,
            counter_hz: 1_000_000_000,
            cpus: 1,
            features: "",
            vm_names: "vm0",
            vcpu_vm: &[0],
        };
        let mut bytes = hv_protocol::frame_to_vec(&Frame::Hello(hello));
        let mut seq = CpuSeq::new(0);
        for i in 0..n {
            let h = seq.next_header(5_000 + i * 1_000_000);
            let e = Event::Trap {
                vcpu: 0,
                kind: TrapKind::Hvc,
                duration_ticks: 10,
            };
            bytes.extend(hv_protocol::frame_to_vec(&Frame::Record(h, e)));
        }
        Recording::from_bytes(bytes)
    }

    fn records(bytes: &[u8]) -> usize {
        let mut s = crate::Session::new();
        let mut n = 0;
        s.feed(bytes, |_, u| {
            n += usize::from(matches!(u, crate::session::Update::Record(..)))
        })
        .unwrap();
        n
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_time("200ms"), Ok(200_000_000));
        assert_eq!(parse_time("30us"), Ok(30_000));
        assert_eq!(parse_time("2"), Ok(2_000_000_000));
        assert!(parse_time("-1s").is_err());
        assert!(parse_time("soon").is_err());
    }

    #[test]
    fn the_index_finds_frame_ends_by_time() {
        let r = recording(10);
        assert_eq!(r.duration_ns(), 9_000_000);
        // the hello and the record at 0 ms
        assert_eq!(records(&r.bytes()[..r.offset_at(0)]), 1);
        assert_eq!(records(&r.bytes()[..r.offset_at(4_500_000)]), 5);
        assert_eq!(records(&r.bytes()[..r.offset_at(u64::MAX)]), 10);
    }

    #[test]
    fn from_and_to_bound_an_unpaced_replay() {
        let t = Instant::now();
        let mut p = Player::new(recording(10), 2_000_000, Some(6_000_000), None, t);
        let r = p.advance(t);
        assert_eq!(records(&p.recording().bytes()[r]), 7); // 0..=6 ms
        assert!(p.done());
        assert_eq!(p.advance(t), p.pos..p.pos);
    }

    #[test]
    fn pacing_pause_and_seek() {
        let t = Instant::now();
        let ms = Duration::from_millis(1);
        let mut p = Player::new(recording(10), 0, None, Some(1.0), t);
        let mut fed = p.advance(t).end;
        assert_eq!(records(&p.recording().bytes()[..fed]), 1);
        fed = p.advance(t + 3 * ms).end;
        assert_eq!(records(&p.recording().bytes()[..fed]), 4);
        // paused: nothing more however long we wait
        p.toggle_pause(t + 3 * ms);
        assert!(p.paused());
        assert!(p.advance(t + 50 * ms).is_empty());
        // seek forward while paused: the bytes in between
        let Seek::Feed(r) = p.seek_by(2_000_000, t + 50 * ms) else {
            panic!("forward is a feed")
        };
        assert_eq!(r.start, fed);
        assert_eq!(records(&p.recording().bytes()[..r.end]), 6);
        // back: start again from the beginning
        assert_eq!(
            p.seek_by(-4_000_000, t + 50 * ms),
            Seek::Restart(0..p.recording().offset_at(1_000_000))
        );
        assert_eq!(p.at_ns(), 1_000_000);
        // resume: paced from the new position
        p.toggle_pause(t + 60 * ms);
        let r = p.advance(t + 62 * ms);
        assert_eq!(records(&p.recording().bytes()[..r.end]), 4);
        assert!(!p.done());
        p.advance(t + 100 * ms);
        assert!(p.done());
    }
}
