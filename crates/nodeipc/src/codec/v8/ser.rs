//! The serde `Serializer` writing V8 bytes straight into the output, with
//! no [`Value`] in between: the bytes are those of
//! `write_value(&to_value(msg)?)`, byte for byte (the mapping is
//! [`to_value`]'s).
//!
//! Where it cannot tell the bytes from what it has seen so far, it gives
//! up on the innermost value it was handed whole (a field, an element, a
//! map entry's value, or the message): that value is rewound and written
//! through [`to_value`]. That happens for
//!
//! - a map with a key that makes no property key (a JS `Map` then: bool,
//!   non-integral float, compound or `Value` keys), with array-index keys
//!   out of order or after a name, or with a key written twice (JS keeps
//!   one, in the first one's place);
//! - a sequence of unknown length, or whose length was not the one
//!   announced (V8 writes the length first);
//! - `serde_json::value::RawValue`.
//!
//! A `Value` met inside the message (its `Serialize` impl hands it over
//! whole, see `value_impl.rs`) is written by the [`Writer`] that writes
//! everything else, so that object ids and back-references are numbered
//! across the whole message.

use std::fmt;

use itoa::Buffer as Itoa;
use serde::ser::{self, Impossible, Serialize};

use super::keys::Keys;
use super::tag;
use super::write::{Writer, count};
use crate::value::{
    MAX_INDEX, RAW_VALUE_TOKEN, VALUE_TOKEN, Value, int128, parse_index, take_slot, to_value,
    uint128,
};

/// Why the direct path stopped.
#[derive(Debug)]
pub(super) enum Error {
    /// It cannot vouch for the bytes of this value: the caller takes the
    /// `Value` path for it.
    Fallback,
    /// An error of the message's `Serialize` impl, or of the writer: the
    /// `Value` path reports it (with its own wording).
    Failed,
}

type Result<T = ()> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Fallback => "the value takes the Value path",
            Error::Failed => "the message does not serialize",
        })
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Error::Failed
    }
}

impl From<String> for Error {
    fn from(_: String) -> Self {
        Error::Failed
    }
}

/// Appends the encoding of `msg` to `out`, where the frame (or payload)
/// begins at `start`. On error, what was appended is the caller's to
/// remove.
pub(super) fn write<T: Serialize + ?Sized>(msg: &T, out: &mut Vec<u8>, start: usize) -> Result {
    let mut ser = Ser {
        w: Writer::new(out, start),
        keep: Vec::new(),
    };
    msg.serialize(&mut ser)
}

pub(super) struct Ser<'o> {
    w: Writer<'o>,
    /// The `Value`s written so far: the writer tells shared objects by
    /// address, so none may be freed (and its address reused) before the
    /// end of the message.
    keep: Vec<Value>,
}

impl Ser<'_> {
    /// `value`, one the caller was handed whole: directly, or through its
    /// `Value` if the direct path gives up on it.
    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        let mark = self.w.mark();
        match value.serialize(&mut *self) {
            Err(Error::Fallback) => {
                self.w.rewind(mark);
                let v = to_value(value).map_err(|_| Error::Failed)?;
                self.write_value(v)
            }
            other => other,
        }
    }

    fn write_value(&mut self, v: Value) -> Result {
        let written = self.w.write(&v);
        self.keep.push(v);
        Ok(written?)
    }

    /// An integer, as `to_value` maps it: a number if JS holds it exactly,
    /// else a BigInt.
    fn integer(&mut self, v: Value) -> Result {
        match v {
            Value::Number(n) => self.w.number(n),
            big => self.w.write(&big)?,
        }
        Ok(())
    }

    /// A property key, as a `JsObject` classifies it: an array index (a
    /// number on the wire) or a name.
    fn key(&mut self, keys: &mut Keys, name: &str) -> Result {
        match parse_index(name) {
            Some(i) => self.index_key(keys, i),
            None if keys.name(name.as_bytes()) => Ok(self.w.str(name)?),
            None => Err(Error::Fallback),
        }
    }

    fn index_key(&mut self, keys: &mut Keys, i: u32) -> Result {
        if !keys.index(i) {
            return Err(Error::Fallback);
        }
        self.w.index_key(i);
        Ok(())
    }

    /// `{ variant: …`: the externally tagged form of an enum variant.
    fn begin_variant(&mut self, variant: &str) -> Result {
        self.w.begin(tag::BEGIN_JS_OBJECT);
        self.key(&mut Keys::default(), variant)
    }

    fn end_object(&mut self, props: u32) {
        self.w.byte(tag::END_JS_OBJECT);
        self.w.varint(props);
        self.w.end();
    }

    fn begin_array(&mut self, len: usize) -> Result<u32> {
        let len = count(len, "array")?;
        self.w.begin(tag::BEGIN_DENSE_ARRAY);
        self.w.varint(len);
        Ok(len)
    }
}

impl<'a, 'o> ser::Serializer for &'a mut Ser<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Compound<'a, 'o>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Compound<'a, 'o>;
    type SerializeStructVariant = Compound<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result {
        self.w.byte(if v { tag::TRUE } else { tag::FALSE });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i32(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i32(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.w.number(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.integer(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result {
        self.integer(int128(v))
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_u32(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_u32(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.w.number(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.integer(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.integer(uint128(v))
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.w.number(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        Ok(self.w.str(v)?)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        Ok(self.w.buffer(v)?)
    }
    fn serialize_none(self) -> Result {
        self.w.byte(tag::UNDEFINED);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.w.byte(tag::NULL);
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result {
        if name == VALUE_TOKEN
            && let Some(v) = take_slot()
        {
            return self.write_value(v);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.begin_variant(variant)?;
        self.value(value)?;
        self.end_object(1);
        Ok(())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'o>> {
        let len = self.begin_array(len.ok_or(Error::Fallback)?)?;
        Ok(Compound::new(self, Shape::Array(len), false))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'o>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'o>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'o>> {
        self.begin_variant(variant)?;
        let len = self.begin_array(len)?;
        Ok(Compound::new(self, Shape::Array(len), true))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 'o>> {
        self.w.begin(tag::BEGIN_JS_OBJECT);
        Ok(Compound::new(self, Shape::Object, false))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a, 'o>> {
        if name == RAW_VALUE_TOKEN {
            return Err(Error::Fallback);
        }
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 'o>> {
        self.begin_variant(variant)?;
        self.w.begin(tag::BEGIN_JS_OBJECT);
        Ok(Compound::new(self, Shape::Object, true))
    }
}

/// What a [`Compound`] is writing.
enum Shape {
    /// A dense array of this announced length.
    Array(u32),
    /// An object.
    Object,
}

/// An array or object being written, and the variant object around it.
pub(super) struct Compound<'a, 'o> {
    ser: &'a mut Ser<'o>,
    shape: Shape,
    /// Elements or properties written.
    n: u32,
    keys: Keys,
    /// Inside `{ variant: … }`, to close after.
    variant: bool,
}

impl<'a, 'o> Compound<'a, 'o> {
    fn new(ser: &'a mut Ser<'o>, shape: Shape, variant: bool) -> Self {
        Compound {
            ser,
            shape,
            n: 0,
            keys: Keys::default(),
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.ser.value(value)?;
        self.n += 1;
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result {
        self.ser.key(&mut self.keys, key)?;
        self.element(value)
    }

    fn end(self) -> Result {
        match self.shape {
            Shape::Array(len) if len != self.n => return Err(Error::Fallback),
            Shape::Array(len) => {
                let w = &mut self.ser.w;
                w.byte(tag::END_DENSE_ARRAY);
                w.varint(0);
                w.varint(len);
                w.end();
            }
            Shape::Object => self.ser.end_object(self.n),
        }
        if self.variant {
            self.ser.end_object(1);
        }
        Ok(())
    }
}

macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.element(value)
            }
            fn end(self) -> Result {
                Compound::end(self)
            }
        }
    )*};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! structure {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result {
                self.field(key, value)
            }
            fn end(self) -> Result {
                Compound::end(self)
            }
        }
    )*};
}

structure!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(KeySer {
            ser: self.ser,
            keys: &mut self.keys,
        })
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.element(value)
    }
    fn end(self) -> Result {
        Compound::end(self)
    }
}

/// A map key: written as the property key `to_value` makes of it, or
/// [`Error::Fallback`] when the map is a JS `Map`.
struct KeySer<'a, 'o> {
    ser: &'a mut Ser<'o>,
    keys: &'a mut Keys,
}

/// An integer key is the key of its decimal text: an index up to
/// 2^32 - 2, else a name, as JS prints a safe integer and a BigInt.
impl KeySer<'_, '_> {
    fn signed(self, n: i128) -> Result {
        self.ser.key(self.keys, Itoa::new().format(n))
    }

    fn unsigned(self, n: u128) -> Result {
        self.ser.key(self.keys, Itoa::new().format(n))
    }
}

/// Key types that make a JS `Map` instead of an object.
macro_rules! map_keys {
    ($($method:ident($($arg:ty),*)),*) => {$(
        fn $method(self, $(_: $arg),*) -> Result {
            Err(Error::Fallback)
        }
    )*};
}

impl ser::Serializer for KeySer<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result {
        self.ser.key(self.keys, v)
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.signed(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.signed(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.signed(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.signed(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result {
        self.signed(v)
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.unsigned(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.unsigned(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.unsigned(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.unsigned(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.unsigned(v)
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.serialize_f64(v.into())
    }
    /// An integral float is a number key (`-0` is `"0"`); others are
    /// names JS prints its own way, or `Map` keys: the `Value` path's.
    fn serialize_f64(self, v: f64) -> Result {
        if v.fract() == 0.0 && (0.0..=f64::from(MAX_INDEX)).contains(&v) {
            return self.ser.index_key(self.keys, v as u32);
        }
        Err(Error::Fallback)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result {
        if name == VALUE_TOKEN {
            return Err(Error::Fallback);
        }
        value.serialize(self)
    }

    map_keys!(
        serialize_bool(bool),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str)
    );

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result {
        Err(Error::Fallback)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Error::Fallback)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Err(Error::Fallback)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Error::Fallback)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Error::Fallback)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Error::Fallback)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Err(Error::Fallback)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Error::Fallback)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    /// Whether `msg` is written without the `Value` path, anywhere in it.
    fn direct<T: Serialize + ?Sized>(msg: &T) -> bool {
        let mut out = Vec::new();
        let mut ser = Ser {
            w: Writer::new(&mut out, 0),
            keep: Vec::new(),
        };
        msg.serialize(&mut ser).is_ok()
    }

    #[derive(serde::Serialize)]
    struct Msg<'a> {
        id: u64,
        text: &'a str,
        #[serde(with = "bytes_field")]
        data: &'a [u8],
        list: Vec<Option<i32>>,
        map: BTreeMap<u32, &'a str>,
        value: Value,
    }

    /// Map entries in the order given.
    struct Entries(Vec<(&'static str, i32)>);

    impl Serialize for Entries {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    mod bytes_field {
        pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b)
        }
    }

    #[test]
    fn common_messages_are_written_directly() {
        let msg = Msg {
            id: u64::MAX,
            text: "h€llo",
            data: b"bytes",
            list: vec![Some(1), None],
            map: [(0, "a"), (7, "b")].into(),
            value: Value::object([("k", Value::from(1))]),
        };
        assert!(direct(&msg));
        assert!(direct(
            &serde_json::json!({"a": [1, 2.5, null], "b": {"c": "d"}})
        ));
        assert!(direct(&HashMap::from([("a", 1), ("b", 2)])));
        let fields: BTreeMap<String, u32> =
            (0..4096).map(|n| (format!("field{n:04}"), n)).collect();
        assert!(direct(&fields));
    }

    #[test]
    fn what_the_direct_path_leaves_to_the_value_path() {
        assert!(!direct(&HashMap::from([(true, 1)]))); // a Map
        assert!(!direct(&Entries(vec![("b", 1), ("b", 2)]))); // a repeated key
        assert!(!direct(&Entries(vec![("1", 1), ("0", 2)]))); // indices out of order
        assert!(!direct(&Entries(vec![("a", 1), ("0", 2)]))); // an index after a name
    }
}
