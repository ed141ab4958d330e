//! `BigInt`: sign and magnitude, in V8's digit layout.

use std::fmt;

/// A JavaScript `BigInt`: a sign and a magnitude of 64-bit little-endian
/// words (V8's digit layout on 64-bit hosts, so the wire bytes are copied as
/// they are). Always normalized: no high zero words, and zero is never
/// negative.
///
/// ```
/// use nodeipc::value::BigInt;
///
/// let n = BigInt::from(-(1i128 << 64));
/// assert_eq!(n.to_string(), "-18446744073709551616");
/// assert_eq!(n.magnitude(), &[0, 1]);
/// assert_eq!(n.to_i128(), Some(-(1 << 64)));
/// assert_eq!(format!("{:?}", BigInt::from(123u8)), "123n");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct BigInt {
    negative: bool,
    magnitude: Box<[u64]>,
}

/// Above this many words, `Debug` prints hex: decimal conversion is
/// quadratic, and a peer can send a 128 MiB BigInt.
const DEBUG_DECIMAL_WORDS: usize = 1024;

impl BigInt {
    /// Zero.
    pub fn zero() -> Self {
        BigInt::default()
    }

    /// A BigInt from its sign and magnitude words (least significant
    /// first); high zero words are dropped, and a zero is never negative.
    pub fn from_words(negative: bool, words: &[u64]) -> Self {
        let used = words.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        BigInt {
            negative: negative && used > 0,
            magnitude: words[..used].into(),
        }
    }

    /// A BigInt from its sign and little-endian magnitude bytes (any length:
    /// the last word is zero-padded, as V8 reads them).
    pub fn from_le_bytes(negative: bool, bytes: &[u8]) -> Self {
        let words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect();
        BigInt::from_words(negative, &words)
    }

    /// Whether it is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.magnitude.is_empty()
    }

    /// The magnitude, least significant word first (empty for zero).
    pub fn magnitude(&self) -> &[u64] {
        &self.magnitude
    }

    /// The value as an `i128`, if it fits.
    pub fn to_i128(&self) -> Option<i128> {
        let m = self.to_u128_magnitude()?;
        if self.negative {
            0i128.checked_sub_unsigned(m)
        } else {
            i128::try_from(m).ok()
        }
    }

    /// The value as a `u128`, if it fits.
    pub fn to_u128(&self) -> Option<u128> {
        if self.negative {
            return None;
        }
        self.to_u128_magnitude()
    }

    /// The value as an `i64`, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// The value as a `u64`, if it fits.
    pub fn to_u64(&self) -> Option<u64> {
        self.to_u128().and_then(|v| u64::try_from(v).ok())
    }

    fn to_u128_magnitude(&self) -> Option<u128> {
        match *self.magnitude {
            [] => Some(0),
            [lo] => Some(u128::from(lo)),
            [lo, hi] => Some(u128::from(hi) << 64 | u128::from(lo)),
            _ => None,
        }
    }

    fn write_hex(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        let mut words = self.magnitude.iter().rev();
        write!(f, "{sign}0x{:x}", words.next().copied().unwrap_or(0))?;
        words.try_for_each(|w| write!(f, "{w:016x}"))
    }
}

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for BigInt {
            fn from(v: $t) -> Self {
                let v = v as u128;
                BigInt::from_words(false, &[v as u64, (v >> 64) as u64])
            }
        }
    )*};
}
from_unsigned!(u8, u16, u32, u64, u128, usize);

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for BigInt {
            fn from(v: $t) -> Self {
                let m = (v as i128).unsigned_abs();
                BigInt::from_words(v < 0, &[m as u64, (m >> 64) as u64])
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64, i128, isize);

impl fmt::Display for BigInt {
    /// Decimal, as JS `String(n)` (quadratic in the length).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19
        if self.negative {
            f.write_str("-")?;
        }
        let mut rest: Vec<u64> = self.magnitude.to_vec();
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let mut rem = 0u128;
            for w in rest.iter_mut().rev() {
                let cur = rem << 64 | u128::from(*w);
                *w = (cur / u128::from(CHUNK)) as u64;
                rem = cur % u128::from(CHUNK);
            }
            chunks.push(rem as u64);
            while rest.last() == Some(&0) {
                rest.pop();
            }
        }
        match chunks.split_last() {
            None => f.write_str("0"),
            Some((first, lower)) => {
                write!(f, "{first}")?;
                lower.iter().rev().try_for_each(|c| write!(f, "{c:019}"))
            }
        }
    }
}

impl fmt::Debug for BigInt {
    /// As JS source: `123n` (hex, `0x…n`, past 1024 words).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.magnitude.len() > DEBUG_DECIMAL_WORDS {
            self.write_hex(f)?;
        } else {
            fmt::Display::fmt(self, f)?;
        }
        f.write_str("n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_zero_and_high_words() {
        assert_eq!(BigInt::from_words(true, &[0, 0]), BigInt::zero());
        assert_eq!(
            BigInt::from_le_bytes(false, &[1, 0, 0, 0, 0, 0, 0, 0, 0]),
            1u8.into()
        );
        assert_eq!(
            BigInt::from_le_bytes(false, &[0, 0, 0, 0, 0, 0, 0, 0, 2]).magnitude(),
            &[0, 2]
        );
    }

    #[test]
    fn decimal_and_conversions() {
        assert_eq!(BigInt::zero().to_string(), "0");
        assert_eq!(BigInt::from(u128::MAX).to_string(), u128::MAX.to_string());
        assert_eq!(BigInt::from(i128::MIN).to_string(), i128::MIN.to_string());
        assert_eq!(BigInt::from(i128::MIN).to_i128(), Some(i128::MIN));
        assert_eq!(BigInt::from(-1).to_u64(), None);
        assert_eq!(BigInt::from(u64::MAX).to_i64(), None);
        let big = BigInt::from_words(false, &[0, 0, 1]);
        assert_eq!(big.to_string(), "340282366920938463463374607431768211456");
        assert_eq!(big.to_u128(), None);
    }

    #[test]
    fn huge_debug_is_hex() {
        let words = vec![1u64; DEBUG_DECIMAL_WORDS + 1];
        let s = format!("{:?}", BigInt::from_words(true, &words));
        assert!(s.starts_with("-0x10000000000000001") && s.ends_with("1n"));
    }
}
