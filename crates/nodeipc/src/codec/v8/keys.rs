//! The keys of one object, as the serde serializer writes them and the
//! serde deserializer reads them: both go straight from bytes to bytes, and
//! must only vouch for objects whose `Value` would have the same keys in
//! the same order.
//!
//! A [`JsObject`](crate::value::JsObject) lists array indices first,
//! ascending, then names in insertion order, and holds a key once. An
//! object whose keys come in that order, each once, is read or written in
//! one pass; for any other the caller falls back to the `Value` path.

use std::collections::HashSet;

/// Names checked by comparing fingerprints one by one up to this many; a
/// hash set past it.
const SMALL: usize = 8;

/// The keys of one object so far.
#[derive(Default)]
pub(super) struct Keys {
    last_index: Option<u32>,
    names: usize,
    small: [u64; SMALL],
    large: Option<HashSet<u64>>,
}

impl Keys {
    /// Adds an array index: `false` unless it comes before every name and
    /// after a smaller index.
    pub(super) fn index(&mut self, i: u32) -> bool {
        let in_order = self.names == 0 && self.last_index.is_none_or(|last| last < i);
        self.last_index = Some(i);
        in_order
    }

    /// Adds a name (not an array index): `false` when it may have been seen
    /// already. Names are compared by fingerprint: two different names
    /// with the same one also give `false`, which only costs the fallback.
    pub(super) fn name(&mut self, name: &[u8]) -> bool {
        let fp = fingerprint(name);
        let n = self.names;
        self.names += 1;
        if let Some(set) = &mut self.large {
            return set.insert(fp);
        }
        if self.small[..n].contains(&fp) {
            return false;
        }
        if n < SMALL {
            self.small[n] = fp;
        } else {
            let mut set: HashSet<u64> = self.small.iter().copied().collect();
            set.insert(fp);
            self.large = Some(set);
        }
        true
    }
}

/// A 64-bit fingerprint of a key: 8 bytes at a time, each step
/// `h = (h ^ word) * M; h ^= h >> 32`, which is one-to-one in the word, so
/// keys of one length that differ in one word never collide (FxHash's
/// rotate-xor-multiply does, when they differ in the top bits of a word
/// and in the next one: `"field0001"`, `"field0010"`). Not
/// collision-resistant, and need not be: a collision sends the object to
/// the fallback, which compares the keys themselves; the hash set above
/// hashes fingerprints with std's keyed hasher.
fn fingerprint(b: &[u8]) -> u64 {
    const M: u64 = 0x9e37_79b9_7f4a_7c15;
    let step = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(M);
        h ^ (h >> 32)
    };
    let mut chunks = b.chunks_exact(8);
    let mut h = b.len() as u64;
    for c in &mut chunks {
        h = step(h, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    step(h, u64::from_le_bytes(tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_must_ascend_before_names() {
        let mut k = Keys::default();
        assert!(k.index(0) && k.index(7));
        assert!(!k.index(7));
        assert!(k.name(b"a"));
        assert!(!k.index(9));
    }

    #[test]
    fn repeated_names_are_caught_past_the_small_set() {
        let mut k = Keys::default();
        for i in 0..40u32 {
            assert!(k.name(format!("key{i}").as_bytes()), "{i}");
        }
        assert!(!k.name(b"key3"));
        assert!(!k.name(b"key39"));
        let mut k = Keys::default();
        assert!(k.name(b"ab") && k.name(b"abcdefghij"));
        assert!(!k.name(b"ab"));
    }

    #[test]
    fn numbered_keys_have_distinct_fingerprints() {
        let mut seen = HashSet::new();
        for n in 0..100_000 {
            for key in [format!("field{n:04}"), format!("k{n}"), format!("{n:016}x")] {
                assert!(seen.insert(fingerprint(key.as_bytes())), "{key}");
            }
        }
    }
}
