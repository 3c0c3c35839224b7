//! CRC-32 appended to every frame before COBS: CRC-32/ISO-HDLC (the IEEE 802.3 / zlib one:
//! reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF), sent little endian.
//!
//! Why: COBS finds frame boundaries but not damaged bytes. A flipped bit inside a frame could still
//! decode to a plausible event with a wrong sequence number and corrupt the loss accounting; the
//! CRC turns every damaged frame into a counted decode error instead. The `crc` crate builds its
//! table at compile time (1 KiB of rodata); the hypervisor computes it while draining, outside the
//! trap path. The encoder appends it with postcard's own CRC flavor (`CrcModifier`, little endian).

use crc::{CRC_32_ISO_HDLC, Crc};

/// The frame CRC's algorithm.
pub static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// 1024 bytes with zeros, 0xFF and every other value (a multiplicative hash of the index).
    fn pattern() -> Vec<u8> {
        (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    #[test]
    fn check_value() {
        // the standard CRC-32 check value
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    /// Values of the table-driven CRC-32 the protocol computed by hand up to wire format 1
    /// (recorded from it before it was replaced): the bytes on the wire stay the same.
    #[test]
    fn same_as_previous_implementation() {
        let data = pattern();
        for (n, crc) in [
            (0, 0x0000_0000),
            (1, 0xd202_ef8d),
            (4, 0x37e1_40ca),
            (253, 0x7962_a058),
            (254, 0xa711_2eb1),
            (255, 0x75c2_d8c2),
            (1024, 0x8b88_d290),
        ] {
            assert_eq!(crc32(&data[..n]), crc, "length {n}");
        }
        assert_eq!(crc32(&[0; 64]), 0x758d_6336);
        assert_eq!(crc32(&[0xff; 64]), 0x0f61_87ba);
        // every prefix length 0..=1024, folded into one word
        let fold = (0..=data.len()).fold(0u32, |f, n| f.rotate_left(5) ^ crc32(&data[..n]));
        assert_eq!(fold, 0xdbfe_80be);
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data = pattern();
        let mut d = CRC32.digest();
        for chunk in data.chunks(13) {
            d.update(chunk);
        }
        assert_eq!(d.finalize(), crc32(&data));
    }
}
