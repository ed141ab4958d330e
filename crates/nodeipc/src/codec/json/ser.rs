//! The compact JSON `serde::Serializer` behind [`encode`](super::encode).
//!
//! It writes the bytes `serde_json::Serializer` wrote with our former
//! `JsFormatter` (kept in the tests as the oracle), for every input: the
//! serde data model is mapped exactly as serde_json maps it (including the
//! `RawValue` token, map keys, and the output for `Serialize` impls that
//! give a wrong length hint), numbers are written as ECMAScript's
//! `Number.prototype.toString` writes them, strings as `JSON.stringify`
//! escapes them.
//!
//! It exists for speed: serde_json's string escaping looks up every byte in
//! a table, and its `Formatter` cannot change that loop. Here strings are
//! scanned 32 bytes at a time (`ser/scalar.rs`; a loop the compiler
//! vectorises) and copied in one piece up to the next byte that needs
//! escaping.

use std::fmt::Display;
use std::sync::OnceLock;

use serde::ser::{self, Serialize};

use crate::error::EncodeError;
use scalar::{
    write_display, write_double, write_i64, write_i128, write_int, write_str, write_u64, write_u128,
};

type Result<T = ()> = std::result::Result<T, EncodeError>;

/// The struct name and field name with which `serde_json::value::RawValue`
/// serializes itself: its text is written verbatim.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The same for `serde_json::Number` when serde_json's
/// `arbitrary_precision` feature is on (see [`arbitrary_precision`]).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Appends the JSON text of `msg` to `out`. On error, `out` may hold part of
/// it: the caller truncates.
pub(super) fn write<T: Serialize + ?Sized>(msg: &T, out: &mut Vec<u8>) -> Result {
    msg.serialize(Ser { out })
}

// ---------------------------------------------------------------------------
// The serializer
// ---------------------------------------------------------------------------

/// The serializer of one value, writing to the end of `out`.
struct Ser<'a> {
    out: &'a mut Vec<u8>,
}

/// Where a compound value is: serde_json's `State`. `Empty` means the
/// closing bracket was written at the start (a length hint of 0).
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    First,
    Rest,
}

impl<'a> Ser<'a> {
    /// `{"variant":` — the start of the externally tagged enum variants.
    #[inline]
    fn begin_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
    }

    #[inline]
    fn begin(self, open: u8, close: u8, len: Option<usize>) -> Compound<'a> {
        self.out.push(open);
        let state = if len == Some(0) {
            self.out.push(close);
            State::Empty
        } else {
            State::First
        };
        Compound {
            out: self.out,
            state,
        }
    }
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Struct<'a>;
    type SerializeStructVariant = Compound<'a>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> Result {
        write_int(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> Result {
        write_int(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> Result {
        write_int(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result {
        write_i64(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_i128(self, v: i128) -> Result {
        write_i128(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result {
        write_int(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> Result {
        write_int(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> Result {
        write_int(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result {
        write_u64(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_u128(self, v: u128) -> Result {
        write_u128(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result {
        write_double(self.out, f64::from(v));
        Ok(())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result {
        write_double(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result {
        self.out.push(b'[');
        for (n, &b) in v.iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            write_int(self.out, b);
        }
        self.out.push(b']');
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }

    #[inline]
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.begin_variant(variant);
        value.serialize(Ser {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>> {
        Ok(self.begin(b'[', b']', len))
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    #[inline]
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    #[inline]
    fn serialize_tuple_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.begin_variant(variant);
        self.serialize_seq(Some(len))
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>> {
        Ok(self.begin(b'{', b'}', len))
    }

    #[inline]
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Struct<'a>> {
        if name == RAW_VALUE_TOKEN {
            Ok(Struct::Verbatim(Verbatim {
                out: self.out,
                number: false,
            }))
        } else if name == NUMBER_TOKEN && arbitrary_precision() {
            Ok(Struct::Verbatim(Verbatim {
                out: self.out,
                number: true,
            }))
        } else {
            self.serialize_map(Some(len)).map(Struct::Map)
        }
    }

    #[inline]
    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>> {
        self.begin_variant(variant);
        self.serialize_map(Some(len))
    }

    #[inline]
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        self.out.push(b'"');
        write_display(self.out, value, true)?;
        self.out.push(b'"');
        Ok(())
    }
}

/// Whether serde_json's `arbitrary_precision` feature is on (some crate in
/// the build may enable it). `serde_json::Number` then serializes as a
/// struct named [`NUMBER_TOKEN`] holding its text, which serde_json writes
/// verbatim; without the feature, a struct of that name is an ordinary one.
/// Only numbers keep their text as parsed with the feature on.
fn arbitrary_precision() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        serde_json::from_str::<serde_json::Number>("1.00")
            .and_then(|n| serde_json::to_string(&n))
            .is_ok_and(|text| text == "1.00")
    })
}

/// An array or object being written (everything but structs).
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    state: State,
}

impl Compound<'_> {
    /// The separator before an element or a key (serde_json writes one in
    /// state `Empty` too).
    #[inline]
    fn next(&mut self) {
        if self.state != State::First {
            self.out.push(b',');
        }
        self.state = State::Rest;
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.next();
        value.serialize(Ser {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result {
        self.next();
        write_str(self.out, key);
        self.out.push(b':');
        value.serialize(Ser {
            out: &mut *self.out,
        })
    }

    /// Closes the array or object (unless that was done at the start), then
    /// the variant's object if `variant`.
    #[inline]
    fn end(self, close: u8, variant: bool) -> Result {
        if self.state != State::Empty {
            self.out.push(close);
        }
        if variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result {
        self.end(b']', false)
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result {
        self.end(b']', false)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result {
        self.end(b']', false)
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result {
        self.end(b']', true)
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.next();
        key.serialize(limited::KeySer {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.out.push(b':');
        value.serialize(Ser {
            out: &mut *self.out,
        })
    }

    #[inline]
    fn end(self) -> Result {
        self.end(b'}', false)
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.field(key, value)
    }

    #[inline]
    fn end(self) -> Result {
        self.end(b'}', true)
    }
}

/// A struct being written: an object, or serde_json's `RawValue` (or
/// arbitrary-precision `Number`), whose text is written verbatim.
enum Struct<'a> {
    Map(Compound<'a>),
    Verbatim(Verbatim<'a>),
}

impl ser::SerializeStruct for Struct<'_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        match self {
            Struct::Map(c) => c.field(key, value),
            Struct::Verbatim(v) => {
                let token = if v.number {
                    NUMBER_TOKEN
                } else {
                    RAW_VALUE_TOKEN
                };
                if key == token {
                    value.serialize(Verbatim {
                        out: &mut *v.out,
                        number: v.number,
                    })
                } else if v.number {
                    Err(ser::Error::custom("invalid number"))
                } else {
                    Err(ser::Error::custom("expected value"))
                }
            }
        }
    }

    #[inline]
    fn end(self) -> Result {
        match self {
            Struct::Map(c) => c.end(b'}', false),
            Struct::Verbatim(_) => Ok(()),
        }
    }
}

/// Writes the text of a `RawValue` (or `Number`) as it is; anything but a
/// string is an error, as in serde_json.
struct Verbatim<'a> {
    out: &'a mut Vec<u8>,
    number: bool,
}

mod limited;
mod scalar;

#[cfg(test)]
mod tests;
