//! Number formatting shared by errors, the memory map and the emitted source.

/// `0x4000_0000`: hex with a `_` every four digits, as in the descriptions.
pub fn hex(v: u64) -> String {
    let digits = format!("{v:x}");
    let mut out = String::with_capacity(digits.len() + digits.len() / 4 + 2);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 4 == 0 {
            out.push('_');
        }
        out.push(c);
    }
    format!("0x{out}")
}

/// `0x4000_0000..0x4100_0000` for `size` bytes from `start`.
pub fn range(start: u64, size: u64) -> String {
    format!("{}..{}", hex(start), hex(start.saturating_add(size)))
}

/// `true` when `[a, a+asz)` and `[b, b+bsz)` share a byte.
pub fn overlaps(a: u64, asz: u64, b: u64, bsz: u64) -> bool {
    asz != 0 && bsz != 0 && a < b.saturating_add(bsz) && b < a.saturating_add(asz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_groups_by_four() {
        assert_eq!(hex(0x4000_0000), "0x4000_0000");
        assert_eq!(hex(0x1000), "0x1000");
        assert_eq!(hex(0x12_3456), "0x12_3456");
        assert_eq!(hex(0), "0x0");
    }

    #[test]
    fn overlap_is_half_open() {
        assert!(overlaps(0, 10, 9, 1));
        assert!(!overlaps(0, 10, 10, 1));
        assert!(!overlaps(0, 0, 0, 10));
    }
}
