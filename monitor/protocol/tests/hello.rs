//! A monitor refuses streams it cannot read, and says which side to rebuild.
mod common;

use common::*;
use hv_protocol::*;

/// Encodes `hello` with arbitrary identity fields (as another build would).
fn stream_with(hello: Hello<'_>) -> Vec<u8> {
    let mut bytes = frame_to_vec(&Frame::Hello(hello));
    bytes.extend(frame_to_vec(&Frame::Record(
        Header {
            cpu: 0,
            seq: 0,
            ts: 0,
        },
        Event::Dropped { count: 1 },
    )));
    bytes
}

fn refuse(hello: Hello<'_>) -> Mismatch {
    let mut d = StreamDecoder::new();
    let mut items = 0;
    let err = d.feed(&stream_with(hello), |_| items += 1).unwrap_err();
    assert_eq!(items, 0, "nothing is handed on from a refused stream");
    assert_eq!(d.feed(&[1, 2, 0], |_| {}), Err(err), "stays refused");
    err
}

#[test]
fn newer_hypervisor_version() {
    let m = refuse(Hello {
        version: VERSION + 1,
        ..HELLO
    });
    assert_eq!(
        m,
        Mismatch::Version {
            target: VERSION + 1,
            monitor: VERSION
        }
    );
    assert!(m.to_string().contains("hypervisor is newer"), "{m}");
}

#[test]
fn newer_monitor_version() {
    let m = refuse(Hello {
        version: VERSION - 1,
        ..HELLO
    });
    assert!(m.to_string().contains("monitor is newer"), "{m}");
}

#[test]
fn schema_mismatch() {
    let m = refuse(Hello {
        schema: SCHEMA_HASH ^ 1,
        ..HELLO
    });
    assert!(matches!(m, Mismatch::Schema { .. }));
    assert!(m.to_string().contains("different sources"), "{m}");
}

#[test]
fn wrong_magic() {
    let m = refuse(Hello {
        magic: *b"NOPE",
        ..HELLO
    });
    assert!(
        m.to_string().contains("not a hypervisor telemetry stream"),
        "{m}"
    );
}

#[test]
fn version_and_schema_checked_before_the_rest_is_parsed() {
    // A future hello may have other fields after the prefix; the prefix alone decides.
    let mut body = vec![0u8]; // frame tag: hello
    body.extend(MAGIC);
    body.extend(postcard::to_allocvec(&(VERSION + 7, 1u64)).unwrap());
    body.extend([0xff; 3]); // garbage a newer version might send
    let crc = crc32(&body).to_le_bytes();
    body.extend(crc);
    let mut framed = cobs(&body);
    framed.pop(); // delimiter
    assert_eq!(
        decode_frame(&mut framed),
        Err(FrameError::Hello(Mismatch::Version {
            target: VERSION + 7,
            monitor: VERSION
        }))
    );
}

#[test]
fn records_before_hello_are_skipped() {
    let (bytes, sent) = stream(5);
    let hello_len = frame_to_vec(&Frame::Hello(HELLO)).len();
    let mut d = StreamDecoder::new();
    let mut n = 0;
    d.feed(&bytes[hello_len..], |_| n += 1).unwrap();
    assert_eq!(n, 0);
    assert_eq!(d.stats().before_hello, sent.len() as u64);
}
