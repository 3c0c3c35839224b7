//! Decoding one frame, in place, without allocation (usable on both sides).
//!
//! Order matters for tolerance: the frame tag and header are decoded first, then the event; an
//! event whose variant index this build does not know (a newer producer) becomes
//! [`Decoded::Unknown`] with its header intact, so sequence accounting still sees it.

use serde::Deserialize;

use crate::crc::crc32;
use crate::encode::CRC_LEN;
use crate::hello::{Mismatch, check_prefix};
use crate::wire::{Event, Header, Hello};

/// Number of [`Event`] variants this build knows; a larger variant index is "unknown".
pub const EVENT_KINDS: u32 = 10;

/// Frame tags of [`crate::Frame`] (stable across versions).
const TAG_HELLO: u8 = 0;
const TAG_RECORD: u8 = 1;

/// A decoded frame borrowing from the frame buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    Hello(Hello<'a>),
    Record(Header, Event<'a>),
    /// A record whose event kind is newer than this build; skipped but sequence-tracked.
    Unknown {
        header: Header,
        tag: u32,
    },
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Not valid COBS (a 0x00 inside, or a block running past the end).
    Cobs,
    /// Shorter than a CRC, or the CRC does not match: damaged in transport.
    Crc,
    /// The frame tag is neither hello nor record.
    UnknownFrame(u8),
    /// CRC fine but the contents do not parse: a producer bug or a schema mismatch.
    Malformed,
    /// A hello from an incompatible producer.
    Hello(Mismatch),
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Cobs => f.write_str("bad COBS encoding"),
            FrameError::Crc => f.write_str("CRC mismatch (damaged frame)"),
            FrameError::UnknownFrame(t) => write!(f, "unknown frame tag {t}"),
            FrameError::Malformed => f.write_str("frame contents do not parse"),
            FrameError::Hello(m) => m.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

/// Decodes COBS in place (input without the 0x00 delimiter); returns the decoded length.
///
/// Stricter than [`cobs::decode_in_place`], which ends a frame at its first 0x00: a frame here
/// was cut at its delimiter already, so a 0x00 inside is damage.
pub fn cobs_decode_in_place(buf: &mut [u8]) -> Result<usize, FrameError> {
    if buf.is_empty() {
        return Ok(0);
    }
    if buf.contains(&0) {
        return Err(FrameError::Cobs);
    }
    cobs::decode_in_place(buf).map_err(|_| FrameError::Cobs)
}

/// Decodes one COBS-encoded frame (delimiter excluded) in place.
pub fn decode_frame(frame: &mut [u8]) -> Result<Decoded<'_>, FrameError> {
    let n = cobs_decode_in_place(frame)?;
    decode_raw(&frame[..n])
}

/// Decodes one un-COBSed frame: postcard bytes followed by their CRC-32.
pub fn decode_raw(raw: &[u8]) -> Result<Decoded<'_>, FrameError> {
    if raw.len() <= CRC_LEN {
        return Err(FrameError::Crc);
    }
    let (body, crc) = raw.split_at(raw.len() - CRC_LEN);
    if crc32(body).to_le_bytes() != crc {
        return Err(FrameError::Crc);
    }
    match body[0] {
        TAG_HELLO => decode_hello(&body[1..]),
        TAG_RECORD => decode_record(&body[1..]),
        t => Err(FrameError::UnknownFrame(t)),
    }
}

/// The fields every version's hello starts with.
#[derive(Deserialize)]
struct Prefix {
    magic: [u8; 4],
    version: u16,
    schema: u64,
}

fn decode_hello(body: &[u8]) -> Result<Decoded<'_>, FrameError> {
    let (p, _) = postcard::take_from_bytes::<Prefix>(body).map_err(|_| FrameError::Malformed)?;
    check_prefix(p.magic, p.version, p.schema).map_err(FrameError::Hello)?;
    let hello = postcard::from_bytes::<Hello<'_>>(body).map_err(|_| FrameError::Malformed)?;
    Ok(Decoded::Hello(hello))
}

fn decode_record(body: &[u8]) -> Result<Decoded<'_>, FrameError> {
    let (header, rest) =
        postcard::take_from_bytes::<Header>(body).map_err(|_| FrameError::Malformed)?;
    match postcard::from_bytes::<Event<'_>>(rest) {
        Ok(event) => Ok(Decoded::Record(header, event)),
        Err(_) => match postcard::take_from_bytes::<u32>(rest) {
            Ok((tag, _)) if tag >= EVENT_KINDS => Ok(Decoded::Unknown { header, tag }),
            _ => Err(FrameError::Malformed),
        },
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn encoded(data: &[u8]) -> Vec<u8> {
        let mut buf = std::vec![0u8; data.len() + data.len() / 254 + 2];
        let n = postcard::ser_flavors::Flavor::finalize({
            let mut f =
                postcard::ser_flavors::Cobs::try_new(postcard::ser_flavors::Slice::new(&mut buf))
                    .unwrap();
            postcard::ser_flavors::Flavor::try_extend(&mut f, data).unwrap();
            f
        })
        .unwrap()
        .len();
        buf.truncate(n - 1); // without the delimiter
        buf
    }

    #[test]
    fn cobs_round_trips_postcards_encoding() {
        for n in [0usize, 1, 2, 253, 254, 255, 508, 509, 600] {
            for fill in [0u8, 1, 0xFF] {
                let data: Vec<u8> = (0..n)
                    .map(|i| {
                        if i % 97 == 5 {
                            0
                        } else {
                            fill.wrapping_add(i as u8)
                        }
                    })
                    .collect();
                let mut frame = encoded(&data);
                let len = cobs_decode_in_place(&mut frame).unwrap();
                assert_eq!(&frame[..len], &data[..], "length {n}, fill {fill}");
            }
        }
    }

    #[test]
    fn cobs_refuses_damage() {
        // a block running past the end
        assert_eq!(cobs_decode_in_place(&mut [5, 1, 2]), Err(FrameError::Cobs));
        // a 0x00 inside (the delimiter is never part of a frame)
        assert_eq!(
            cobs_decode_in_place(&mut [3, 1, 0, 2]),
            Err(FrameError::Cobs)
        );
        assert_eq!(cobs_decode_in_place(&mut [1, 0]), Err(FrameError::Cobs));
        // nothing is no bytes (the CRC check refuses it next)
        assert_eq!(cobs_decode_in_place(&mut []), Ok(0));
        assert_eq!(decode_frame(&mut []), Err(FrameError::Crc));
    }
}
