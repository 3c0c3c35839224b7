//! What the balloon guests share: the pool's index and notification INTID, and the
//! memory checks (a pattern written into blocks, zeros read back from blocks received,
//! an access after release that must fault).
//!
//! Every check touches one word per `STRIDE` bytes of each block: enough to see a
//! block that was not scrubbed, or the wrong block mapped, without reading megabytes
//! per round with the MMU (and caches) off.
#![cfg_attr(target_os = "none", no_std)]

/// The pool (index in the system's `[[elastic]]` list).
pub const POOL: u64 = 0;
/// Bytes between two checked words: one per 4 KiB page (the granule a wrong or stale
/// mapping would show in).
pub const STRIDE: u64 = 4096;

/// Word value of pattern `seed` at address `a`.
pub fn pattern(seed: u64, a: u64) -> u64 {
    (a ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).rotate_left(17) | 1
}

/// Writes pattern `seed` into window blocks `from..to` (the first and last word of
/// every page). They must be mapped: a fault here ends the guest.
pub fn fill(ipa: u64, bs: u64, from: u64, to: u64, seed: u64) -> bool {
    let mut a = ipa + from * bs;
    while a < ipa + to * bs {
        for w in [a, a + STRIDE - 8] {
            // SAFETY: the caller holds these blocks: the window maps them in its RAM view.
            unsafe { core::ptr::write_volatile(w as *mut u64, pattern(seed, w)) };
        }
        a += STRIDE;
    }
    true
}

/// Whether window blocks `from..to` hold pattern `seed` (`None`: zeros). They must
/// be mapped, as for [`fill`].
pub fn holds(ipa: u64, bs: u64, from: u64, to: u64, seed: Option<u64>) -> bool {
    let mut a = ipa + from * bs;
    let mut ok = true;
    while a < ipa + to * bs {
        for w in [a, a + 8, a + STRIDE - 8] {
            let want = match seed {
                Some(s) if w != a + 8 => pattern(s, w),
                Some(_) => continue,
                None => 0,
            };
            // SAFETY: as in `fill`.
            ok &= unsafe { core::ptr::read_volatile(w as *const u64) } == want;
        }
        a += STRIDE;
    }
    ok
}

/// Whether every block of `from..to` faults when read (unmapped).
#[cfg(target_arch = "aarch64")]
pub fn unmapped(ipa: u64, bs: u64, from: u64, to: u64) -> bool {
    (from..to).all(|b| guest_rt::probe::read64((ipa + b * bs) as usize).is_err())
}
