//! CRC-32 (IEEE 802.3) appended to every frame before COBS.
//!
//! Why: COBS finds frame boundaries but not damaged bytes. A flipped bit inside a frame could still
//! decode to a plausible event with a wrong sequence number and corrupt the loss accounting; the
//! CRC turns every damaged frame into a counted decode error instead. The table is built at compile
//! time (1 KiB of rodata); the hypervisor computes it while draining, outside the trap path.

use postcard::ser_flavors::Flavor;

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

/// Running CRC-32 state.
#[derive(Clone, Copy, Debug)]
pub struct Crc32(u32);

impl Crc32 {
    pub const fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = TABLE[((self.0 ^ b as u32) & 0xFF) as usize] ^ (self.0 >> 8);
        }
    }

    pub const fn finish(self) -> u32 {
        !self.0
    }

    /// CRC-32 of `bytes`.
    pub fn of(bytes: &[u8]) -> u32 {
        let mut c = Self::new();
        c.update(bytes);
        c.finish()
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// postcard flavor that passes bytes on to `inner` and appends their CRC-32 (little endian).
pub struct CrcFlavor<B> {
    inner: B,
    crc: Crc32,
}

impl<B: Flavor> CrcFlavor<B> {
    pub fn new(inner: B) -> Self {
        CrcFlavor {
            inner,
            crc: Crc32::new(),
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
        self.inner.try_extend(&self.crc.finish().to_le_bytes())?;
        self.inner.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        // the standard CRC-32 check value
        assert_eq!(Crc32::of(b"123456789"), 0xCBF4_3926);
    }
}
