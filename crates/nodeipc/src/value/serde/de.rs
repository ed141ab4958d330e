//! The serde `Deserializer` over a borrowed [`Value`]: see
//! [`from_value`](crate::value::from_value) for the mapping.

use ::serde::de::value::{Error, SeqDeserializer};
use ::serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Error as _, IntoDeserializer, MapAccess,
    VariantAccess, Visitor,
};
use ::serde::forward_to_deserialize_any;
use std::cell::Cell;

use super::value_impl::{VALUE_TOKEN, with_slot};
use crate::limits::Limits;
use crate::value::size::{VALUE_COST, payload_len};
use crate::value::{JsString, Key, Primitive, Value};

type Result<T> = std::result::Result<T, Error>;

/// A hole reads as `undefined`.
static UNDEFINED: Value = Value::Undefined;

/// What a deserialization may still produce. The `Value` tree of a message
/// is bounded by its [`Limits`], but what is read out of it can be far
/// larger: a shared object is produced again at every place it appears (a
/// few hundred bytes of back-references can stand for 2^60 objects) and a
/// hole at every index of a sparse array. So every value a container hands
/// out is counted: against [`Limits::max_elements`], and at
/// [`VALUE_COST`] bytes plus its string or buffer bytes against
/// [`Limits::expansion_budget`] of [`Limits::max_message_len`] (the
/// message's size); the deserialization fails once either is spent. A
/// message read without repeats never comes near either.
///
/// It also bounds nesting at [`MAX_NESTING`] levels: `T` recurses with the
/// reading, and deep enough nesting would overflow the stack.
pub(super) struct Budget {
    values: Cell<usize>,
    bytes: Cell<usize>,
    depth: Cell<usize>,
}

/// Nesting of containers (and enums) read into a Rust type at most, as in
/// `json` (serde_json's recursion limit): 1000 levels (the default
/// [`Limits::max_depth`], which bounds the `Value` itself) of
/// `serde_json::Value` take more than the 2 MiB of a thread's stack in a
/// debug build.
pub(crate) const MAX_NESTING: usize = 128;

/// One level of nesting entered, left when dropped.
struct Level<'b>(&'b Budget);

impl Drop for Level<'_> {
    fn drop(&mut self) {
        self.0.depth.set(self.0.depth.get() - 1);
    }
}

impl Budget {
    pub(super) fn new(limits: &Limits) -> Self {
        Budget {
            values: Cell::new(limits.max_elements),
            bytes: Cell::new(limits.expansion_budget(limits.max_message_len)),
            depth: Cell::new(0),
        }
    }

    /// Takes `bytes` more from the budget (object keys, the numbers a byte
    /// buffer read as a sequence becomes).
    fn charge(&self, bytes: usize) -> Result<()> {
        let left = self
            .bytes
            .get()
            .checked_sub(bytes)
            .ok_or_else(over_budget)?;
        self.bytes.set(left);
        Ok(())
    }

    /// Enters a container: takes the cost of handing out `children`, `len`
    /// of them (holes included, which cost one each), and one level. The
    /// children are looked at only once `len` fits, so a huge sparse array
    /// is refused without walking it.
    fn enter<'v>(
        &self,
        len: usize,
        children: impl Iterator<Item = &'v Value>,
    ) -> Result<Level<'_>> {
        if self.depth.get() >= MAX_NESTING {
            return Err(Error::custom(format_args!(
                "nested more than {MAX_NESTING} levels deep (the limit for reading into a \
                 Rust type; read a nodeipc::Value for deeper messages)"
            )));
        }
        let values = self.values.get().checked_sub(len).ok_or_else(over_budget)?;
        let bytes = self
            .bytes
            .get()
            .checked_sub(len.saturating_mul(VALUE_COST))
            .ok_or_else(over_budget)?;
        let payload: usize = children.map(payload_len).sum();
        let bytes = bytes.checked_sub(payload).ok_or_else(over_budget)?;
        self.values.set(values);
        self.bytes.set(bytes);
        self.depth.set(self.depth.get() + 1);
        Ok(Level(self))
    }
}

fn over_budget() -> Error {
    Error::custom(
        "the message expands past its read-out budget (Limits::max_expansion × its size, or \
         Limits::max_elements values: a shared object counts at every place it appears, a \
         sparse array's holes one by one; read it as a nodeipc::Value to keep the sharing)",
    )
}

/// What each byte of a buffer read as a sequence of numbers costs: the
/// size of a `u64` or `f64` (a `serde_json::Value` takes more, 72 bytes).
const BYTE_ELEMENT_COST: usize = 8;

/// What an object key costs beyond its entry: its text (an index as the
/// up to 10 digits it is).
fn key_len(k: &Key<'_>) -> usize {
    match k {
        Key::Index(_) => 10,
        Key::Name(s) => s.storage_len(),
    }
}

/// The deserializer of one value, with the budget of the whole one.
pub(super) struct De<'de, 'b>(pub(super) &'de Value, pub(super) &'b Budget);

/// The JS type of `v`, for error messages.
fn js_type(v: &Value) -> &'static str {
    match v {
        Value::Undefined => "undefined",
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) | Value::Double(_) => "number",
        Value::BigInt(_) => "bigint",
        Value::String(_) => "string",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
        Value::Map(_) => "Map",
        Value::Set(_) => "Set",
        Value::Date(_) => "Date",
        Value::RegExp(_) => "RegExp",
        Value::Boxed(_) => "boxed primitive",
        Value::ArrayBuffer(_) => "ArrayBuffer",
        Value::View(v) => v.kind().name(),
        Value::Error(_) => "Error",
        Value::Circular(_) => "circular reference",
    }
}

fn unsupported(v: &Value) -> Error {
    Error::custom(format_args!(
        "a JS {} cannot be deserialized into a Rust value",
        js_type(v)
    ))
}

/// 2^63 and 2^64 as doubles.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// A number to the visitor: integral ones as integers (`u64` when
/// non-negative, else `i64`), others (and `-0`) as `f64`.
pub(crate) fn visit_number<'de, V: Visitor<'de>>(n: f64, visitor: V) -> Result<V::Value> {
    if n.fract() == 0.0 && !(n == 0.0 && n.is_sign_negative()) {
        if (0.0..TWO_64).contains(&n) {
            return visitor.visit_u64(n as u64);
        }
        if (-TWO_63..0.0).contains(&n) {
            return visitor.visit_i64(n as i64);
        }
    }
    visitor.visit_f64(n)
}

fn visit_str<'de, V: Visitor<'de>>(s: &'de JsString, visitor: V) -> Result<V::Value> {
    match s.as_str() {
        Some(s) => visitor.visit_borrowed_str(s),
        None => visitor.visit_string(s.to_string_lossy().into_owned()),
    }
}

/// Bytes as a sequence of numbers (`Vec<u8>` fields take Buffers).
pub(crate) fn visit_byte_seq<'de, V: Visitor<'de>>(bytes: &[u8], visitor: V) -> Result<V::Value> {
    let mut seq = SeqDeserializer::new(bytes.iter().copied());
    let v = visitor.visit_seq(&mut seq)?;
    seq.end()?;
    Ok(v)
}

/// A BigInt to the visitor: as the first of `u64`, `i64`, `u128`, `i128`
/// that holds it.
pub(crate) fn visit_bigint<'de, V: Visitor<'de>>(
    b: &crate::value::BigInt,
    visitor: V,
) -> Result<V::Value> {
    if let Some(n) = b.to_u64() {
        visitor.visit_u64(n)
    } else if let Some(n) = b.to_i64() {
        visitor.visit_i64(n)
    } else if let Some(n) = b.to_u128() {
        visitor.visit_u128(n)
    } else if let Some(n) = b.to_i128() {
        visitor.visit_i128(n)
    } else {
        Err(Error::custom(format_args!(
            "BigInt {b} does not fit 128 bits"
        )))
    }
}

impl<'de> De<'de, '_> {
    /// An integer hint: as `deserialize_any`, but `-0` is `0`.
    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Number(n) | Value::Double(n) if *n == 0.0 => visitor.visit_u64(0),
            _ => self.deserialize_any(visitor),
        }
    }

    /// A Buffer, ArrayBuffer or typed array's bytes, if this is one.
    fn bytes(&self) -> Option<&'de [u8]> {
        self.0.as_bytes().map(|b| &b[..])
    }
}

impl<'de> Deserializer<'de> for De<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Undefined | Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) | Value::Double(n) => visit_number(*n, visitor),
            Value::BigInt(b) => visit_bigint(b, visitor),
            Value::String(s) => visit_str(s, visitor),
            Value::Array(a) => {
                let _level = self.1.enter(a.len(), a.elements().map(|(_, v)| v))?;
                let items = a.iter().map(|v| De(v.unwrap_or(&UNDEFINED), self.1));
                let mut seq = SeqDeserializer::new(items);
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Value::Object(o) => {
                let _level = self.1.enter(o.len(), o.iter().map(|(_, v)| v))?;
                self.1.charge(o.iter().map(|(k, _)| key_len(&k)).sum())?;
                let mut map = ObjectAccess {
                    iter: o.iter(),
                    value: None,
                    budget: self.1,
                };
                let v = visitor.visit_map(&mut map)?;
                if map.iter.next().is_some() {
                    return Err(Error::invalid_length(o.len(), &"fewer entries"));
                }
                Ok(v)
            }
            Value::Map(m) => {
                let entries = m.entries();
                let _level = self
                    .1
                    .enter(2 * entries.len(), entries.iter().flat_map(|(k, v)| [k, v]))?;
                let entries = entries.iter().map(|(k, v)| (De(k, self.1), De(v, self.1)));
                let mut map = de::value::MapDeserializer::new(entries);
                let v = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(v)
            }
            Value::Set(s) => {
                let values = s.values();
                let _level = self.1.enter(values.len(), values.iter())?;
                let mut seq = SeqDeserializer::new(values.iter().map(|v| De(v, self.1)));
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Value::Date(d) => visitor.visit_f64(d.time()),
            Value::Boxed(p) => match &**p {
                Primitive::Boolean(b) => visitor.visit_bool(*b),
                Primitive::Number(n) => visit_number(*n, visitor),
                Primitive::BigInt(b) => visit_bigint(b, visitor),
                Primitive::String(s) => visit_str(s, visitor),
            },
            Value::ArrayBuffer(b) => visitor.visit_borrowed_bytes(b.bytes()),
            Value::View(v) => visitor.visit_borrowed_bytes(v.bytes()),
            Value::RegExp(_) | Value::Error(_) | Value::Circular(_) => Err(unsupported(self.0)),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.integer(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Number(n) | Value::Double(n) => visitor.visit_f64(*n),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::Undefined | Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == VALUE_TOKEN {
            return with_slot(self.0.clone(), || visitor.visit_newtype_struct(self));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.bytes() {
            Some(bytes) => {
                self.1
                    .charge(bytes.len().saturating_mul(BYTE_ELEMENT_COST))?;
                visit_byte_seq(bytes, visitor)
            }
            None => self.deserialize_any(visitor),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(Variant {
                name: KeyDe::name(s),
                content: None,
            }),
            Value::Object(o) if o.len() == 1 => {
                let (key, content) = o.iter().next().expect("one property");
                let _level = self.1.enter(1, [content].into_iter())?;
                visitor.visit_enum(Variant {
                    name: KeyDe::from(key),
                    content: Some(De(content, self.1)),
                })
            }
            other => Err(Error::custom(format_args!(
                "expected a string or an object with one property for an enum, found a JS {}",
                js_type(other)
            ))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool char str string bytes byte_buf unit unit_struct map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, Error> for De<'de, '_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

/// An object's properties as a map.
struct ObjectAccess<'de, 'b, I> {
    iter: I,
    value: Option<&'de Value>,
    budget: &'b Budget,
}

impl<'de, I: Iterator<Item = (Key<'de>, &'de Value)>> MapAccess<'de> for ObjectAccess<'de, '_, I> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDe::from(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        let value = self
            .value
            .take()
            .ok_or_else(|| Error::custom("next_value before next_key"))?;
        seed.deserialize(De(value, self.budget))
    }

    fn size_hint(&self) -> Option<usize> {
        self.iter.size_hint().1
    }
}

/// A property key (or an enum's variant name): a string, which integer,
/// float and bool types parse (as serde_json does for its object keys).
pub(crate) enum KeyDe<'de> {
    /// An array index.
    Index(u32),
    /// A name, borrowed.
    Str(&'de str),
    /// A name that had to be decoded (a lone surrogate is U+FFFD).
    String(String),
}

impl<'de> From<Key<'de>> for KeyDe<'de> {
    fn from(key: Key<'de>) -> Self {
        match key {
            Key::Index(i) => KeyDe::Index(i),
            Key::Name(s) => KeyDe::name(s),
        }
    }
}

impl<'de> KeyDe<'de> {
    fn name(s: &'de JsString) -> Self {
        match s.as_str() {
            Some(s) => KeyDe::Str(s),
            None => KeyDe::String(s.to_string_lossy().into_owned()),
        }
    }

    fn parse<T: std::str::FromStr, V: Visitor<'de>>(
        self,
        visitor: V,
        visit: impl FnOnce(V, T) -> Result<V::Value>,
    ) -> Result<V::Value> {
        let index;
        let text = match &self {
            KeyDe::Index(i) => {
                index = i.to_string();
                &index
            }
            KeyDe::Str(s) => *s,
            KeyDe::String(s) => s,
        };
        match text.parse() {
            Ok(n) => visit(visitor, n),
            Err(_) => Err(Error::invalid_type(de::Unexpected::Str(text), &visitor)),
        }
    }
}

macro_rules! parse_key {
    ($($method:ident => $t:ty, $visit:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.parse(visitor, |v, n: $t| v.$visit(n))
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDe<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            KeyDe::Index(i) => visitor.visit_string(i.to_string()),
            KeyDe::Str(s) => visitor.visit_borrowed_str(s),
            KeyDe::String(s) => visitor.visit_string(s),
        }
    }

    parse_key! {
        deserialize_bool => bool, visit_bool;
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i128 => i128, visit_i128;
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
        deserialize_u128 => u128, visit_u128;
        deserialize_f32 => f32, visit_f32;
        deserialize_f64 => f64, visit_f64;
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(Variant {
            name: self,
            content: None,
        })
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// An enum: the variant name, and the content unless it is a unit variant
/// written as a string.
struct Variant<'de, 'b> {
    name: KeyDe<'de>,
    content: Option<De<'de, 'b>>,
}

impl<'de, 'b> EnumAccess<'de> for Variant<'de, 'b> {
    type Error = Error;
    type Variant = VariantContent<'de, 'b>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant)> {
        let name = seed.deserialize(self.name)?;
        Ok((name, VariantContent(self.content)))
    }
}

struct VariantContent<'de, 'b>(Option<De<'de, 'b>>);

impl<'de, 'b> VariantContent<'de, 'b> {
    fn content(self, expected: &str) -> Result<De<'de, 'b>> {
        match self.0 {
            Some(de) => Ok(de),
            None => Err(Error::invalid_type(de::Unexpected::UnitVariant, &expected)),
        }
    }
}

impl<'de> VariantAccess<'de> for VariantContent<'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match self.0.map(|de| de.0) {
            None | Some(Value::Undefined | Value::Null) => Ok(()),
            Some(v) => Err(Error::custom(format_args!(
                "expected no content for a unit variant, found a JS {}",
                js_type(v)
            ))),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value> {
        seed.deserialize(self.content("newtype variant")?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        self.content("tuple variant")?
            .deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.content("struct variant")?.deserialize_any(visitor)
    }
}
