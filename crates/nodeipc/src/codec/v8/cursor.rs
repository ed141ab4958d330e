//! The bytes under the value reader and the serde deserializer: varints,
//! doubles, length-checked slices, tags with their padding.

use super::tag;
use crate::error::DecodeError;
use crate::value::{BigInt, ViewKind};

pub(super) type Result<T> = std::result::Result<T, DecodeError>;

/// A position in a payload.
#[derive(Clone, Copy)]
pub(super) struct Cursor<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }

    fn end(&self) -> DecodeError {
        DecodeError::UnexpectedEnd {
            at: self.data.len(),
        }
    }

    /// Bytes after the position.
    pub(super) fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(super) fn byte(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(|| self.end())?;
        self.pos += 1;
        Ok(b)
    }

    /// A base-128 varint of at most 32 bits (5 bytes; non-canonical forms
    /// such as `82 80 00` are accepted, as V8 accepts them).
    pub(super) fn varint(&mut self) -> Result<u32> {
        let at = self.pos;
        let mut v: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| DecodeError::BadVarint { at });
            }
        }
        Err(DecodeError::BadVarint { at })
    }

    pub(super) fn zigzag(&mut self) -> Result<i32> {
        let u = self.varint()?;
        Ok((u >> 1) as i32 ^ -((u & 1) as i32))
    }

    /// `len` bytes; an error before anything is allocated if fewer are left.
    pub(super) fn take(&mut self, len: u32) -> Result<&'a [u8]> {
        let start = self.pos;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| self.end())?;
        self.pos = end;
        Ok(&self.data[start..end])
    }

    pub(super) fn double(&mut self) -> Result<f64> {
        let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        // No NaN canonicalization: V8 writes NaN payloads as they are.
        Ok(f64::from_le_bytes(b))
    }

    /// The next tag, skipping padding.
    pub(super) fn tag(&mut self) -> Result<u8> {
        loop {
            match self.byte()? {
                tag::PADDING => continue,
                t => return Ok(t),
            }
        }
    }

    /// The next tag and where it is, skipping padding, without consuming it.
    pub(super) fn peek_tag(&self) -> Option<(u8, usize)> {
        let skip = self.data[self.pos..]
            .iter()
            .position(|&b| b != tag::PADDING)?;
        Some((self.data[self.pos + skip], self.pos + skip + 1))
    }

    /// The tag of the next value, skipping padding and `?` (with its
    /// count), without consuming it.
    pub(super) fn value_tag(&mut self) -> Result<u8> {
        loop {
            match *self.data.get(self.pos).ok_or_else(|| self.end())? {
                tag::PADDING => self.pos += 1,
                tag::VERIFY_OBJECT_COUNT => {
                    self.pos += 1;
                    self.varint()?;
                }
                t => return Ok(t),
            }
        }
    }

    /// A BigInt's body (after `Z`): a bitfield (sign, byte length), then
    /// the digits.
    pub(super) fn bigint(&mut self) -> Result<BigInt> {
        let bitfield = self.varint()?;
        let digits = self.take(bitfield >> 1)?;
        Ok(BigInt::from_le_bytes(bitfield & 1 == 1, digits))
    }

    /// The bytes of a string of tag `t` (at `at`): Latin-1, UTF-16LE or
    /// UTF-8 by the tag.
    pub(super) fn string_bytes(&mut self, t: u8, at: usize) -> Result<&'a [u8]> {
        let len = self.varint()?;
        if t == tag::TWO_BYTE_STRING && len % 2 == 1 {
            return Err(DecodeError::InvalidValue {
                at,
                reason: "odd two-byte string length",
            });
        }
        self.take(len)
    }

    /// Node's ArrayBufferView host object, after `\ 00` (at `at`): type
    /// index, byte length, bytes. Node builds the view with
    /// `byteLength / BYTES_PER_ELEMENT` elements, dropping a partial one:
    /// so are the bytes returned.
    pub(super) fn view_bytes(&mut self, at: usize) -> Result<(ViewKind, &'a [u8])> {
        let kind = ViewKind::from_type_index(self.varint()?).ok_or(DecodeError::InvalidValue {
            at,
            reason: "unknown host object type index",
        })?;
        let len = self.varint()?;
        let bytes = self.take(len)?;
        let whole = bytes.len() - bytes.len() % kind.element_size();
        Ok((kind, &bytes[..whole]))
    }

    /// The version of a payload's header (`FF` and a varint), checked to be
    /// one this crate reads (13 to 15).
    pub(super) fn header(&mut self) -> Result<u32> {
        if self.data.first() != Some(&tag::VERSION) {
            return Err(DecodeError::UnsupportedVersion { found: None });
        }
        self.pos = 1;
        let version = self.varint()?;
        if !(13..=15).contains(&version) {
            return Err(DecodeError::UnsupportedVersion {
                found: Some(version),
            });
        }
        Ok(version)
    }
}
