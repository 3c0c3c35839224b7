//! Every event and the hello survive encode → decode unchanged.
mod common;

use common::*;
use hv_protocol::*;

#[test]
fn every_event_round_trips() {
    for (i, e) in every_event().into_iter().enumerate() {
        let h = Header {
            cpu: 3,
            seq: i as u32 * 1000,
            ts: 1 << 40,
        };
        let mut buf = [0u8; max_record_len(64)];
        let framed = encode_record(h, &e, &mut buf).unwrap();
        assert_eq!(framed.last(), Some(&0), "delimiter");
        assert!(
            !framed[..framed.len() - 1].contains(&0),
            "COBS removes zeros"
        );
        let n = framed.len() - 1;
        let mut copy = framed[..n].to_vec();
        assert_eq!(decode_frame(&mut copy).unwrap(), Decoded::Record(h, e));
        // kind indices match the variant index on the wire (tag after the header)
        assert_eq!(e.kind_index(), i as u32);
        assert!(e.kind_index() < EVENT_KINDS);
    }
    assert_eq!(every_event().len() as u32, EVENT_KINDS);
}

#[test]
fn hello_round_trips() {
    let mut buf = [0u8; max_hello_len(64)];
    let framed = encode_hello(&HELLO, &mut buf).unwrap();
    let n = framed.len() - 1;
    let mut copy = framed[..n].to_vec();
    let Decoded::Hello(h) = decode_frame(&mut copy).unwrap() else {
        panic!("not a hello")
    };
    assert_eq!(h, HELLO);
    assert_eq!(h.vm_name(1), Some("rtos"));
    assert_eq!(h.vm_of_vcpu(2), Some(1));
    assert_eq!(h.feature_list().collect::<Vec<_>>(), ["shadow-paging"]);
    assert!(h.check().is_ok());
}

#[test]
fn postcard_to_slice_cobs_compatible_body() {
    // The frame body is plain postcard: a frame without CRC is rejected, not misread.
    let f = Frame::Record(
        Header {
            cpu: 0,
            seq: 0,
            ts: 0,
        },
        Event::Dropped { count: 1 },
    );
    let mut buf = [0u8; 64];
    let plain = postcard::to_slice_cobs(&f, &mut buf).unwrap();
    let n = plain.len() - 1;
    assert_eq!(decode_frame(&mut plain[..n]), Err(FrameError::Crc));
}

#[test]
fn unknown_event_kind_is_counted_and_skipped() {
    // Hand-build a record whose event tag (42) is newer than this build.
    let h = Header {
        cpu: 0,
        seq: 0,
        ts: 5,
    };
    let mut body = vec![1u8]; // frame tag: record
    body.extend(postcard::to_allocvec(&h).unwrap());
    body.extend([42, 7, 7, 7]); // unknown tag and some fields
    let crc = crc32(&body).to_le_bytes();
    body.extend(crc);
    let framed = cobs(&body);

    let mut bytes = frame_to_vec(&Frame::Hello(HELLO));
    bytes.extend(&framed);
    bytes.extend(frame_to_vec(&Frame::Record(
        Header {
            cpu: 0,
            seq: 1,
            ts: 6,
        },
        Event::Dropped { count: 2 },
    )));
    let mut d = StreamDecoder::new();
    let mut unknown = 0;
    d.feed(&bytes, |item| {
        if let Decoded::Unknown { tag, .. } = item {
            assert_eq!(tag, 42);
            unknown += 1;
        }
    })
    .unwrap();
    assert_eq!(unknown, 1);
    let s = d.stats();
    assert_eq!(
        (
            s.unknown_kinds,
            s.decode_errors,
            s.seq_lost,
            s.dropped_reported
        ),
        (1, 0, 0, 2)
    );
}
