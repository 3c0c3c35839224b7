//! Well-framed streams with arbitrary contents: a valid hello, then the input cut into
//! pieces (a length byte, then that many bytes), each framed as the firmware frames a
//! record — CRC-32 appended, COBS, a 0x00 delimiter — so that the fuzzer's bytes get past
//! the CRC into the frame decoder (postcard), the sequence tracking and the session's
//! tables. Same checks as `stream`.
#![no_main]

use hv_protocol::{Frame, Hello, crc32, frame_to_vec};
use hvmon::{Session, Summary};
use libfuzzer_sys::fuzz_target;

const HELLO: Hello<'static> = Hello::new(0xB1D, 0xC0F, 62_500_000, 2, "", "linux,rtos", &[0, 0, 1]);

/// `body` framed like a record: COBS(body ++ crc32_le(body)) ++ 0x00.
fn framed(body: &[u8], out: &mut Vec<u8>) {
    let mut raw = body.to_vec();
    raw.extend_from_slice(&crc32(body).to_le_bytes());
    let mut enc = vec![0u8; cobs::max_encoding_length(raw.len())];
    let n = cobs::encode(&raw, &mut enc);
    out.extend_from_slice(&enc[..n]);
    out.push(0);
}

fuzz_target!(|data: &[u8]| {
    let mut stream = frame_to_vec(&Frame::Hello(HELLO));
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        let (body, more) = tail.split_at(n);
        // Record frames start with their tag (1); the fuzzer picks everything after it.
        let mut b = vec![1u8];
        b.extend_from_slice(body);
        framed(&b, &mut stream);
        rest = more;
    }
    let mut s = Session::new();
    let _ = s.feed(&stream, |_, _| {});
    s.finish(|_, _| {});
    let st = s.stats().clone();
    assert_eq!(st.bytes, stream.len() as u64, "every byte fed is counted");
    assert_eq!(st.truncated_bytes, 0, "every frame here has its delimiter");
    let sum = Summary::of(&s);
    if sum.clean() {
        assert_eq!(st.lost(), 0);
        assert_eq!(st.decode_errors, 0);
    }
    let _ = sum.text();
});
