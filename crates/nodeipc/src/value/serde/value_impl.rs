//! `impl Serialize for Value` and `impl Deserialize for Value`.
//!
//! With [`to_value`](super::to_value) / [`from_value`](super::from_value)
//! a `Value` (also one nested in a struct) passes through unchanged:
//! `Value::serialize` and `Value::deserialize` announce themselves with a
//! newtype struct named [`VALUE_TOKEN`], and our serializer / deserializer
//! then hand the value over whole through a thread-local slot (serde has no
//! other way to pass a foreign type through its data model). Every other
//! serializer or deserializer sees the ordinary mapping of the
//! parent module, which is lossy for what serde has no shape for.

use std::cell::RefCell;
use std::fmt;

use ::serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use ::serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use bytes::Bytes;

use super::build::{int128, map_value, uint128};
use crate::value::{Key, Primitive, Value};

/// The newtype-struct name of a whole `Value` passing through.
pub(crate) const VALUE_TOKEN: &str = "$nodeipc::private::Value";

thread_local! {
    /// The `Value` in transit between `Value::serialize` and our
    /// serializer, or between our deserializer and `Value::deserialize`.
    static SLOT: RefCell<Option<Value>> = const { RefCell::new(None) };
}

/// Puts `v` in the slot for the duration of `f`.
pub(crate) fn with_slot<R>(v: Value, f: impl FnOnce() -> R) -> R {
    let previous = SLOT.replace(Some(v));
    let r = f();
    SLOT.set(previous);
    r
}

/// Takes the value from the slot, if one is in transit.
pub(crate) fn take_slot() -> Option<Value> {
    SLOT.take()
}

impl Serialize for Value {
    /// Whole through [`to_value`](super::to_value); for other serializers
    /// the mapping of [`to_value`](crate::value::to_value): `undefined` → none,
    /// `null` → unit, safe integers → `i64`, other numbers → `f64`, BigInts
    /// → the smallest of `u64`/`i64`/`u128`/`i128` that holds them (an error
    /// past 128 bits), strings (lone surrogates → U+FFFD), arrays → sequences
    /// (holes → none, named properties dropped), objects and Maps → maps,
    /// Sets → sequences, Dates → `f64` ms, boxed primitives → the primitive,
    /// Buffers / typed arrays / ArrayBuffers → bytes. RegExps, Errors and
    /// [`Value::Circular`] are errors.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        with_slot(self.clone(), || {
            serializer.serialize_newtype_struct(VALUE_TOKEN, &Plain(self))
        })
    }
}

/// A value serialized with the plain serde mapping.
struct Plain<'a>(&'a Value);

fn number<S: Serializer>(n: f64, s: S) -> Result<S::Ok, S::Error> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE && !(n == 0.0 && n.is_sign_negative()) {
        s.serialize_i64(n as i64)
    } else {
        s.serialize_f64(n)
    }
}

fn bigint<S: Serializer>(b: &crate::value::BigInt, s: S) -> Result<S::Ok, S::Error> {
    if let Some(n) = b.to_u64() {
        s.serialize_u64(n)
    } else if let Some(n) = b.to_i64() {
        s.serialize_i64(n)
    } else if let Some(n) = b.to_u128() {
        s.serialize_u128(n)
    } else if let Some(n) = b.to_i128() {
        s.serialize_i128(n)
    } else {
        Err(ser::Error::custom(format_args!(
            "BigInt {b} does not fit 128 bits"
        )))
    }
}

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Undefined => s.serialize_none(),
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) | Value::Double(n) => number(*n, s),
            Value::BigInt(b) => bigint(b, s),
            Value::String(str) => s.serialize_str(&str.to_string_lossy()),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for item in a.iter() {
                    seq.serialize_element(&item.map(Plain))?;
                }
                seq.end()
            }
            Value::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (key, value) in o.iter() {
                    match key {
                        Key::Index(i) => map.serialize_entry(&i.to_string(), &Plain(value))?,
                        Key::Name(n) => map.serialize_entry(&n.to_string_lossy(), &Plain(value))?,
                    }
                }
                map.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (key, value) in m.entries() {
                    map.serialize_entry(&Plain(key), &Plain(value))?;
                }
                map.end()
            }
            Value::Set(set) => {
                let mut seq = s.serialize_seq(Some(set.len()))?;
                for item in set.values() {
                    seq.serialize_element(&Plain(item))?;
                }
                seq.end()
            }
            Value::Date(d) => s.serialize_f64(d.time()),
            Value::Boxed(p) => match &**p {
                Primitive::Boolean(b) => s.serialize_bool(*b),
                Primitive::Number(n) => number(*n, s),
                Primitive::BigInt(b) => bigint(b, s),
                Primitive::String(str) => s.serialize_str(&str.to_string_lossy()),
            },
            Value::ArrayBuffer(b) => s.serialize_bytes(b.bytes()),
            Value::View(v) => s.serialize_bytes(v.bytes()),
            Value::RegExp(_) => Err(ser::Error::custom("a JS RegExp has no serde form")),
            Value::Error(_) => Err(ser::Error::custom("a JS Error has no serde form")),
            Value::Circular(_) => Err(ser::Error::custom("a circular reference has no serde form")),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Whole through [`from_value`](super::from_value); from other
    /// deserializers: unit → `null`, none → `undefined`, integers as
    /// [`to_value`](super::to_value) maps them, floats → numbers, strings,
    /// bytes → Buffer, sequences → arrays, maps → objects (or a `Map` when
    /// a key is not a string or an integer).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_newtype_struct(VALUE_TOKEN, ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match take_slot() {
            Some(v) => Ok(v),
            None => d.deserialize_any(self),
        }
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(int128(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(uint128(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::buffer(Bytes::copy_from_slice(v)))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::buffer(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Undefined)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::from(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(entry) = map.next_entry::<Value, Value>()? {
            entries.push(entry);
        }
        Ok(map_value(entries))
    }
}
