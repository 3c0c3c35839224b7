//! Byte counts and addresses as written in the descriptions.
//!
//! A value is either a TOML integer (`0x4000_0000`, `4096`) or a string with an optional
//! binary suffix (`"4K"`, `"16M"`, `"1G"`, `"2T"`, also `"4KiB"`, `"0x1000"`). Strings
//! exist because `1G` reads better than `0x4000_0000`; both spellings mean the same.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// 4 KiB: the translation granule, the minimum alignment of every region.
pub const KIB4: u64 = 0x1000;
/// 2 MiB: a level-2 block; VMs and the hypervisor are aligned to it when placed freely.
pub const MIB2: u64 = 0x20_0000;

/// A byte count or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(pub u64);

impl Size {
    /// The value in bytes.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Parses `"16M"`-style strings; `None` when the text is not a byte count.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().replace('_', "");
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits_end);
    let num: u64 = num.parse().ok()?;
    let suffix = suffix.trim();
    let suffix = suffix
        .strip_suffix("iB")
        .or_else(|| suffix.strip_suffix('B'))
        .unwrap_or(suffix);
    let shift = match suffix {
        "" => 0,
        "K" | "k" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    num.checked_mul(1u64 << shift)
}

/// Formats a byte count the way a human writes it (`16M`, `4K`, `0x1234`).
pub fn human(bytes: u64) -> String {
    for (shift, suffix) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if bytes != 0 && bytes.is_multiple_of(1u64 << shift) {
            return format!("{}{suffix}", bytes >> shift);
        }
    }
    format!("{bytes:#x}")
}

/// `true` when `value` is a multiple of `align` (a power of two).
pub fn is_aligned(value: u64, align: u64) -> bool {
    value & (align - 1) == 0
}

/// Rounds up to a multiple of `align` (a power of two); `None` on overflow.
pub fn align_up(value: u64, align: u64) -> Option<u64> {
    Some(value.checked_add(align - 1)? & !(align - 1))
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte count: an integer or a string like \"4K\", \"16M\", \"1G\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("size {v} is negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).ok_or_else(|| {
                    E::custom(format!(
                        "size \"{v}\" is not a byte count (use an integer or a string like \"4K\", \"16M\", \"1G\")"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_suffixes_and_hex() {
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("16M"), Some(16 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("4KiB"), Some(4096));
        assert_eq!(parse_size("0x4000_0000"), Some(0x4000_0000));
        assert_eq!(parse_size("15872K"), Some(15872 << 10));
        assert_eq!(parse_size("16Q"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn formats_for_humans() {
        assert_eq!(human(16 << 20), "16M");
        assert_eq!(human(4096), "4K");
        assert_eq!(human(0x1234), "0x1234");
        assert_eq!(human(0), "0x0");
    }

    #[test]
    fn aligns() {
        assert_eq!(align_up(1, KIB4), Some(KIB4));
        assert_eq!(align_up(MIB2, MIB2), Some(MIB2));
        assert_eq!(align_up(u64::MAX, KIB4), None);
        assert!(is_aligned(MIB2, KIB4));
    }
}
