//! serde on the JS value model: [`to_value`] and [`from_value`], so that one
//! `#[derive(Serialize, Deserialize)]` type goes over the `advanced`
//! serialization (`T → to_value → v8::encode`, and
//! `frame → Value → from_value → T`) as it goes over `json`.
//!
//! Enums are externally tagged and structs are objects, as serde_json
//! writes them: a type that a Node peer reads as JSON reads the same as a JS
//! value.
//!
//! The mapping is documented on [`to_value`] (Rust → JS) and [`from_value`]
//! (JS → Rust).

mod build;
mod de;
mod ser;
#[cfg(test)]
mod tests;
mod value_impl;

use ::serde::{Deserialize, Serialize, de::DeserializeOwned};

pub(crate) use build::{int128, uint128};
pub(crate) use de::{KeyDe, MAX_NESTING, visit_bigint, visit_byte_seq, visit_number};
pub(crate) use ser::RAW_VALUE_TOKEN;
pub(crate) use value_impl::{VALUE_TOKEN, take_slot, with_slot};

use super::Value;
use crate::error::EncodeError;
use crate::limits::Limits;

/// The JS value of `value`.
///
/// # Mapping
///
/// | serde | `Value` |
/// |---|---|
/// | `bool` | `Bool` |
/// | `i8`..`i64`, `u8`..`u64`, `i128`, `u128` with \|n\| ≤ 2^53 − 1 | `Number` (V8 writes those fitting int32 as `I`) |
/// | integers past ±(2^53 − 1) | `BigInt`: a JS number would round them; the peer sees a `bigint` |
/// | `f32`, `f64` | `Number` (`f32` widened: `0.1f32` is `0.10000000149011612`) |
/// | `char`, `str` | `String` |
/// | bytes (`serialize_bytes`: `serde_bytes`, `bytes::Bytes`) | a Node `Buffer` |
/// | `Vec<u8>`, `[u8; N]` (serialized as sequences by serde) | an array of numbers |
/// | `None` | `undefined` (an absent optional; reads back as `None`) |
/// | `Some(x)` | `x` |
/// | `()`, unit struct | `null` |
/// | unit variant | the variant name as a string |
/// | newtype struct | the inner value |
/// | newtype variant | `{ name: inner }` |
/// | sequence, tuple, tuple struct | a dense (packed) array |
/// | tuple variant | `{ name: [..] }` |
/// | map | an object when every key is a string, an integral number or a BigInt (integer keys become the property keys JS makes of them: `1` → index `1`, `-1` → `"-1"`); otherwise (bool, float, `None`, compound keys…) a `Map` of the key values |
/// | struct | an object, fields in order |
/// | struct variant | `{ name: { .. } }` |
/// | `serde_json::value::RawValue` | its JSON text parsed as `JSON.parse` would |
///
/// A plain `Vec<u8>` is an array of numbers, not a Buffer: serde hands a
/// serializer a `Vec<u8>` as a sequence of `u8`s, the same calls as for any
/// sequence whose items serialize as `u8`, and an empty one is the same as
/// any empty sequence, so a mapping by content would make the JS type
/// depend on the data (`[]` when empty, a Buffer otherwise). Mark the field
/// `#[serde(with = "serde_bytes")]`, or use `bytes::Bytes` or
/// `serde_bytes::ByteBuf`, for a Buffer. Reading is lenient: a Buffer,
/// typed array or ArrayBuffer reads into a `Vec<u8>` too.
///
/// ```
/// use nodeipc::value::{to_value, Value};
///
/// #[derive(serde::Serialize)]
/// struct Msg { id: u64, tags: Option<Vec<String>> }
///
/// let v = to_value(&Msg { id: u64::MAX, tags: None })?;
/// assert!(matches!(v.get("id"), Some(Value::BigInt(_))));
/// assert_eq!(v.get("tags"), Some(&Value::Undefined));
/// # Ok::<(), nodeipc::EncodeError>(())
/// ```
///
/// # Errors
///
/// Only the errors `value`'s `Serialize` impl raises, and a
/// `serde_json::value::RawValue` holding invalid JSON.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, EncodeError> {
    value.serialize(ser::Ser)
}

/// A `T` read from `value`.
///
/// # Mapping
///
/// | `Value` | serde |
/// |---|---|
/// | `undefined`, `null` | unit; `None` for an `Option` |
/// | `Bool` | `bool` |
/// | `Number` | an integer (`u64` or `i64`) when integral and in range, else `f64` (`-0` is `f64`); integer fields take any integral number (`5.0` into `u32`), `-0` included |
/// | `BigInt` | `u64`/`i64`/`u128`/`i128`, whichever fits first; an error past 128 bits |
/// | `String` | `str` (borrowed); a lone surrogate becomes U+FFFD |
/// | Buffer, typed array, DataView, ArrayBuffer | bytes (borrowed); a sequence of `u8` when a sequence is asked for, so `Vec<u8>` fields take a Buffer |
/// | `Array` | sequence; holes read as `undefined`; extra named properties are ignored; a sparse array longer than 2^24 is an error |
/// | `Object` | map with string keys; integer, float and bool key types parse the key text (as serde_json does) |
/// | `Map` | map (keys deserialized as values) |
/// | `Set` | sequence |
/// | `Date` | `f64` (ms since the epoch) |
/// | boxed primitive | the primitive |
/// | `RegExp`, `Error`, [`Value::Circular`] | an error naming the JS type |
/// | enum | a string is a unit variant; an object with one property is the variant it names with its content |
///
/// # `Value` itself
///
/// [`Value`] implements `Serialize` and `Deserialize`. Through
/// [`to_value`] and [`from_value`] a `Value` — the whole message or a field
/// of a struct — passes through unchanged (BigInts, Dates, Maps, cycles and
/// all). With other serializers (serde_json…) it follows the mapping above
/// and is lossy: see [`Value`'s `Serialize` impl](Value#impl-Serialize-for-Value).
///
/// Takes the value by value for convenience; nothing is moved out of it
/// (its objects are shared `Arc`s): see [`from_value_ref`] to keep it, or
/// to borrow `&str` / `&[u8]` from it.
///
/// ```
/// use nodeipc::value::{from_value, Value};
///
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Msg { id: u32, data: Vec<u8> }
///
/// let v = Value::object([("id", Value::Number(5.0)), ("data", Value::buffer(&b"hi"[..]))]);
/// assert_eq!(from_value::<Msg>(v)?, Msg { id: 5, data: b"hi".to_vec() });
/// # Ok::<(), serde::de::value::Error>(())
/// ```
///
/// # Errors
///
/// When `value` does not have the shape of `T`, or holds a JS type with
/// no serde equivalent (RegExp, Error, a cycle).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ::serde::de::value::Error> {
    from_value_ref(&value)
}

/// As [`from_value`], borrowing: `T` may borrow strings and bytes from
/// `value`.
///
/// # Errors
///
/// As [`from_value`].
pub fn from_value_ref<'de, T: Deserialize<'de>>(
    value: &'de Value,
) -> Result<T, ::serde::de::value::Error> {
    let size = value.held_bytes();
    from_value_limited(value, &Limits::default().with_max_message_len(size))
}

/// As [`from_value_ref`], producing no more than the read-out budget of a
/// message of [`max_message_len`](Limits::max_message_len) bytes under
/// `limits` ([`Limits::expansion_budget`]: [`max_expansion`](Limits::max_expansion)
/// × that size + 64 KiB, at 32 bytes per value produced plus its strings'
/// and buffers' bytes), and no more than
/// [`max_elements`](Limits::max_elements) values. The channels pass their
/// limits with `max_message_len` set to the message's length on the wire.
///
/// The bound is on what is read *out* of `value`, which can be far more
/// than `value` holds: a shared object is produced again at every place
/// it appears (a message of a few hundred bytes of back-references can
/// stand for 2^60 objects), and a sparse array's holes one by one (`None`
/// or unit each). Past the bound the deserialization fails; a message
/// without repeats or holes always fits. [`from_value`] and
/// [`from_value_ref`] use [`Limits::default`] with the size `value` holds
/// (shared objects counted once).
///
/// ```
/// use nodeipc::value::{from_value_limited, Value};
/// use nodeipc::Limits;
///
/// let shared = Value::array([1, 2, 3]);
/// let v = Value::array([shared.clone(), shared.clone(), shared]);
/// let limits = Limits::default().with_max_elements(12);
/// assert_eq!(from_value_limited::<Vec<Vec<u8>>>(&v, &limits).unwrap().len(), 3);
/// assert!(from_value_limited::<Vec<Vec<u8>>>(&v, &limits.with_max_elements(11)).is_err());
/// // A 100-level diamond: 2^100 arrays read out of a few kilobytes.
/// let mut diamond = Value::array([0]);
/// for _ in 0..100 {
///     diamond = Value::array([diamond.clone(), diamond]);
/// }
/// let err = nodeipc::value::from_value::<serde_json::Value>(diamond).unwrap_err();
/// assert!(err.to_string().contains("Limits::max_expansion"));
/// ```
///
/// # Errors
///
/// As [`from_value`], and when more would be produced.
pub fn from_value_limited<'de, T: Deserialize<'de>>(
    value: &'de Value,
    limits: &Limits,
) -> Result<T, ::serde::de::value::Error> {
    T::deserialize(de::De(value, &de::Budget::new(limits)))
}
