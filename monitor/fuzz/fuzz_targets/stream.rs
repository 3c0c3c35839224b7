//! Any byte stream, cut into two chunks where its first byte says (as a transport may
//! deliver it), through a [`Session`] and its summary — what every `hvmon` command does.
//! Beyond "no panic": every byte fed is counted, a stream that ends inside a frame says so,
//! and a summary reports itself clean only when nothing was lost or undecodable.
#![no_main]

use hvmon::{Session, Summary};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = match data.first() {
        Some(&b) => (b as usize * data.len()) / 256,
        None => 0,
    };
    let mut s = Session::new();
    let mut updates = 0u64;
    let _ = s.feed(&data[..cut], |_, _| updates += 1);
    let _ = s.feed(&data[cut..], |_, _| updates += 1);
    s.finish(|_, _| updates += 1);
    let st = s.stats().clone();
    assert_eq!(st.bytes, data.len() as u64, "every byte fed is counted");
    assert!(st.truncated_bytes <= st.bytes);
    assert!(st.crc_errors <= st.decode_errors);
    assert!(
        st.frames + st.decode_errors <= st.bytes,
        "a frame is at least a byte"
    );
    let sum = Summary::of(&s);
    if sum.clean() {
        assert_eq!(st.lost(), 0);
        assert_eq!(st.decode_errors, 0);
        assert_eq!(st.truncated_bytes, 0);
    }
    let _ = sum.text();
    let _ = updates;
});
