//! `JsString`: a JS string, which may hold lone surrogates.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A JavaScript string: a sequence of UTF-16 code units.
///
/// A Rust `String` cannot hold a lone surrogate (`'\ud800'`), which any JS
/// string may contain. So a `JsString` is UTF-8 text when the string is
/// well-formed (almost always: then [`as_str`](Self::as_str) is free), and
/// keeps the UTF-16 code units only when it holds a lone surrogate. Both
/// forms round-trip to the exact bytes Node writes.
///
/// It also remembers whether V8 stored a received string in two-byte form
/// (V8 sometimes does for pure Latin-1 text, e.g. `('€abc').slice(1)`), so
/// that writing it back gives the same bytes. That hint is not part of the
/// string's value: `==` and `Hash` compare code units only.
///
/// ```
/// use nodeipc::value::JsString;
///
/// let s = JsString::from("héllo");
/// assert_eq!(s.as_str(), Some("héllo"));
/// let lone = JsString::from_utf16(&[0x61, 0xD800]);
/// assert_eq!(lone.as_str(), None);
/// assert_eq!(lone.to_string_lossy(), "a\u{FFFD}");
/// assert_eq!(lone.to_utf16(), [0x61, 0xD800]);
/// ```
#[derive(Clone)]
pub struct JsString(Repr);

#[derive(Clone)]
enum Repr {
    /// Well-formed text. `two_byte`: V8 held it as a two-byte string.
    Text { text: Box<str>, two_byte: bool },
    /// UTF-16 code units with at least one lone surrogate.
    Units(Box<[u16]>),
}

/// The storage of a [`JsString`], for the codecs.
pub(crate) enum StrRepr<'a> {
    /// Well-formed text, and whether V8 held it two-byte.
    Text(&'a str, bool),
    /// Code units holding a lone surrogate.
    Units(&'a [u16]),
}

impl JsString {
    /// The empty string.
    pub fn new() -> Self {
        JsString::from("")
    }

    /// A string from UTF-16 code units, lone surrogates included.
    pub fn from_utf16(units: &[u16]) -> Self {
        match String::from_utf16(units) {
            Ok(text) => JsString::from(text),
            Err(_) => JsString(Repr::Units(units.into())),
        }
    }

    /// A string from Latin-1 bytes (V8's one-byte strings).
    pub(crate) fn from_latin1(bytes: &[u8]) -> Self {
        JsString::from(latin1_to_string(bytes))
    }

    /// A string V8 stored two-byte, from its UTF-16LE bytes (an even count).
    pub(crate) fn from_two_byte_le(bytes: &[u8]) -> Self {
        let mut text = String::with_capacity(bytes.len() / 2);
        for c in char::decode_utf16(utf16le_units(bytes)) {
            match c {
                Ok(c) => text.push(c),
                Err(_) => {
                    let units: Vec<u16> = utf16le_units(bytes).collect();
                    return JsString(Repr::Units(units.into()));
                }
            }
        }
        JsString(Repr::Text {
            text: text.into_boxed_str(),
            two_byte: true,
        })
    }

    /// The text, unless the string holds a lone surrogate.
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            Repr::Text { text, .. } => Some(text),
            Repr::Units(_) => None,
        }
    }

    /// The text, with lone surrogates replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Text { text, .. } => Cow::Borrowed(text),
            Repr::Units(units) => Cow::Owned(String::from_utf16_lossy(units)),
        }
    }

    /// The UTF-16 code units.
    pub fn encode_utf16(&self) -> impl Iterator<Item = u16> + '_ {
        let (text, units) = match &self.0 {
            Repr::Text { text, .. } => (Some(text.encode_utf16()), None),
            Repr::Units(units) => (None, Some(units.iter().copied())),
        };
        text.into_iter()
            .flatten()
            .chain(units.into_iter().flatten())
    }

    /// The UTF-16 code units, collected.
    pub fn to_utf16(&self) -> Vec<u16> {
        self.encode_utf16().collect()
    }

    /// The JS `length`: the number of UTF-16 code units.
    pub fn len_utf16(&self) -> usize {
        match &self.0 {
            Repr::Text { text, .. } if text.is_ascii() => text.len(),
            Repr::Text { text, .. } => text.chars().map(char::len_utf16).sum(),
            Repr::Units(units) => units.len(),
        }
    }

    /// Bytes the string takes in memory (UTF-8 text, or UTF-16 units),
    /// without scanning it.
    pub(crate) fn storage_len(&self) -> usize {
        match &self.0 {
            Repr::Text { text, .. } => text.len(),
            Repr::Units(units) => 2 * units.len(),
        }
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Text { text, .. } => text.is_empty(),
            Repr::Units(units) => units.is_empty(),
        }
    }

    /// Whether the string starts with `prefix` (JS `startsWith`).
    pub fn starts_with(&self, prefix: &str) -> bool {
        match &self.0 {
            Repr::Text { text, .. } => text.starts_with(prefix),
            Repr::Units(_) => {
                let mut own = self.encode_utf16();
                prefix.encode_utf16().all(|u| own.next() == Some(u))
            }
        }
    }

    pub(crate) fn repr(&self) -> StrRepr<'_> {
        match &self.0 {
            Repr::Text { text, two_byte } => StrRepr::Text(text, *two_byte),
            Repr::Units(units) => StrRepr::Units(units),
        }
    }
}

/// Latin-1 bytes (V8's one-byte strings) as text.
pub(crate) fn latin1_to_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(ascii) if bytes.is_ascii() => ascii.to_owned(),
        _ => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The code units of UTF-16LE bytes (an even count).
pub(crate) fn utf16le_units(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
}

impl Default for JsString {
    fn default() -> Self {
        JsString::new()
    }
}

impl From<&str> for JsString {
    fn from(text: &str) -> Self {
        JsString(Repr::Text {
            text: text.into(),
            two_byte: false,
        })
    }
}

impl From<String> for JsString {
    fn from(text: String) -> Self {
        JsString(Repr::Text {
            text: text.into_boxed_str(),
            two_byte: false,
        })
    }
}

impl From<char> for JsString {
    fn from(c: char) -> Self {
        JsString::from(c.to_string())
    }
}

impl PartialEq for JsString {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Text { text: a, .. }, Repr::Text { text: b, .. }) => a == b,
            (Repr::Units(a), Repr::Units(b)) => a == b,
            // Text is well-formed, Units are not: never the same string.
            _ => false,
        }
    }
}

impl Eq for JsString {}

impl Hash for JsString {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Text hashes as `str` does, so that maps keyed by `JsString` can be
        // searched with a `&str` (see the `Equivalent` impl below).
        match &self.0 {
            Repr::Text { text, .. } => text.hash(state),
            Repr::Units(units) => units.hash(state),
        }
    }
}

impl indexmap::Equivalent<JsString> for str {
    fn equivalent(&self, key: &JsString) -> bool {
        key.as_str() == Some(self)
    }
}

impl PartialEq<str> for JsString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for JsString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl fmt::Display for JsString {
    /// The text, lone surrogates as U+FFFD.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for JsString {
    /// Quoted as Node's `util.inspect` quotes strings: `'it'`, `"it's"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_quoted(f, self)
    }
}

/// Writes `s` as `util.inspect` does: single quotes unless the string holds
/// one (then double quotes, then backticks), control characters, the quote,
/// backslashes and lone surrogates escaped.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &JsString) -> fmt::Result {
    let has = |c: char| match &s.0 {
        Repr::Text { text, .. } => text.contains(c),
        Repr::Units(units) => units.contains(&(c as u16)),
    };
    let quote = if !has('\'') {
        '\''
    } else if !has('"') {
        '"'
    } else if !has('`') && !matches!(&s.0, Repr::Text { text, .. } if text.contains("${")) {
        '`'
    } else {
        '\''
    };
    f.write_char(quote)?;
    for c in char::decode_utf16(s.encode_utf16()) {
        match c {
            Ok(c) if c == quote => write!(f, "\\{c}")?,
            Ok('\\') => f.write_str("\\\\")?,
            Ok('\u{8}') => f.write_str("\\b")?,
            Ok('\t') => f.write_str("\\t")?,
            Ok('\n') => f.write_str("\\n")?,
            Ok('\u{c}') => f.write_str("\\f")?,
            Ok('\r') => f.write_str("\\r")?,
            Ok(c) if c < ' ' || c == '\u{7f}' => write!(f, "\\x{:02X}", u32::from(c))?,
            Ok(c) => f.write_char(c)?,
            Err(e) => write!(f, "\\u{:x}", e.unpaired_surrogate())?,
        }
    }
    f.write_char(quote)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_and_two_byte_decode_to_text() {
        assert_eq!(JsString::from_latin1(b"h\xe9llo"), "héllo");
        let s = JsString::from_two_byte_le(&[0x61, 0, 0xac, 0x20]);
        assert_eq!(s, "a€");
        assert!(matches!(s.repr(), StrRepr::Text(_, true)));
    }

    #[test]
    fn lone_surrogates_are_kept_as_units() {
        let s = JsString::from_two_byte_le(&[0x00, 0xd8, 0x61, 0x00]);
        assert_eq!(s.to_utf16(), [0xd800, 0x61]);
        assert_eq!(s.len_utf16(), 2);
        assert_ne!(s, JsString::from("\u{fffd}a"));
        assert!(s.starts_with(""));
        assert!(!s.starts_with("a"));
    }

    #[test]
    fn two_byte_hint_is_not_part_of_equality() {
        let a = JsString::from_two_byte_le(&[0x61, 0]);
        assert_eq!(a, JsString::from("a"));
    }

    #[test]
    fn debug_quotes_like_util_inspect() {
        let q = |s: &str| format!("{:?}", JsString::from(s));
        assert_eq!(q("x"), "'x'");
        assert_eq!(q("it's"), "\"it's\"");
        assert_eq!(q("say \"hi\" it's"), "`say \"hi\" it's`");
        assert_eq!(q("a\u{1}\u{b}\u{7f}\\\n"), "'a\\x01\\x0B\\x7F\\\\\\n'");
        assert_eq!(
            format!("{:?}", JsString::from_utf16(&[0xd800, 0x78])),
            "'\\ud800x'"
        );
    }
}
