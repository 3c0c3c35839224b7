//! Target side: encode one frame into a caller buffer. No allocation, no state but the caller's.
//!
//! Frame bytes on the wire: COBS( postcard(Frame) ++ crc32_le(postcard(Frame)) ) ++ 0x00.

use postcard::ser_flavors::crc::CrcModifier;
use postcard::ser_flavors::{Cobs, Slice};

use crate::crc::CRC32;
use crate::wire::{Event, Frame, Header, Hello};

/// Largest postcard encoding of a [`Frame::Record`] without its payload bytes: frame tag (1),
/// header (cpu 3 + seq 5 + ts 10), event tag (1), and the largest fixed event, `Counters`
/// (9 varint u32 of 5 bytes), or a payload length prefix (5) plus a u16 (3).
pub const MAX_RECORD_FIXED: usize = 1 + 3 + 5 + 10 + 1 + 9 * 5;

/// Bytes of CRC appended before COBS.
pub const CRC_LEN: usize = 4;

/// Buffer size that always suffices for a frame whose unframed encoding is `raw` bytes long:
/// CRC, COBS overhead (one byte per started 254) and the 0x00 delimiter.
pub const fn framed_len(raw: usize) -> usize {
    let n = raw + CRC_LEN;
    n + n / 254 + 1 + 1
}

/// Buffer size that always suffices for a record carrying a payload of `payload` bytes
/// (`Console::bytes`, `Log::defmt_frame`; 0 for the other events).
pub const fn max_record_len(payload: usize) -> usize {
    framed_len(MAX_RECORD_FIXED + payload)
}

/// Buffer size that always suffices for records without payload (83 bytes today).
pub const MAX_FIXED_FRAME: usize = max_record_len(0);

/// Buffer size that suffices for a hello whose three strings/slices total `text` bytes.
pub const fn max_hello_len(text: usize) -> usize {
    // magic 4, version 3, schema/build/config/hz 4*10, cpus 3, three length prefixes 3*5
    framed_len(4 + 3 + 4 * 10 + 3 + 3 * 5 + text)
}

/// The buffer was too small for the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall;

impl core::fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("telemetry frame does not fit the buffer")
    }
}

/// Encodes `frame` into `buf`; returns the framed bytes (delimiter included) to send as they are.
pub fn encode_frame<'b>(
    frame: &Frame<'_>,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], BufferTooSmall> {
    let cobs = Cobs::try_new(Slice::new(buf)).map_err(|_| BufferTooSmall)?;
    postcard::serialize_with_flavor(frame, CrcModifier::new(cobs, CRC32.digest()))
        .map_err(|_| BufferTooSmall)
}

/// Encodes the hello; send it first on every connection.
pub fn encode_hello<'b>(
    hello: &Hello<'_>,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], BufferTooSmall> {
    encode_frame(&Frame::Hello(*hello), buf)
}

/// Encodes one event record.
pub fn encode_record<'b>(
    header: Header,
    event: &Event<'_>,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], BufferTooSmall> {
    encode_frame(&Frame::Record(header, *event), buf)
}

/// Per-CPU sequence numbering for the producer: one per physical CPU, owned by that CPU.
#[derive(Debug, Clone)]
pub struct CpuSeq {
    cpu: u16,
    next: u32,
}

impl CpuSeq {
    pub const fn new(cpu: u16) -> Self {
        CpuSeq { cpu, next: 0 }
    }

    /// Header for the next record of this CPU, stamped with counter value `ts`.
    ///
    /// The monitor counts every skipped sequence number as a record lost in transport, and adds
    /// [`Event::Dropped`] counts on top. So: take a header when a record enters the ring; report
    /// records refused by a full ring (which never got a number) with `Dropped`, never both.
    pub fn next_header(&mut self, ts: u64) -> Header {
        let seq = self.next;
        self.next = self.next.wrapping_add(1);
        Header {
            cpu: self.cpu,
            seq,
            ts,
        }
    }
}

/// Host convenience: one framed frame as a vector (tests, synthetic streams, replays).
#[cfg(feature = "std")]
pub fn frame_to_vec(frame: &Frame<'_>) -> std::vec::Vec<u8> {
    let payload = match frame {
        Frame::Hello(h) => h.features.len() + h.vm_names.len() + h.vcpu_vm.len(),
        Frame::Record(_, Event::Console { bytes, .. }) => bytes.len(),
        Frame::Record(_, Event::Log { defmt_frame }) => defmt_frame.len(),
        Frame::Record(..) => 0,
    };
    let mut buf = std::vec![0u8; max_hello_len(payload).max(max_record_len(payload))];
    let n = encode_frame(frame, &mut buf)
        .expect("buffer sized from the bounds")
        .len();
    buf.truncate(n);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TrapKind;

    /// If this fails, the bytes on the wire changed: bump `VERSION` (or revert), then update.
    #[test]
    fn golden_bytes() {
        let mut buf = [0u8; MAX_FIXED_FRAME];
        let h = Header {
            cpu: 1,
            seq: 300,
            ts: 0x1234,
        };
        let e = Event::Trap {
            vcpu: 2,
            kind: TrapKind::DataAbort,
            duration_ticks: 5,
        };
        let bytes = encode_record(h, &e, &mut buf).unwrap();
        assert_eq!(bytes, GOLDEN);
    }

    /// COBS code, frame tag 1 (record), cpu 1, seq 300, ts 0x1234, event tag 1 (trap), vcpu 2,
    /// kind 2 (data abort), duration 5, CRC-32, delimiter.
    const GOLDEN: &[u8] = &[15, 1, 1, 172, 2, 180, 36, 1, 2, 2, 5, 64, 9, 48, 61, 0];

    #[test]
    fn fixed_frames_fit() {
        let mut buf = [0u8; MAX_FIXED_FRAME];
        let h = Header {
            cpu: u16::MAX,
            seq: u32::MAX,
            ts: u64::MAX,
        };
        let e = Event::Counters {
            traps_by_kind: [u32::MAX; 7],
            switches: u32::MAX,
            injected: u32::MAX,
        };
        assert!(encode_record(h, &e, &mut buf).is_ok());
        let e = Event::Marker {
            vcpu: u16::MAX,
            id: u16::MAX,
            value: u64::MAX,
        };
        assert!(encode_record(h, &e, &mut buf).is_ok());
        assert!(encode_record(h, &e, &mut buf[..10]).is_err());
    }

    #[test]
    fn payload_frames_fit() {
        let payload = [0u8; 600]; // zeros: worst case for nothing, but exercises COBS blocks
        let mut buf = [0u8; max_record_len(600)];
        let h = Header {
            cpu: u16::MAX,
            seq: u32::MAX,
            ts: u64::MAX,
        };
        let e = Event::Console {
            vm: u16::MAX,
            bytes: &payload,
        };
        assert!(encode_record(h, &e, &mut buf).is_ok());
        let ff = [0xffu8; 600];
        let e = Event::Log { defmt_frame: &ff };
        assert!(encode_record(h, &e, &mut buf).is_ok());
    }
}
