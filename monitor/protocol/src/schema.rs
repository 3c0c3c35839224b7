//! Identity of the format: magic, version and a schema hash computed from the wire types' source.
//!
//! Why hash the source text: a hand-maintained schema string drifts the day someone forgets to
//! update it. Hashing `wire.rs` itself (comments and whitespace stripped, so only tokens count)
//! makes the hash follow every change of a type, field, variant or order automatically, in a
//! `const fn`, with no build script. The price is that a mere rename also changes the hash; a
//! false "mismatch" is the safe direction. Changes to the *framing* (COBS, CRC, frame tags) are not
//! in `wire.rs`: they bump [`VERSION`], and the golden-bytes test in `encode.rs` catches them.

/// First four bytes of every [`crate::Hello`] payload.
pub const MAGIC: [u8; 4] = *b"HVTM";

/// Framing version; bump on any change outside `wire.rs` that alters the bytes on the wire.
pub const VERSION: u16 = 1;

/// Text whose tokens define the schema.
const WIRE_SOURCE: &str = include_str!("wire.rs");

/// FNV-1a hash of the wire types' source tokens; sent in the hello.
pub const SCHEMA_HASH: u64 = token_hash(WIRE_SOURCE.as_bytes());

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

/// FNV-1a over Rust source with `//` and `/* */` comments and all ASCII whitespace skipped.
///
/// Dropping whitespace entirely merges adjacent tokens (`pub struct` → `pubstruct`), which is fine
/// for a fingerprint. The wire file holds no string literals, so `//` inside strings is not handled.
pub const fn token_hash(src: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        if c == b'/' && i + 1 < src.len() && src[i + 1] == b'/' {
            while i < src.len() && src[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && i + 1 < src.len() && src[i + 1] == b'*' {
            i += 2;
            while i + 1 < src.len() && !(src[i] == b'*' && src[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else {
            if !c.is_ascii_whitespace() {
                h ^= c as u64;
                h = h.wrapping_mul(FNV_PRIME);
            }
            i += 1;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_layout_do_not_count() {
        let a = b"pub enum A { X, Y }";
        let b = b"/// doc\npub enum A {\n    // first\n    X, /* second */ Y,\n}";
        // trailing comma differs: tokens differ, so the hashes differ — as they should
        assert_ne!(token_hash(a), token_hash(b));
        let c = b"/// doc\npub enum A {\n    // first\n    X, /* second */ Y }";
        assert_eq!(token_hash(a), token_hash(c));
    }

    #[test]
    fn any_token_change_counts() {
        let base = token_hash(b"pub struct H { cpu: u16, seq: u32 }");
        assert_ne!(base, token_hash(b"pub struct H { seq: u32, cpu: u16 }"));
        assert_ne!(base, token_hash(b"pub struct H { cpu: u32, seq: u32 }"));
    }

    #[test]
    fn schema_hash_is_of_the_wire_file() {
        assert_eq!(SCHEMA_HASH, token_hash(include_bytes!("wire.rs")));
        assert_eq!(fnv1a(b""), FNV_OFFSET);
        // FNV-1a reference value for "a"
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
