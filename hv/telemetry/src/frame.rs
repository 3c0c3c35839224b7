//! Framing of one record in a single pass per stage, byte-identical to
//! `hv_protocol::encode_record` (the tests compare them): postcard into a plain slice, CRC-32
//! with the protocol's table, then COBS. The protocol's own encoder chains three postcard
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
fn cobs(src: &[u8], dst: &mut [u8]) -> Result<usize, BufferTooSmall> {
    if dst.len() < src.len() + src.len() / 254 + 2 {
        return Err(BufferTooSmall);
    }
    let mut code_at = 0;
    let mut out = 1;
    let mut code: u8 = 1;
    for &b in src {
        if b == 0 {
            dst[code_at] = code;
            code_at = out;
            out += 1;
            code = 1;
        } else {
            dst[out] = b;
            out += 1;
            code += 1;
            if code == 0xff {
                dst[code_at] = code;
                code_at = out;
                out += 1;
                code = 1;
            }
        }
    }
    dst[code_at] = code;
    dst[out] = 0;
    Ok(out + 1)
}
