//! CRC-32 appended to every frame before COBS: CRC-32/ISO-HDLC (the IEEE 802.3 / zlib one:
//! reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF), sent little endian.
//!
//! Why: COBS finds frame boundaries but not damaged bytes. A flipped bit inside a frame could still
//! decode to a plausible event with a wrong sequence number and corrupt the loss accounting; the
//! CRC turns every damaged frame into a counted decode error instead. The `crc` crate builds its
//! table at compile time (1 KiB of rodata); the hypervisor computes it while draining, outside the
//! trap path.

use crc::{CRC_32_ISO_HDLC, Crc, Digest};
use postcard::ser_flavors::Flavor;

/// The frame CRC's algorithm.
pub static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// postcard flavor that passes bytes on to `inner` and appends their CRC-32 (little endian).
pub struct CrcFlavor<B> {
    inner: B,
    crc: Digest<'static, u32>,
}

impl<B: Flavor> CrcFlavor<B> {
    pub fn new(inner: B) -> Self {
        CrcFlavor {
            inner,
            crc: CRC32.digest(),
        }
    }
}

impl<B: Flavor> Flavor for CrcFlavor<B> {
    type Output = B::Output;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.crc.update(&[data]);
        self.inner.try_push(data)
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.crc.update(data);
        self.inner.try_extend(data)
    }

    fn finalize(mut self) -> postcard::Result<Self::Output> {
        self.inner.try_extend(&self.crc.finalize().to_le_bytes())?;
        self.inner.finalize()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// The table-driven CRC-32 the protocol computed by hand before (wire format 1), kept
    /// to show that the crate's algorithm gives the same bytes on the wire.
    mod previous {
        const POLY: u32 = 0xEDB8_8320;

        const TABLE: [u32; 256] = {
            let mut t = [0u32; 256];
            let mut i = 0;
            while i < 256 {
                let mut c = i as u32;
                let mut k = 0;
                while k < 8 {
                    c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
                    k += 1;
                }
                t[i] = c;
                i += 1;
            }
            t
        };

        pub fn of(bytes: &[u8]) -> u32 {
            let mut c = 0xFFFF_FFFFu32;
            for &b in bytes {
                c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
            }
            !c
        }
    }

    #[test]
    fn check_value() {
        // the standard CRC-32 check value
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn same_as_previous_implementation() {
        // lengths 0..=1024 of a byte pattern with zeros, 0xFF and runs
        let data: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for n in 0..=data.len() {
            assert_eq!(crc32(&data[..n]), previous::of(&data[..n]), "length {n}");
        }
        for b in 0..=255u8 {
            assert_eq!(crc32(&[b; 7]), previous::of(&[b; 7]));
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut d = CRC32.digest();
        for chunk in data.chunks(13) {
            d.update(chunk);
        }
        assert_eq!(d.finalize(), crc32(&data));
    }
}
