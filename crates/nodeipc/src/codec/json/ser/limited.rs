//! The serializers that accept only part of the serde data model: map keys,
//! and the text inside serde_json's `RawValue` / `Number` tokens. Both
//! accept and reject exactly what serde_json's (`MapKeySerializer`,
//! `RawValueStrEmitter`, `NumberStrEmitter`) do.

use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize};

use super::scalar::{
    write_display, write_double, write_i64, write_i128, write_int, write_str, write_u64, write_u128,
};
use super::{Result, Ser, Verbatim};
use crate::error::EncodeError;

/// The methods a limited serializer rejects with `self.reject()`.
macro_rules! reject {
    ($($name:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(
            fn $name(self, $(_: $arg),*) -> Result<$ret> {
                Err(self.reject())
            }
        )*
    };
}

/// Serializes a map key. JSON keys are strings: strings, chars and unit
/// variants are written as strings; integers, finite floats and bools are
/// written as they are written as values, between quotes (so a `u64` key
/// past 2^53 is the JS double's text, like the value would be); newtype
/// structs and `Some` are transparent. Anything else is an error.
pub(super) struct KeySer<'a> {
    pub(super) out: &'a mut Vec<u8>,
}

impl KeySer<'_> {
    fn quoted(self, write: impl FnOnce(&mut Vec<u8>)) -> Result {
        self.out.push(b'"');
        write(self.out);
        self.out.push(b'"');
        Ok(())
    }

    fn float(self, v: f64) -> Result {
        if v.is_finite() {
            self.quoted(|out| write_double(out, v))
        } else {
            Err(ser::Error::custom(
                "float key must be finite (got NaN or +/-inf)",
            ))
        }
    }

    fn reject(&self) -> EncodeError {
        ser::Error::custom("key must be a string")
    }
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Impossible<(), EncodeError>;
    type SerializeTuple = Impossible<(), EncodeError>;
    type SerializeTupleStruct = Impossible<(), EncodeError>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = Impossible<(), EncodeError>;
    type SerializeStruct = Impossible<(), EncodeError>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    #[inline]
    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result {
        v.serialize(self)
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.quoted(|out| out.extend_from_slice(if v { b"true" } else { b"false" }))
    }

    fn serialize_i8(self, v: i8) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i16(self, v: i16) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i32(self, v: i32) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_i64(self, v: i64) -> Result {
        self.quoted(|out| write_i64(out, v))
    }

    fn serialize_i128(self, v: i128) -> Result {
        self.quoted(|out| write_i128(out, v))
    }

    fn serialize_u8(self, v: u8) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u16(self, v: u16) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u32(self, v: u32) -> Result {
        self.quoted(|out| write_int(out, v))
    }

    fn serialize_u64(self, v: u64) -> Result {
        self.quoted(|out| write_u64(out, v))
    }

    fn serialize_u128(self, v: u128) -> Result {
        self.quoted(|out| write_u128(out, v))
    }

    fn serialize_f32(self, v: f32) -> Result {
        self.float(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result {
        self.float(v)
    }

    fn collect_str<T: Display + ?Sized>(self, v: &T) -> Result {
        ser::Serializer::collect_str(Ser { out: self.out }, v)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(self.reject())
    }

    reject! {
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeStructVariant;
    }
}

impl Verbatim<'_> {
    fn reject(&self) -> EncodeError {
        ser::Error::custom(if self.number {
            "invalid number"
        } else {
            "expected RawValue"
        })
    }
}

impl ser::Serializer for Verbatim<'_> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Impossible<(), EncodeError>;
    type SerializeTuple = Impossible<(), EncodeError>;
    type SerializeTupleStruct = Impossible<(), EncodeError>;
    type SerializeTupleVariant = Impossible<(), EncodeError>;
    type SerializeMap = Impossible<(), EncodeError>;
    type SerializeStruct = Impossible<(), EncodeError>;
    type SerializeStructVariant = Impossible<(), EncodeError>;

    fn serialize_str(self, v: &str) -> Result {
        self.out.extend_from_slice(v.as_bytes());
        Ok(())
    }

    fn collect_str<T: Display + ?Sized>(self, v: &T) -> Result {
        write_display(self.out, v, false)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
        Err(self.reject())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(self.reject())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(self.reject())
    }

    reject! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_i128(i128) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_u128(u128) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize)
            -> Self::SerializeStructVariant;
    }
}
