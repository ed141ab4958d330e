//! Property keys and plain objects.

use std::collections::BTreeMap;
use std::fmt;

use super::names::Names;
use super::{JsString, Value};

/// The largest array index: JS indices are `0..=2^32 - 2`.
pub(crate) const MAX_INDEX: u32 = u32::MAX - 1;

/// A property key, owned: an array index or a name.
///
/// JS orders an object's keys as array indices (canonical integer strings
/// `"0"`..`"4294967294"`) ascending first, then names in insertion order;
/// keeping indices apart is how [`JsObject`] follows that order. The `From`
/// conversions classify strings: `"1"` is `Index(1)`, `"01"` and `"-1"` are
/// names.
///
/// ```
/// use nodeipc::value::PropertyKey;
///
/// assert_eq!(PropertyKey::from("7"), PropertyKey::Index(7));
/// assert_eq!(PropertyKey::from("07"), PropertyKey::Name("07".into()));
/// assert_eq!(PropertyKey::from_number(1.5), PropertyKey::Name("1.5".into()));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum PropertyKey {
    /// An array index, `0..=4294967294` (`u32::MAX` is not one; an object
    /// given it stores the name `"4294967295"`).
    Index(u32),
    /// Any other key.
    Name(JsString),
}

/// A property key, borrowed from an object or array.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// An array index.
    Index(u32),
    /// Any other key.
    Name(&'a JsString),
}

impl PropertyKey {
    /// The key JS makes of a number (`ToPropertyKey`): an index when it is
    /// one, else its JS string (`1.5` → `"1.5"`, `-1` → `"-1"`, `NaN`).
    pub fn from_number(n: f64) -> Self {
        if n.fract() == 0.0 && (0.0..=f64::from(MAX_INDEX)).contains(&n) {
            return PropertyKey::Index(n as u32);
        }
        let mut buf = ryu_js::Buffer::new();
        PropertyKey::Name(JsString::from(buf.format(n)))
    }

    /// Borrows this key.
    pub fn as_key(&self) -> Key<'_> {
        match self {
            PropertyKey::Index(i) => Key::Index(*i),
            PropertyKey::Name(s) => Key::Name(s),
        }
    }
}

/// The index `s` names, if it is a canonical array index.
pub(crate) fn parse_index(s: &str) -> Option<u32> {
    let canonical = !s.is_empty()
        && s.len() <= 10
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    s.parse::<u32>()
        .ok()
        .filter(|&i| canonical && i <= MAX_INDEX)
}

impl From<JsString> for PropertyKey {
    fn from(s: JsString) -> Self {
        match s.as_str().and_then(parse_index) {
            Some(i) => PropertyKey::Index(i),
            None => PropertyKey::Name(s),
        }
    }
}

impl From<&str> for PropertyKey {
    fn from(s: &str) -> Self {
        match parse_index(s) {
            Some(i) => PropertyKey::Index(i),
            None => PropertyKey::Name(s.into()),
        }
    }
}

impl From<String> for PropertyKey {
    fn from(s: String) -> Self {
        PropertyKey::from(JsString::from(s))
    }
}

impl From<u32> for PropertyKey {
    fn from(i: u32) -> Self {
        PropertyKey::from_number(f64::from(i))
    }
}

impl fmt::Debug for PropertyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_key(), f)
    }
}

impl fmt::Display for Key<'_> {
    /// The key as JS spells it (`"1"`, `"name"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Index(i) => write!(f, "{i}"),
            Key::Name(s) => fmt::Display::fmt(s, f),
        }
    }
}

impl fmt::Debug for Key<'_> {
    /// As `util.inspect` writes a key: bare when it is an identifier,
    /// else quoted (`'1'`, `'a-b'`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Index(i) => write!(f, "'{i}'"),
            Key::Name(s) => match s.as_str() {
                Some(id) if is_identifier(id) => f.write_str(id),
                _ => fmt::Debug::fmt(s, f),
            },
        }
    }
}

/// `util.inspect`'s test for keys printed without quotes.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A plain JS object: its own enumerable properties in JS order (indices
/// ascending, then names in insertion order). Class instances arrive as
/// plain objects (Node's serializer drops prototypes).
///
/// ```
/// use nodeipc::value::{JsObject, Value};
///
/// let mut o = JsObject::new();
/// o.insert("b", 1);
/// o.insert("1", "x");
/// o.insert("a", true);
/// let keys: Vec<String> = o.iter().map(|(k, _)| k.to_string()).collect();
/// assert_eq!(keys, ["1", "b", "a"]);
/// assert_eq!(o.get("b"), Some(&Value::from(1)));
/// ```
#[derive(Clone, Default)]
pub struct JsObject {
    indexed: BTreeMap<u32, Value>,
    named: Names,
}

impl JsObject {
    /// An empty object.
    pub fn new() -> Self {
        JsObject::default()
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.indexed.len() + self.named.len()
    }

    /// Whether it has no properties.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets a property; returns the previous value. A new name goes last, a
    /// replaced one keeps its place (as in JS).
    pub fn insert(
        &mut self,
        key: impl Into<PropertyKey>,
        value: impl Into<Value>,
    ) -> Option<Value> {
        match key.into() {
            // 2^32 - 1 is not an array index in JS: it is a name.
            PropertyKey::Index(u32::MAX) => self.named.insert("4294967295".into(), value.into()),
            PropertyKey::Index(i) => self.indexed.insert(i, value.into()),
            PropertyKey::Name(s) => self.named.insert(s, value.into()),
        }
    }

    /// Inserts a property that must be new: `false` (and nothing changes)
    /// if the key exists.
    pub(crate) fn insert_new(&mut self, key: PropertyKey, value: Value) -> bool {
        match key {
            PropertyKey::Index(i) => match self.indexed.entry(i) {
                std::collections::btree_map::Entry::Occupied(_) => false,
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(value);
                    true
                }
            },
            PropertyKey::Name(s) => self.named.insert_new(s, value),
        }
    }

    /// The property named `key` (`"1"` looks up index 1).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match parse_index(key) {
            Some(i) => self.indexed.get(&i),
            None => self.named.get(key),
        }
    }

    /// The property at `key`.
    pub fn get_key(&self, key: &PropertyKey) -> Option<&Value> {
        match key {
            PropertyKey::Index(i) => self.indexed.get(i),
            PropertyKey::Name(s) => self.named.get_key(s),
        }
    }

    /// Removes a property, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        match parse_index(key) {
            Some(i) => self.indexed.remove(&i),
            None => self.named.remove(key),
        }
    }

    /// The properties in JS order.
    pub fn iter(&self) -> impl Iterator<Item = (Key<'_>, &Value)> {
        let indexed = self.indexed.iter().map(|(i, v)| (Key::Index(*i), v));
        indexed.chain(self.named.iter().map(|(k, v)| (Key::Name(k), v)))
    }

    /// Every value held, in no particular order.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.indexed.values_mut().chain(self.named.values_mut())
    }

    pub(crate) fn indexed(&self) -> &BTreeMap<u32, Value> {
        &self.indexed
    }

    pub(crate) fn named(&self) -> &Names {
        &self.named
    }
}

impl<K: Into<PropertyKey>, V: Into<Value>> FromIterator<(K, V)> for JsObject {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut o = JsObject::new();
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_are_canonical_integers_below_2_pow_32_minus_1() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("4294967294"), Some(MAX_INDEX));
        for name in [
            "",
            "00",
            "01",
            "-1",
            "+1",
            "1.0",
            "4294967295",
            "99999999999",
            "1e3",
        ] {
            assert_eq!(parse_index(name), None, "{name}");
        }
        assert_eq!(
            PropertyKey::from(u32::MAX),
            PropertyKey::Name("4294967295".into())
        );
        assert_eq!(PropertyKey::from_number(-0.0), PropertyKey::Index(0));
        assert_eq!(
            PropertyKey::from_number(f64::NAN),
            PropertyKey::Name("NaN".into())
        );
        assert_eq!(
            PropertyKey::from_number(1e21),
            PropertyKey::Name("1e+21".into())
        );
    }

    #[test]
    fn keys_print_like_util_inspect() {
        let k = |s: &str| format!("{:?}", PropertyKey::from(s));
        assert_eq!(k("a_1"), "a_1");
        assert_eq!(k("1"), "'1'");
        assert_eq!(k("a-b"), "'a-b'");
        assert_eq!(k("$d"), "'$d'");
        assert_eq!(k(""), "''");
    }

    #[test]
    fn insert_new_refuses_duplicates() {
        let mut o = JsObject::new();
        assert!(o.insert_new("a".into(), Value::Null));
        assert!(!o.insert_new("a".into(), Value::Undefined));
        assert!(o.insert_new(PropertyKey::Index(3), Value::Null));
        assert!(!o.insert_new("3".into(), Value::Null));
        assert_eq!(o.get("a"), Some(&Value::Null));
        assert_eq!(o.remove("3"), Some(Value::Null));
    }
}
