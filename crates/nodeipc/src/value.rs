//! [`Value`]: the JavaScript value model of the `advanced` serialization.
//!
//! Everything Node's `advanced` serialization can carry has a variant:
//! primitives (`undefined`, `null`, booleans, numbers, BigInts, strings
//! with lone surrogates), plain objects, arrays with holes and extra
//! properties, Map, Set, Date, RegExp, boxed primitives, ArrayBuffer,
//! Buffer, every typed array, DataView, and Error.
//!
//! # Object identity
//!
//! JS objects have identity: `{ x: o, y: o }` holds one object twice, and
//! Node writes the second occurrence as a back-reference. So every object
//! variant holds an [`Arc`]: the same `Arc` in two places is the same JS
//! object, and is written once plus a back-reference; equal but distinct
//! `Arc`s are two objects. Cloning a `Value` is cheap (buffers are
//! [`Bytes`]).
//!
//! An `Arc` tree cannot hold a cycle, so a reference to an object that
//! *contains* the reference (`o.self = o`) is the explicit
//! [`Value::Circular`]`(n)`: the `n`-th enclosing object, 0 being the one
//! that directly holds it. "Enclosing objects" are arrays, objects, Maps,
//! Sets and Errors. A `Circular` is relative to the place where its object
//! first appears in a message (that is where it is written).
//!
//! # Equality
//!
//! `==` is structural, order-sensitive (keys, entries), and compares
//! numbers with `Object.is` (NaN equals NaN, `-0` is not `0`). It does not
//! look at `Arc` identity nor at the wire-form hints below.
//!
//! # Wire-form hints
//!
//! For one JS value, V8 may write different bytes depending on how it
//! stores the value internally. To re-encode a received value to the very
//! bytes Node wrote, the model keeps these choices: [`Value::Double`] (an
//! integer V8 held as a double), a string's two-byte form (see
//! [`JsString`]), and an array's packed or holey form (see [`JsArray`]).
//! A value built in Rust gets what V8 would do for a fresh value.
//!
//! # JSON
//!
//! [`Value::to_json`] and `From<serde_json::Value>` convert with
//! `JSON.stringify` / `JSON.parse` semantics; see [`Value::to_json`] for
//! what is lost.

mod array;
mod bigint;
mod buffer;
mod builtins;
mod debug;
mod drop;
mod eq;
mod json;
mod names;
mod object;
mod regexp;
mod serde;
mod size;
mod string;

use std::sync::Arc;

use bytes::Bytes;

pub use self::serde::{from_value, from_value_limited, from_value_ref, to_value};
pub use array::JsArray;
pub use bigint::BigInt;
pub use buffer::{ArrayBufferView, JsArrayBuffer, ViewKind};
pub use builtins::{ErrorName, JsDate, JsError, JsMap, JsRegExp, JsSet, Primitive, RegExpFlags};
pub use json::ToJsonError;
pub use object::{JsObject, Key, PropertyKey};
pub use regexp::MAX_CHECKED_SOURCE;
pub use string::JsString;

pub(crate) use self::serde::{
    KeyDe, MAX_NESTING, RAW_VALUE_TOKEN, VALUE_TOKEN, int128, take_slot, uint128, visit_bigint,
    visit_byte_seq, visit_number, with_slot,
};
pub(crate) use names::{Iter as NamesIter, Names};
pub(crate) use object::{MAX_INDEX, parse_index};
pub(crate) use string::{StrRepr, latin1_to_string, utf16le_units};

/// A JavaScript value, as Node's `advanced` serialization carries it.
///
/// See the [module docs](self) for object identity, cycles and equality.
///
/// ```
/// use nodeipc::value::{JsObject, Value};
///
/// let v = Value::object([("a", Value::from(1)), ("b", Value::array(["x"]))]);
/// assert_eq!(format!("{v:?}"), "{ a: 1, b: [ 'x' ] }");
/// assert_eq!(v.get("a").and_then(Value::as_f64), Some(1.0));
/// assert_eq!(v.to_json().unwrap(), serde_json::json!({ "a": 1, "b": ["x"] }));
/// ```
#[derive(Clone, Default)]
pub enum Value {
    /// `undefined`.
    #[default]
    Undefined,
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A number V8 held as a heap double although it is an integer that fits
    /// 32 bits: an element of `[1.5, 2]`, or a field that once held a
    /// fraction. The same JS value as [`Value::Number`] (and `==` to it);
    /// kept apart only because V8 then writes it as a double, and the
    /// reader yields it only for such integers. Read numbers with
    /// [`as_f64`](Value::as_f64), which covers both.
    Double(f64),
    /// A BigInt.
    BigInt(BigInt),
    /// A string.
    String(JsString),
    /// An array.
    Array(Arc<JsArray>),
    /// A plain object (class instances arrive as plain objects).
    Object(Arc<JsObject>),
    /// A `Map`.
    Map(Arc<JsMap>),
    /// A `Set`.
    Set(Arc<JsSet>),
    /// A `Date`.
    Date(Arc<JsDate>),
    /// A `RegExp`.
    RegExp(Arc<JsRegExp>),
    /// A boxed primitive (`new Number(1)`).
    Boxed(Arc<Primitive>),
    /// An `ArrayBuffer`.
    ArrayBuffer(Arc<JsArrayBuffer>),
    /// A `Buffer`, typed array or `DataView`.
    View(Arc<ArrayBufferView>),
    /// An `Error`.
    Error(Arc<JsError>),
    /// A reference to the `n`-th enclosing object (0: the one holding this
    /// value): how cycles are represented. See the [module docs](self).
    Circular(u32),
}

impl Value {
    /// An array of `items` (packed).
    pub fn array<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        Value::Array(Arc::new(items.into_iter().collect()))
    }

    /// An object with `props` in order.
    pub fn object<K: Into<PropertyKey>, V: Into<Value>>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Value {
        Value::Object(Arc::new(props.into_iter().collect()))
    }

    /// A Node `Buffer` holding `bytes`.
    pub fn buffer(bytes: impl Into<Bytes>) -> Value {
        Value::View(Arc::new(ArrayBufferView::buffer(bytes)))
    }

    /// A `Date` at `ms` milliseconds since the epoch (see [`JsDate::new`]).
    pub fn date(ms: f64) -> Value {
        Value::Date(Arc::new(JsDate::new(ms)))
    }

    /// Whether this is `undefined`.
    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    /// Whether this is `null` or `undefined`.
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Undefined | Value::Null)
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one ([`Value::Number`] or [`Value::Double`]).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) | Value::Double(n) => Some(*n),
            _ => None,
        }
    }

    /// The text of a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => s.as_str(),
            _ => None,
        }
    }

    /// The bytes of a Buffer, typed array, DataView or ArrayBuffer.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::View(v) => Some(v.bytes()),
            Value::ArrayBuffer(b) => Some(b.bytes()),
            _ => None,
        }
    }

    /// The property `key` of an object or array (`"0"` is the first
    /// element), as `value[key]` reads own properties.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(o) => o.get(key),
            Value::Array(a) => a.get_property(key),
            _ => None,
        }
    }

    /// JS `SameValueZero`, the equality of Map keys and Set values:
    /// primitives by value (NaN equals NaN, `-0` equals `0`), objects by
    /// identity (the same `Arc`).
    pub fn same_value_zero(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Undefined, Undefined) | (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Number(a) | Double(a), Number(b) | Double(b)) => a == b || (a.is_nan() && b.is_nan()),
            (BigInt(a), BigInt(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Circular(a), Circular(b)) => a == b,
            _ => match (self.object_ptr(), other.object_ptr()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// The address of the object behind an object variant: its identity.
    pub(crate) fn object_ptr(&self) -> Option<*const ()> {
        fn p<T>(a: &Arc<T>) -> Option<*const ()> {
            Some(Arc::as_ptr(a).cast())
        }
        match self {
            Value::Array(a) => p(a),
            Value::Object(a) => p(a),
            Value::Map(a) => p(a),
            Value::Set(a) => p(a),
            Value::Date(a) => p(a),
            Value::RegExp(a) => p(a),
            Value::Boxed(a) => p(a),
            Value::ArrayBuffer(a) => p(a),
            Value::View(a) => p(a),
            Value::Error(a) => p(a),
            _ => None,
        }
    }
}

/// JS `Object.is` on numbers.
pub(crate) fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b && a.is_sign_negative() == b.is_sign_negative()
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<f32> for Value {
    /// The double the `f32` is (`0.1f32` is `0.10000000149011612`).
    fn from(n: f32) -> Self {
        Value::Number(f64::from(n))
    }
}

macro_rules! from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(f64::from(n))
            }
        }
    )*};
}
from_small_int!(i8, u8, i16, u16, i32, u32);

/// Largest integer a JS number holds exactly.
const MAX_SAFE: u64 = (1 << 53) - 1;

impl From<i64> for Value {
    /// A number when exact (|n| ≤ 2^53 − 1), else a BigInt: no precision
    /// is lost.
    fn from(n: i64) -> Self {
        if n.unsigned_abs() <= MAX_SAFE {
            Value::Number(n as f64)
        } else {
            Value::BigInt(n.into())
        }
    }
}

impl From<u64> for Value {
    /// A number when exact (≤ 2^53 − 1), else a BigInt.
    fn from(n: u64) -> Self {
        if n <= MAX_SAFE {
            Value::Number(n as f64)
        } else {
            Value::BigInt(n.into())
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}

impl From<JsString> for Value {
    fn from(s: JsString) -> Self {
        Value::String(s)
    }
}

impl From<BigInt> for Value {
    fn from(n: BigInt) -> Self {
        Value::BigInt(n)
    }
}

impl From<Vec<Value>> for Value {
    /// A packed array.
    fn from(items: Vec<Value>) -> Self {
        Value::Array(Arc::new(JsArray::from(items)))
    }
}

macro_rules! from_object {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for Value {
            fn from(o: $t) -> Self {
                Value::$variant(Arc::new(o))
            }
        }
    )*};
}
from_object!(
    JsArray => Array,
    JsObject => Object,
    JsMap => Map,
    JsSet => Set,
    JsDate => Date,
    JsRegExp => RegExp,
    Primitive => Boxed,
    JsArrayBuffer => ArrayBuffer,
    ArrayBufferView => View,
    JsError => Error
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_with_object_is_across_number_and_double() {
        assert_eq!(Value::Number(2.0), Value::Double(2.0));
        assert_eq!(Value::Number(f64::NAN), Value::Number(f64::NAN));
        assert_ne!(Value::Number(0.0), Value::Number(-0.0));
        assert!(Value::Number(0.0).same_value_zero(&Value::Double(-0.0)));
    }

    #[test]
    fn identity_is_the_arc() {
        let a = Value::object([("k", 1)]);
        let b = Value::object([("k", 1)]);
        assert_eq!(a, b);
        assert!(!a.same_value_zero(&b));
        assert!(a.same_value_zero(&a.clone()));
    }

    #[test]
    fn wide_integers_become_bigints_not_rounded_numbers() {
        assert_eq!(
            Value::from(9_007_199_254_740_991i64),
            Value::Number(9_007_199_254_740_991.0)
        );
        assert!(matches!(Value::from(1u64 << 53), Value::BigInt(_)));
        assert!(matches!(Value::from(i64::MIN), Value::BigInt(_)));
    }

    #[test]
    fn get_reads_object_and_array_properties() {
        let v = Value::object([("cmd", "NODE_X")]);
        assert_eq!(v.get("cmd").and_then(Value::as_str), Some("NODE_X"));
        let a = Value::array([10, 20]);
        assert_eq!(a.get("1"), Some(&Value::from(20)));
        assert_eq!(a.get("length"), None);
    }
}
