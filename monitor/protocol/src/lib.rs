//! Telemetry wire format shared by the hypervisor and the host monitor (`hvmon`).
//!
//! One crate for both sides so they cannot disagree. The hypervisor uses it `no_std` without
//! allocation (`default-features = false`): it fills a [`Header`] from its per-CPU [`CpuSeq`] and
//! calls [`encode_record`] into a buffer of [`MAX_FIXED_FRAME`] bytes (or [`max_record_len`] for
//! payload events), then hands the bytes to its transport. The monitor (feature `std`) feeds any
//! byte chunks to [`StreamDecoder`].
//!
//! A frame on the wire is `COBS(postcard(Frame) ++ CRC-32) ++ 0x00`. The first frame of every
//! connection is a [`Hello`] carrying [`MAGIC`], [`VERSION`] and [`SCHEMA_HASH`]; a monitor refuses
//! a stream whose hello does not match its own build, and says which side is newer.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

mod crc;
mod decode;
mod encode;
mod hello;
mod kinds;
mod schema;
mod wire;

#[cfg(feature = "std")]
mod seq;
#[cfg(feature = "std")]
mod stream;

pub use crc::{CRC32, crc32};
pub use decode::{
    Decoded, EVENT_KINDS, FrameError, cobs_decode_in_place, decode_frame, decode_raw,
};
pub use encode::{
    BufferTooSmall, CRC_LEN, CpuSeq, MAX_FIXED_FRAME, MAX_RECORD_FIXED, encode_frame, encode_hello,
    encode_record, framed_len, max_hello_len, max_record_len,
};
pub use hello::Mismatch;
pub use schema::{MAGIC, SCHEMA_HASH, VERSION, fnv1a, token_hash};
pub use wire::{
    Event, Frame, Header, Hello, MigrateCause, ShadowOp, SwitchReason, TRAP_KINDS, TrapKind,
    VmExitReason,
};

#[cfg(feature = "std")]
pub use encode::frame_to_vec;
#[cfg(feature = "std")]
pub use seq::{MAX_GAP, SeqEvent, SeqTracker, WINDOW};
#[cfg(feature = "std")]
pub use stream::{Item, MAX_CPUS, MAX_FRAME, Stats, StreamDecoder};
