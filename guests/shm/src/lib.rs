//! The record format shared by `shm-producer` and `shm-consumer`.
//!
//! The region (64K at IPA 0x5000_0000 in both VMs) holds a header of 8 words — magic,
//! record count, checksum of all records — then `COUNT` records of 8 words: sequence
//! number, six payload words derived from it, and a checksum of the first seven.
#![no_std]

/// IPA of the shared region in both VMs.
pub const SHM: usize = 0x5000_0000;
/// Bytes of the region.
pub const SHM_SIZE: usize = 64 << 10;
/// Header magic ("SHMRING1").
pub const MAGIC: u64 = 0x3147_4e49_524d_4853;
/// Records written.
pub const COUNT: usize = 1000;
/// Words per record.
pub const WORDS: usize = 8;
/// Byte offset of record 0.
pub const RECORDS: usize = 64;

/// Payload word `k` of record `seq`.
pub fn payload(seq: u64, k: u64) -> u64 {
    let mut x =
        seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

/// Checksum of words.
pub fn checksum(words: &[u64]) -> u64 {
    words.iter().fold(0xcbf2_9ce4_8422_2325, |h, w| {
        (h ^ w).wrapping_mul(0x100_0000_01b3).rotate_left(5)
    })
}

/// Address of word `w` of record `i`.
pub fn word_addr(i: usize, w: usize) -> usize {
    SHM + RECORDS + (i * WORDS + w) * 8
}
