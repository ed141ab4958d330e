//! The bytes of scalars: numbers as ECMAScript's `Number.prototype.toString`
//! writes them, strings escaped as `JSON.stringify` escapes them.
//!
//! Strings are scanned 32 bytes at a time (a loop the compiler vectorises)
//! and runs of blocks with nothing to escape are copied in one piece, where
//! serde_json looks up every byte in a table.

use std::fmt::{self, Display};

use serde::ser;

use super::Result;

/// Largest integer a JS number holds exactly (2^53). Integers past it are
/// written as `JSON.stringify` writes the nearest double.
pub(super) const MAX_SAFE: u64 = 1 << 53;

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// A double as `Number.prototype.toString` writes it; `null` for NaN and
/// ±Infinity (what `JSON.stringify` writes for them).
#[inline]
pub(super) fn write_double(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(ryu_js::Buffer::new().format_finite(v).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// An integer in decimal. Callers check that JS holds it exactly.
#[inline]
pub(super) fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Exact up to 2^53, the nearest double's text beyond.
#[inline]
pub(super) fn write_u64(out: &mut Vec<u8>, v: u64) {
    if v <= MAX_SAFE {
        write_int(out, v);
    } else {
        write_double(out, v as f64);
    }
}

#[inline]
pub(super) fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v.unsigned_abs() <= MAX_SAFE {
        write_int(out, v);
    } else {
        write_double(out, v as f64);
    }
}

#[inline]
pub(super) fn write_u128(out: &mut Vec<u8>, v: u128) {
    match u64::try_from(v) {
        Ok(v) => write_u64(out, v),
        Err(_) => write_double(out, v as f64),
    }
}

#[inline]
pub(super) fn write_i128(out: &mut Vec<u8>, v: i128) {
    match i64::try_from(v) {
        Ok(v) => write_i64(out, v),
        Err(_) => write_double(out, v as f64),
    }
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

/// Bytes scanned at a time for "nothing to escape here".
const BLOCK: usize = 32;

/// For each byte: 0 if it is written as is, else the letter of its escape
/// (`u` for `\u00XX`). `"`, `\` and C0 controls only, as `JSON.stringify`.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Whether no byte of `block` needs escaping. Written without early exit
/// so that it compiles to a few vector compares.
#[inline]
fn block_is_clean(block: &[u8; BLOCK]) -> bool {
    let mut dirty = false;
    for &b in block {
        dirty |= (b < 0x20) | (b == b'"') | (b == b'\\');
    }
    !dirty
}

/// `b` in every byte of a `u64`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// The high bit of each byte of `w` (little-endian) set if that byte needs
/// escaping, and no other bit. Exact: no carry crosses a byte.
#[inline]
fn word_mask(w: u64) -> u64 {
    const LOW7: u64 = splat(0x7f);
    const HIGH: u64 = splat(0x80);
    // The high bit of each byte that is zero.
    let zero = |y: u64| !(((y & LOW7) + LOW7) | y) & HIGH;
    let control = !(((w & LOW7) + splat(0x60)) | w) & HIGH;
    control | zero(w ^ splat(b'"')) | zero(w ^ splat(b'\\'))
}

/// `s` between double quotes, escaped.
#[inline]
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    if bytes.len() < BLOCK {
        // Short strings (most keys): byte by byte, inlined.
        let mut done = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if ESCAPE[usize::from(b)] != 0 {
                done = write_escape(out, bytes, done, i);
            }
        }
        out.extend_from_slice(&bytes[done..]);
    } else {
        out.reserve(bytes.len() + 1);
        write_str_contents(out, s);
    }
    out.push(b'"');
}

/// `s` escaped, without quotes.
fn write_str_contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // bytes[done..] is not written yet, and needs no escaping up to the
    // block being looked at.
    let mut done = 0;
    let mut i = 0;
    while let Some(block) = bytes.get(i..i + BLOCK) {
        let block: &[u8; BLOCK] = block.try_into().expect("BLOCK bytes");
        if !block_is_clean(block) {
            // Find the bytes to escape 8 at a time.
            let masks: [u64; BLOCK / 8] = std::array::from_fn(|k| {
                word_mask(u64::from_le_bytes(
                    block[8 * k..8 * k + 8].try_into().expect("8 bytes"),
                ))
            });
            if masks.iter().map(|m| m.count_ones()).sum::<u32>() >= DENSE {
                out.extend_from_slice(&bytes[done..i]);
                write_dense(out, block);
                done = i + BLOCK;
            } else {
                for (k, mut mask) in masks.into_iter().enumerate() {
                    while mask != 0 {
                        let at = i + 8 * k + mask.trailing_zeros() as usize / 8;
                        mask &= mask - 1;
                        done = write_escape(out, bytes, done, at);
                    }
                }
            }
        }
        i += BLOCK;
    }
    while i < bytes.len() {
        if ESCAPE[usize::from(bytes[i])] != 0 {
            done = write_escape(out, bytes, done, i);
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[done..]);
}

/// Escapes in a block from which on [`write_dense`] is used.
const DENSE: u32 = 8;

/// A block with many escapes, escaped into a local buffer and appended at
/// once.
fn write_dense(out: &mut Vec<u8>, block: &[u8; BLOCK]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; BLOCK * 6];
    let mut n = 0;
    for &b in block {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            buf[n] = b;
            n += 1;
        } else if escape == b'u' {
            buf[n..n + 6].copy_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
            n += 6;
        } else {
            buf[n..n + 2].copy_from_slice(&[b'\\', escape]);
            n += 2;
        }
    }
    out.extend_from_slice(&buf[..n]);
}

/// Writes `bytes[done..at]`, then `bytes[at]` escaped; returns `at + 1`.
#[inline]
fn write_escape(out: &mut Vec<u8>, bytes: &[u8], done: usize, at: usize) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if at > done {
        out.extend_from_slice(&bytes[done..at]);
    }
    let b = bytes[at];
    match ESCAPE[usize::from(b)] {
        b'u' => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
        escape => out.extend_from_slice(&[b'\\', escape]),
    }
    at + 1
}

/// A [`fmt::Write`] that escapes what is written to it (`collect_str`), or
/// copies it verbatim.
struct FmtAdapter<'a> {
    out: &'a mut Vec<u8>,
    escape: bool,
}

impl fmt::Write for FmtAdapter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.escape {
            write_str_contents(self.out, s);
        } else {
            self.out.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }
}

/// Writes `value`'s `Display` text through a [`FmtAdapter`]. serde_json
/// panics if the `Display` impl fails on its own; this returns an error.
pub(super) fn write_display<T: Display + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
    escape: bool,
) -> Result {
    let mut w = FmtAdapter { out, escape };
    fmt::write(&mut w, format_args!("{value}"))
        .map_err(|_| ser::Error::custom("a Display implementation returned an error"))
}
