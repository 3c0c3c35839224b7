//! Framing of one record in a single pass per stage, byte-identical to
//! `hv_protocol::encode_record` (the tests compare them): postcard into a plain slice, the
//! protocol's CRC-32, then COBS. The protocol's own encoder chains three postcard
//! flavors per byte; on the hypervisor's hot path this is several times cheaper.
use hv_protocol::{BufferTooSmall, CRC_LEN, Event, Frame, Header, MAX_RECORD_FIXED, crc32};

use crate::MAX_PAYLOAD;

/// Largest unframed record (postcard + CRC).
const MAX_RAW: usize = MAX_RECORD_FIXED + MAX_PAYLOAD + CRC_LEN;

/// Encodes `Frame::Record(header, event)` into `out` as it goes on the wire (COBS, 0x00
/// delimiter included); returns the framed bytes.
pub fn encode_record<'b>(
    header: Header,
    event: &Event<'_>,
    out: &'b mut [u8],
) -> Result<&'b mut [u8], BufferTooSmall> {
    let mut raw = [0u8; MAX_RAW];
    let n = postcard::to_slice(
        &Frame::Record(header, *event),
        &mut raw[..MAX_RAW - CRC_LEN],
    )
    .map_err(|_| BufferTooSmall)?
    .len();
    let crc = crc32(&raw[..n]);
    raw[n..n + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let len = cobs(&raw[..n + CRC_LEN], out)?;
    Ok(&mut out[..len])
}

/// COBS-encodes `src` into `dst` and appends the 0x00 delimiter; returns the length.
///
/// The state machine is the `cobs` crate's, driven the way postcard's `Cobs` flavor drives it
/// (a code byte is written after a run of 254 non-zero bytes even at the end, which
/// `cobs::encode` leaves out), so the bytes are the protocol encoder's.
fn cobs(src: &[u8], dst: &mut [u8]) -> Result<usize, BufferTooSmall> {
    use cobs::PushResult;
    if dst.len() < src.len() + src.len() / 254 + 2 {
        return Err(BufferTooSmall);
    }
    let mut state = cobs::EncoderState::default();
    let mut out = 1; // dst[0]: the first code byte, written when its run ends
    for &b in src {
        match state.push(b) {
            PushResult::AddSingle(v) => {
                dst[out] = v;
                out += 1;
            }
            PushResult::ModifyFromStartAndSkip((at, code)) => {
                dst[at] = code;
                out += 1;
            }
            PushResult::ModifyFromStartAndPushAndSkip((at, code, v)) => {
                dst[at] = code;
                dst[out] = v;
                out += 2;
            }
        }
    }
    let (at, code) = state.finalize();
    dst[at] = code;
    dst[out] = 0;
    Ok(out + 1)
}
