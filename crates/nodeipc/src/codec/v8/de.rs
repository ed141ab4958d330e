//! The serde `Deserializer` reading a payload directly, with no [`Value`]
//! in between: strings are borrowed from the payload where they are UTF-8
//! already (one-byte ASCII, `S`), byte buffers are handed over as slices of
//! it.
//!
//! It vouches only for what it reads the way the value reader would, with
//! the same limits, and gives up (an error) on anything else; the caller
//! then takes the `Value` path for the whole message, which decides the
//! result or the error. So it reads
//!
//! - undefined, null, booleans, numbers (`I`, `U`, `N`), BigInts, strings
//!   of all three encodings, padding and `?`;
//! - plain objects whose keys are names, or array indices first and
//!   ascending (the order of a `JsObject`), each once;
//! - dense arrays without holes or extra properties;
//! - Node's host objects for Buffers and typed arrays;
//!
//! and gives up on back-references, sparse arrays, Maps, Sets, Dates,
//! RegExps, Errors, boxed primitives, ArrayBuffers, other host objects and
//! version-13 payloads. Where `T` asks for a [`Value`] (a field typed
//! `Value`) or ignores a value (an unknown field), the value reader reads
//! that value in place, back-references inside it included.
//!
//! It recurses as `T` does, one level per container, and gives up past
//! [`MAX_NESTING`] levels (before recursing): deeper messages, and those
//! deeper than [`Limits::max_depth`], go to the value reader, which does
//! not recurse.

use serde::de::value::{Error, UnitDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::cursor::Cursor;
use super::keys::Keys;
use super::read::read_nested;
use super::tag;
use crate::codec::{is_internal_cmd, is_internal_cmd_units};
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::value::{
    KeyDe, MAX_INDEX, MAX_NESTING, VALUE_TOKEN, Value, latin1_to_string, parse_index,
    utf16le_units, visit_bigint, visit_byte_seq, visit_number, with_slot,
};

type Result<T> = std::result::Result<T, Error>;

/// A message read directly.
pub(super) struct Read<T> {
    pub(super) value: T,
    /// Whether it may be an internal message (an object, or an array with
    /// named properties, whose `cmd` is a string starting with `NODE_`):
    /// known for objects and arrays read here, assumed for a root object or
    /// array read by the value reader (a `Value`, or one with holes or
    /// properties).
    pub(super) maybe_internal: bool,
}

/// Reads a `T` from `payload` (the header and the value; bytes after it
/// are ignored, as the value reader ignores them). An error means "take the
/// `Value` path", not that the payload is invalid.
pub(super) fn read<'de, T: de::Deserialize<'de>>(
    payload: &'de [u8],
    limits: &Limits,
) -> Result<Read<T>> {
    let mut cur = Cursor::new(payload);
    let version = cur.header().map_err(give_up)?;
    if version < 14 {
        // Version 13 has two readings (see `read_payload`).
        return Err(Error::custom("version 13"));
    }
    let mut de = De {
        cur,
        version,
        limits,
        depth: 0,
        values: 0,
        ids: 0,
        root_read: false,
        internal_cmd: false,
    };
    let root = de.cur.value_tag().map_err(give_up)?;
    let value = T::deserialize(&mut de)?;
    Ok(Read {
        value,
        maybe_internal: matches!(
            root,
            tag::BEGIN_JS_OBJECT | tag::BEGIN_DENSE_ARRAY | tag::BEGIN_SPARSE_ARRAY
        ) && (!de.root_read || de.internal_cmd),
    })
}

fn give_up(e: DecodeError) -> Error {
    Error::custom(e)
}

fn unsupported(t: u8) -> Error {
    Error::custom(format_args!("tag 0x{t:02x} takes the Value path"))
}

struct De<'de, 'l> {
    cur: Cursor<'de>,
    version: u32,
    limits: &'l Limits,
    /// Containers open around the position.
    depth: usize,
    /// Values and keys read (as the value reader counts them).
    values: usize,
    /// Object ids assigned.
    ids: u32,
    /// Whether the root was an object or array read here.
    root_read: bool,
    /// Whether that object has a `cmd` starting with `NODE_`.
    internal_cmd: bool,
}

/// A string's text: borrowed from the payload when it is UTF-8 there.
enum Text<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Text<'de> {
    /// The text of the string bytes `b` of tag `t`, decoded as the value
    /// reader decodes them (a lone surrogate becomes U+FFFD, as
    /// `from_value` gives it).
    fn new(t: u8, b: &'de [u8]) -> Self {
        match t {
            tag::ONE_BYTE_STRING if b.is_ascii() => match std::str::from_utf8(b) {
                Ok(s) => Text::Borrowed(s),
                Err(_) => Text::Owned(latin1_to_string(b)),
            },
            tag::ONE_BYTE_STRING => Text::Owned(latin1_to_string(b)),
            tag::TWO_BYTE_STRING => Text::Owned(
                char::decode_utf16(utf16le_units(b))
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
            ),
            // V8 decodes UTF-8 with replacement.
            _ => match std::str::from_utf8(b) {
                Ok(s) => Text::Borrowed(s),
                Err(_) => Text::Owned(String::from_utf8_lossy(b).into_owned()),
            },
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
        }
    }

    fn visit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Owned(s) => visitor.visit_string(s),
        }
    }

    /// As an enum's variant name.
    fn into_key(self) -> KeyDe<'de> {
        match self {
            Text::Borrowed(s) => KeyDe::Str(s),
            Text::Owned(s) => KeyDe::String(s),
        }
    }
}

impl<'de> De<'de, '_> {
    /// The tag of the next value, consumed and counted.
    fn next(&mut self) -> Result<u8> {
        let t = self.peek()?;
        self.count()?;
        self.cur.pos += 1;
        Ok(t)
    }

    /// The tag of the next value, not consumed.
    fn peek(&mut self) -> Result<u8> {
        self.cur.value_tag().map_err(give_up)
    }

    fn count(&mut self) -> Result<()> {
        self.values += 1;
        if self.values > self.limits.max_elements {
            return Err(Error::custom("Limits::max_elements"));
        }
        Ok(())
    }

    /// Opens a container (its tag read): a level deeper, an object id.
    fn open(&mut self) -> Result<()> {
        if self.depth >= self.limits.max_depth.min(MAX_NESTING) {
            return Err(Error::custom("too deep to recurse"));
        }
        self.depth += 1;
        self.ids += 1;
        Ok(())
    }

    /// Consumes the end tag `t` of the innermost container, which must be
    /// next (after padding only, as the value reader has it).
    fn close(&mut self, t: u8) -> Result<()> {
        match self.cur.peek_tag() {
            Some((found, after)) if found == t => {
                self.cur.pos = after;
                self.depth -= 1;
                Ok(())
            }
            _ => Err(Error::custom("not the end of the container")),
        }
    }

    fn varint(&mut self) -> Result<u32> {
        self.cur.varint().map_err(give_up)
    }

    /// The number after a number tag `t`.
    fn number(&mut self, t: u8) -> Result<f64> {
        match t {
            tag::INT32 => self.cur.zigzag().map(f64::from),
            tag::UINT32 => self.cur.varint().map(f64::from),
            _ => self.cur.double(),
        }
        .map_err(give_up)
    }

    /// The string after a string tag `t`.
    fn text(&mut self, t: u8) -> Result<Text<'de>> {
        let at = self.cur.pos - 1;
        let b = self.cur.string_bytes(t, at).map_err(give_up)?;
        Ok(Text::new(t, b))
    }

    /// The bytes of a host object (after `\`): a view's, or an error.
    fn view(&mut self) -> Result<&'de [u8]> {
        let at = self.cur.pos - 1;
        if self.varint()? != 0 {
            return Err(Error::custom("a host object other than a view"));
        }
        self.ids += 1;
        let (_, bytes) = self.cur.view_bytes(at).map_err(give_up)?;
        Ok(bytes)
    }

    /// The next value, read by the value reader.
    fn nested(&mut self) -> Result<Value> {
        let (ids, depth, values) = (self.ids, self.depth, self.values);
        let n = read_nested(&mut self.cur, self.version, ids, depth, values, self.limits)
            .map_err(give_up)?;
        self.ids += n.ids;
        self.values = n.values;
        Ok(n.value)
    }

    /// A property key, as a `JsObject` classifies it: an array index or a
    /// name. Keys that are numbers but not indices give up (JS prints them
    /// its own way).
    fn key(&mut self) -> Result<KeyDe<'de>> {
        self.count()?;
        let t = self.peek()?;
        self.cur.pos += 1;
        let index = match t {
            tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
                let text = self.text(t)?;
                return Ok(match parse_index(text.as_str()) {
                    Some(i) => KeyDe::Index(i),
                    None => text.into_key(),
                });
            }
            tag::INT32 | tag::UINT32 | tag::DOUBLE => self.number(t)?,
            t => return Err(unsupported(t)),
        };
        if index.fract() == 0.0 && (0.0..=f64::from(MAX_INDEX)).contains(&index) {
            Ok(KeyDe::Index(index as u32))
        } else {
            Err(Error::custom("a number key that is not an index"))
        }
    }

    /// Whether the string value next is one of Node's internal commands
    /// ([`is_internal_cmd`]); `true` if in doubt.
    fn internal_cmd_next(&self) -> bool {
        let mut cur = self.cur;
        let prefix = |cur: &mut Cursor<'_>| {
            let t = cur.value_tag()?;
            cur.pos += 1;
            let b = cur.string_bytes(t, cur.pos - 1)?;
            Ok::<_, DecodeError>(match t {
                tag::ONE_BYTE_STRING => is_internal_cmd_units(b.iter().map(|&c| u16::from(c))),
                tag::UTF8_STRING => is_internal_cmd(&String::from_utf8_lossy(b)),
                tag::TWO_BYTE_STRING => is_internal_cmd_units(utf16le_units(b)),
                _ => false,
            })
        };
        prefix(&mut cur).unwrap_or(true)
    }

    fn object<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.root_read |= self.depth == 0;
        self.open()?;
        let mut props = Props {
            root: self.depth == 1,
            de: self,
            keys: Keys::default(),
            n: 0,
            cmd: false,
        };
        let v = visitor.visit_map(&mut props)?;
        let n = props.n;
        self.close(tag::END_JS_OBJECT)?;
        if self.varint()? != n {
            return Err(Error::custom("property count"));
        }
        Ok(v)
    }

    fn array<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        // An array read here has no named properties, so no `cmd`.
        self.root_read |= self.depth == 0;
        let len = self.varint()?;
        // Each element takes at least a byte.
        if len as usize > self.cur.left() {
            return Err(Error::custom("array longer than the bytes left"));
        }
        self.open()?;
        let mut elements = Elements {
            de: self,
            left: len,
        };
        let v = visitor.visit_seq(&mut elements)?;
        if elements.left > 0 {
            return Err(Error::custom("elements left"));
        }
        self.close(tag::END_DENSE_ARRAY)?;
        if self.varint()? != 0 || self.varint()? != len {
            return Err(Error::custom("array counts"));
        }
        Ok(v)
    }
}

impl<'de> Deserializer<'de> for &mut De<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.next()? {
            tag::UNDEFINED | tag::NULL => visitor.visit_unit(),
            tag::TRUE => visitor.visit_bool(true),
            tag::FALSE => visitor.visit_bool(false),
            t @ (tag::INT32 | tag::UINT32 | tag::DOUBLE) => visit_number(self.number(t)?, visitor),
            tag::BIGINT => visit_bigint(&self.cur.bigint().map_err(give_up)?, visitor),
            t @ (tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING) => {
                self.text(t)?.visit(visitor)
            }
            tag::BEGIN_JS_OBJECT => self.object(visitor),
            tag::BEGIN_DENSE_ARRAY => self.array(visitor),
            tag::HOST_OBJECT => visitor.visit_borrowed_bytes(self.view()?),
            t => Err(unsupported(t)),
        }
    }

    /// As `deserialize_any`, but `-0` is `0` (as `from_value` has it).
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek()? != tag::DOUBLE {
            return self.deserialize_any(visitor);
        }
        self.next()?;
        match self.number(tag::DOUBLE)? {
            // `-0.0` matches too (float patterns compare with `==`).
            0.0 => visitor.visit_u64(0),
            n => visit_number(n, visitor),
        }
    }
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            t @ (tag::INT32 | tag::UINT32 | tag::DOUBLE) => {
                self.next()?;
                visitor.visit_f64(self.number(t)?)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            tag::UNDEFINED | tag::NULL => {
                self.next()?;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == VALUE_TOKEN {
            // `Value::deserialize` takes the value from the slot.
            let value = self.nested()?;
            return with_slot(value, || {
                visitor.visit_newtype_struct(UnitDeserializer::<Error>::new())
            });
        }
        visitor.visit_newtype_struct(self)
    }

    /// A view's bytes as a sequence of numbers (`Vec<u8>` fields take
    /// Buffers).
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.peek()? != tag::HOST_OBJECT {
            return self.deserialize_any(visitor);
        }
        self.next()?;
        visit_byte_seq(self.view()?, visitor)
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

    /// A string is a unit variant; an object with one property is the
    /// variant it names, with its content.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.next()? {
            t @ (tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING) => {
                let name = self.text(t)?.into_key();
                visitor.visit_enum(Variant {
                    de: self,
                    name,
                    content: false,
                })
            }
            tag::BEGIN_JS_OBJECT => {
                self.open()?;
                if self.cur.peek_tag().map(|(t, _)| t) == Some(tag::END_JS_OBJECT) {
                    return Err(Error::custom("an enum with no property"));
                }
                let name = self.key()?;
                let v = visitor.visit_enum(Variant {
                    de: &mut *self,
                    name,
                    content: true,
                })?;
                self.close(tag::END_JS_OBJECT)?;
                if self.varint()? != 1 {
                    return Err(Error::custom("an enum with more than one property"));
                }
                Ok(v)
            }
            t => Err(unsupported(t)),
        }
    }

    /// Read (and checked) by the value reader, then dropped.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.nested()?;
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool char str string bytes byte_buf unit unit_struct map struct identifier
    }
}

/// An object's properties.
struct Props<'a, 'de, 'l> {
    de: &'a mut De<'de, 'l>,
    keys: Keys,
    /// Properties read.
    n: u32,
    /// Whether this is the root object.
    root: bool,
    /// Whether the value next is the root's `cmd`.
    cmd: bool,
}

impl<'de> MapAccess<'de> for Props<'_, 'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.de.cur.peek_tag().map(|(t, _)| t) == Some(tag::END_JS_OBJECT) {
            return Ok(None);
        }
        let key = self.de.key()?;
        let (in_order, name) = match &key {
            KeyDe::Index(i) => (self.keys.index(*i), ""),
            KeyDe::Str(s) => (self.keys.name(s.as_bytes()), *s),
            KeyDe::String(s) => (self.keys.name(s.as_bytes()), s.as_str()),
        };
        if !in_order {
            return Err(Error::custom("keys out of order or repeated"));
        }
        self.cmd = self.root && name == "cmd";
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value> {
        if std::mem::take(&mut self.cmd) && self.de.internal_cmd_next() {
            self.de.internal_cmd = true;
        }
        self.n += 1;
        seed.deserialize(&mut *self.de)
    }
}

/// A dense array's elements.
struct Elements<'a, 'de, 'l> {
    de: &'a mut De<'de, 'l>,
    left: u32,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de, '_> {
    type Error = Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        if self.de.cur.peek_tag().map(|(t, _)| t) == Some(tag::THE_HOLE) {
            return Err(Error::custom("a hole"));
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left as usize)
    }
}

/// An enum: its variant name, and whether content follows (in an object)
/// or not (a string).
struct Variant<'a, 'de, 'l> {
    de: &'a mut De<'de, 'l>,
    name: KeyDe<'de>,
    content: bool,
}

impl<'a, 'de, 'l> EnumAccess<'de> for Variant<'a, 'de, 'l> {
    type Error = Error;
    type Variant = Content<'a, 'de, 'l>;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self::Variant)> {
        let name = seed.deserialize(self.name)?;
        let content = Content {
            de: self.de,
            content: self.content,
        };
        Ok((name, content))
    }
}

struct Content<'a, 'de, 'l> {
    de: &'a mut De<'de, 'l>,
    content: bool,
}

impl<'a, 'de, 'l> Content<'a, 'de, 'l> {
    fn content(self) -> Result<&'a mut De<'de, 'l>> {
        match self.content {
            true => Ok(self.de),
            false => Err(Error::custom("a unit variant")),
        }
    }
}

impl<'de> VariantAccess<'de> for Content<'_, 'de, '_> {
    type Error = Error;

    /// No content, or `undefined` / `null`.
    fn unit_variant(self) -> Result<()> {
        if !self.content {
            return Ok(());
        }
        match self.de.next()? {
            tag::UNDEFINED | tag::NULL => Ok(()),
            t => Err(unsupported(t)),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value> {
        seed.deserialize(self.content()?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        self.content()?.deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.content()?.deserialize_any(visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::de::IgnoredAny;

    use super::*;

    /// The payloads of docs/protocol.md §3.4 that the direct reader reads
    /// itself (it gives up on the others), as `serde_json::Value`.
    #[test]
    fn node_dumps_read_directly() {
        let cases: &[(&[u8], &str)] = &[
            (b"o\"\x01aI\x02\"\x01b\"\x01x{\x02", r#"{"a":1,"b":"x"}"#),
            (b"\"\x05h\xe9llo", r#""héllo""#),
            (b"c\x0ah\x00\xac\x20l\x00l\x00o\x00", r#""h€llo""#),
            (b"c\x04\x3d\xd8\x00\xde", r#""😀""#),
            (b"A\x02\"\x01x\x00c\x02\xac\x20$\x00\x02", r#"["x","€"]"#),
            (b"A\x03I\x02\"\x03twoT$\x00\x03", r#"[1,"two",true]"#),
            (
                b"A\x01Z\x10\x7b\x00\x00\x00\x00\x00\x00\x00$\x00\x01",
                "[123]",
            ),
            (b"A\x01_$\x00\x01", "[null]"),
            (b"N\x00\x00\x00\x00\x00\x00\xf8\x3f", "1.5"),
            (b"oI\x02\"\x01a\"\x01b\"\x01c{\x02", r#"{"1":"a","b":"c"}"#),
        ];
        for (value, json) in cases {
            let payload = [&[0xff, 0x0f][..], value].concat();
            let read = read::<serde_json::Value>(&payload, &Limits::default())
                .unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(read.value.to_string(), *json);
            assert!(!read.maybe_internal);
        }
        // Buffer.from([1,2,3]), new Int16Array([-1,2])
        for (value, bytes) in [
            (&b"\\\x00\x0a\x03\x01\x02\x03"[..], &[1, 2, 3][..]),
            (b"\\\x00\x03\x04\xff\xff\x02\x00", &[255, 255, 2, 0]),
        ] {
            let payload = [&[0xff, 0x0f][..], value].concat();
            let read = read::<Vec<u8>>(&payload, &Limits::default()).expect("direct");
            assert_eq!(read.value, bytes);
        }
    }

    #[test]
    fn what_the_direct_reader_leaves_to_the_value_reader() {
        for value in [
            &b"o\"\x01x o\"\x01kI\x02{\x01\"\x01y^\x01{\x02"[..], // a back-reference
            b"a\x05I\x00I\x02@\x01\x05",                          // a sparse array
            b";\"\x01kI\x02:\x02",                                // a Map
            b"D\x00\x00\x00\x00\x00\x00\x00\x00",                 // a Date
            b"o\"\x01bI\x02\"\x01bI\x04{\x02",                    // a repeated key
            b"o\"\x01bI\x02I\x00I\x04{\x02",                      // an index after a name
        ] {
            let payload = [&[0xff, 0x0f][..], value].concat();
            assert!(read::<serde_json::Value>(&payload, &Limits::default()).is_err());
        }
    }

    #[test]
    fn values_and_ignored_fields_are_read_in_place() {
        #[derive(serde::Deserialize)]
        struct Msg {
            shared: Value,
        }
        // {skip: {k: 1}, shared: [m, m]} with m = new Map: the reader reads
        // `skip` and `shared` (its `^` included), at the right ids.
        let payload =
            b"\xff\x0fo\"\x04skipo\"\x01kI\x02{\x01\"\x06sharedA\x02;:\x00^\x03$\x00\x02{\x02";
        let read = read::<Msg>(payload, &Limits::default()).expect("direct");
        let Value::Array(a) = &read.value.shared else {
            panic!("{:?}", read.value.shared)
        };
        let (first, second) = (a.get(0).unwrap(), a.get(1).unwrap());
        assert!(first.object_ptr().is_some() && first.object_ptr() == second.object_ptr());
        assert!(!read.maybe_internal);
    }

    #[test]
    fn internal_messages_are_told_apart() {
        let cases: &[(&[u8], bool)] = &[
            (b"o\"\x03cmd\"\x06NODE_X{\x01", true),
            (b"o\"\x03cmd\"\x05NODE_{\x01", false),
            (b"o\"\x03cmd\"\x01x\"\x01aI\x02{\x02", false),
            (b"o\"\x01a\"\x06NODE_X{\x01", false),
            (
                b"o\"\x03cmdc\x0cN\x00O\x00D\x00E\x00_\x00\xac\x20{\x01",
                true,
            ),
            (b"\"\x06NODE_X", false),
            // A dense array read here has no properties.
            (b"A\x01I\x02$\x00\x01", false),
        ];
        for (value, internal) in cases {
            let payload = [&[0xff, 0x0f][..], value].concat();
            let read = read::<serde_json::Value>(&payload, &Limits::default()).expect("direct");
            assert_eq!(read.maybe_internal, *internal, "{value:?}");
        }
        // Not walked here: assumed internal, objects and arrays alike.
        for payload in [
            &b"\xff\x0fo\"\x01aI\x02{\x01"[..],
            b"\xff\x0fA\x01I\x02$\x00\x01",
        ] {
            assert!(
                read::<IgnoredAny>(payload, &Limits::default())
                    .unwrap()
                    .maybe_internal
            );
        }
    }
}
