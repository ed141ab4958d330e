//! Map, Set, Date, RegExp, boxed primitives and Error.

use std::fmt;

use super::{BigInt, JsString, Value};

/// A JS `Map`: entries in insertion order.
///
/// Keys compare as JS compares them (SameValueZero: by value for
/// primitives, by identity — the same `Arc` — for objects). A received Map
/// is kept entry for entry as it came; Node never sends duplicate keys.
///
/// ```
/// use nodeipc::value::{JsMap, Value};
///
/// let mut m = JsMap::new();
/// m.insert("k", 1);
/// m.insert("k", 2);
/// assert_eq!(m.len(), 1);
/// assert_eq!(m.get(&Value::from("k")), Some(&Value::from(2)));
/// ```
#[derive(Clone, Default)]
pub struct JsMap {
    entries: Vec<(Value, Value)>,
}

impl JsMap {
    /// An empty Map.
    pub fn new() -> Self {
        JsMap::default()
    }

    /// `map.set(key, value)`: replaces the value of an equal key (linear
    /// search), else appends. Returns the previous value.
    pub fn insert(&mut self, key: impl Into<Value>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        match self
            .entries
            .iter_mut()
            .find(|(k, _)| k.same_value_zero(&key))
        {
            Some((_, v)) => Some(std::mem::replace(v, value.into())),
            None => {
                self.entries.push((key, value.into()));
                None
            }
        }
    }

    /// Appends an entry without looking for an equal key (for building
    /// large Maps whose keys are known to be distinct).
    pub fn push(&mut self, key: impl Into<Value>, value: impl Into<Value>) {
        self.entries.push((key.into(), value.into()));
    }

    /// `map.get(key)` (linear search).
    pub fn get(&self, key: &Value) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(k, _)| k.same_value_zero(key))
            .map(|(_, v)| v)
    }

    /// The entries in order.
    pub fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }

    pub(super) fn entries_mut(&mut self) -> &mut Vec<(Value, Value)> {
        &mut self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<Vec<(Value, Value)>> for JsMap {
    /// The entries as given (no search for equal keys).
    fn from(entries: Vec<(Value, Value)>) -> Self {
        JsMap { entries }
    }
}

impl<K: Into<Value>, V: Into<Value>> FromIterator<(K, V)> for JsMap {
    /// Like repeated [`insert`](JsMap::insert).
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut m = JsMap::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

/// A JS `Set`: values in insertion order, compared as [`JsMap`] keys are.
#[derive(Clone, Default)]
pub struct JsSet {
    items: Vec<Value>,
}

impl JsSet {
    /// An empty Set.
    pub fn new() -> Self {
        JsSet::default()
    }

    /// `set.add(value)`: `false` if an equal value is already there.
    pub fn insert(&mut self, value: impl Into<Value>) -> bool {
        let value = value.into();
        if self.contains(&value) {
            return false;
        }
        self.items.push(value);
        true
    }

    /// Appends without looking for an equal value.
    pub fn push(&mut self, value: impl Into<Value>) {
        self.items.push(value.into());
    }

    /// `set.has(value)` (linear search).
    pub fn contains(&self, value: &Value) -> bool {
        self.items.iter().any(|v| v.same_value_zero(value))
    }

    /// The values in order.
    pub fn values(&self) -> &[Value] {
        &self.items
    }

    pub(super) fn items_mut(&mut self) -> &mut Vec<Value> {
        &mut self.items
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl From<Vec<Value>> for JsSet {
    /// The values as given (no search for equal ones).
    fn from(items: Vec<Value>) -> Self {
        JsSet { items }
    }
}

impl<V: Into<Value>> FromIterator<V> for JsSet {
    /// Like repeated [`insert`](JsSet::insert).
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        let mut s = JsSet::new();
        for v in iter {
            s.insert(v);
        }
        s
    }
}

/// A JS `Date`: milliseconds since the Unix epoch, or NaN for an invalid
/// date.
///
/// ```
/// use nodeipc::value::JsDate;
///
/// assert_eq!(format!("{:?}", JsDate::new(0.0)), "1970-01-01T00:00:00.000Z");
/// assert_eq!(JsDate::new(1.9).time(), 1.0); // TimeClip truncates
/// assert!(!JsDate::new(9e15).is_valid()); // beyond ±8.64e15 ms
/// ```
#[derive(Clone, Copy)]
pub struct JsDate(f64);

impl JsDate {
    /// A date at `ms` milliseconds since the epoch, after JS's `TimeClip`
    /// (as `new Date(ms)` and V8's reader apply it): truncated toward zero,
    /// NaN beyond ±8.64e15, `-0` made `+0`.
    pub fn new(ms: f64) -> Self {
        if !ms.is_finite() || ms.abs() > 8.64e15 {
            return JsDate(f64::NAN);
        }
        JsDate(ms.trunc() + 0.0)
    }

    /// The current time.
    pub fn now() -> Self {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        JsDate::new(since.map_or(0.0, |d| d.as_millis() as f64))
    }

    /// Milliseconds since the epoch (NaN if invalid).
    pub fn time(&self) -> f64 {
        self.0
    }

    /// Whether the date is valid (not NaN).
    pub fn is_valid(&self) -> bool {
        !self.0.is_nan()
    }

    /// `date.toISOString()`; `None` for an invalid date (JS throws).
    pub fn to_iso_string(&self) -> Option<String> {
        if !self.is_valid() {
            return None;
        }
        let ms = self.0 as i64;
        let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
        let (y, m, d) = civil_from_days(days);
        let year = if (0..=9999).contains(&y) {
            format!("{y:04}")
        } else {
            format!("{}{:06}", if y < 0 { '-' } else { '+' }, y.abs())
        };
        let (h, min, s, milli) = (
            ms_of_day / 3_600_000,
            ms_of_day / 60_000 % 60,
            ms_of_day / 1000 % 60,
            ms_of_day % 1000,
        );
        Some(format!(
            "{year}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z"
        ))
    }
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian;
/// H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl PartialEq for JsDate {
    /// Same time; two invalid dates are equal.
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || (self.0.is_nan() && other.0.is_nan())
    }
}

impl fmt::Debug for JsDate {
    /// As `util.inspect`: the ISO string, or `Invalid Date`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_iso_string().as_deref().unwrap_or("Invalid Date"))
    }
}

/// The flags of a RegExp, as V8 numbers them on the wire.
///
/// ```
/// use nodeipc::value::RegExpFlags;
///
/// let f = RegExpFlags::parse("gi").unwrap();
/// assert_eq!(f.bits(), 3);
/// assert_eq!(f.to_string(), "gi");
/// assert!(RegExpFlags::parse("uv").is_none()); // exclusive in JS
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RegExpFlags(u32);

/// JS flag letters with V8's bits, in the order `flags` spells them.
const FLAG_LETTERS: [(char, u32); 8] = [
    ('d', 128),
    ('g', 1),
    ('i', 2),
    ('m', 4),
    ('s', 32),
    ('u', 16),
    ('v', 256),
    ('y', 8),
];

impl RegExpFlags {
    /// `g`.
    pub const GLOBAL: u32 = 1;
    /// `i`.
    pub const IGNORE_CASE: u32 = 2;
    /// `m`.
    pub const MULTILINE: u32 = 4;
    /// `y`.
    pub const STICKY: u32 = 8;
    /// `u`.
    pub const UNICODE: u32 = 16;
    /// `s`.
    pub const DOT_ALL: u32 = 32;
    /// `d`.
    pub const HAS_INDICES: u32 = 128;
    /// `v`.
    pub const UNICODE_SETS: u32 = 256;

    /// The flags for `bits`, if they are a set JS allows: known flags only,
    /// and not both `u` and `v`. (V8's experimental `l` flag, bit 64, is
    /// refused, as Node refuses it by default.)
    pub fn from_bits(bits: u32) -> Option<Self> {
        let known = FLAG_LETTERS.iter().fold(0, |acc, (_, b)| acc | b);
        let uv = Self::UNICODE | Self::UNICODE_SETS;
        (bits & !known == 0 && bits & uv != uv).then_some(RegExpFlags(bits))
    }

    /// The flags spelled as in JS (`"gi"`), if valid and without repeats.
    pub fn parse(letters: &str) -> Option<Self> {
        let mut bits = 0;
        for c in letters.chars() {
            let (_, bit) = FLAG_LETTERS.iter().find(|(l, _)| *l == c)?;
            if bits & bit != 0 {
                return None;
            }
            bits |= bit;
        }
        Self::from_bits(bits)
    }

    /// The wire bits.
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl fmt::Display for RegExpFlags {
    /// The letters in JS's order (`"dgimsuvy"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FLAG_LETTERS
            .iter()
            .filter(|(_, bit)| self.0 & bit != 0)
            .try_for_each(|(c, _)| write!(f, "{c}"))
    }
}

impl fmt::Debug for RegExpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RegExpFlags({self})")
    }
}

/// A JS `RegExp`: its `source` and flags. The source is not checked when
/// one is built; the `advanced` writer refuses one that V8 does not
/// compile ([`JsRegExp::is_valid`]), as Node dies reading such a message.
#[derive(Clone, PartialEq)]
pub struct JsRegExp {
    /// The pattern, as `re.source` gives it (`/a\/b/` has source `a\/b`).
    pub source: JsString,
    /// The flags.
    pub flags: RegExpFlags,
}

impl fmt::Debug for JsRegExp {
    /// `/ab+c/gi`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/{}", self.source, self.flags)
    }
}

/// The primitive inside a boxed primitive (`new Number(2)`, `Object(1n)`).
#[derive(Clone)]
pub enum Primitive {
    /// `new Boolean(b)`.
    Boolean(bool),
    /// `new Number(n)`.
    Number(f64),
    /// `Object(n)` for a BigInt.
    BigInt(BigInt),
    /// `new String(s)`.
    String(JsString),
}

impl PartialEq for Primitive {
    /// Numbers compare with `Object.is` (NaN equals NaN, `-0` is not `0`).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Primitive::Boolean(a), Primitive::Boolean(b)) => a == b,
            (Primitive::Number(a), Primitive::Number(b)) => super::same_value(*a, *b),
            (Primitive::BigInt(a), Primitive::BigInt(b)) => a == b,
            (Primitive::String(a), Primitive::String(b)) => a == b,
            _ => false,
        }
    }
}

/// The constructor of an Error, as V8 carries it over the wire. Subclasses
/// (`class MyError extends Error`) arrive as the built-in they extend.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum ErrorName {
    /// `Error` (also any unknown `name`).
    #[default]
    Error,
    /// `EvalError`.
    EvalError,
    /// `RangeError`.
    RangeError,
    /// `ReferenceError`.
    ReferenceError,
    /// `SyntaxError`.
    SyntaxError,
    /// `TypeError`.
    TypeError,
    /// `URIError`.
    UriError,
}

impl ErrorName {
    /// The JS name (`"RangeError"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::Error => "Error",
            ErrorName::EvalError => "EvalError",
            ErrorName::RangeError => "RangeError",
            ErrorName::ReferenceError => "ReferenceError",
            ErrorName::SyntaxError => "SyntaxError",
            ErrorName::TypeError => "TypeError",
            ErrorName::UriError => "URIError",
        }
    }
}

/// A JS Error object, with what V8 sends of it: the constructor, the own
/// `message`, `cause` (`Some(Undefined)` when it is set to `undefined`) and
/// a string `stack`. Other own properties (`code`…) do not travel.
///
/// ```
/// use nodeipc::value::{ErrorName, JsError, Value};
///
/// let e = JsError {
///     name: ErrorName::RangeError,
///     message: Some("boom".into()),
///     ..JsError::default()
/// };
/// assert_eq!(format!("{:?}", Value::from(e)), "[RangeError: boom]");
/// ```
#[derive(Clone, Default)]
pub struct JsError {
    /// Which built-in constructor.
    pub name: ErrorName,
    /// The own `message`, if set.
    pub message: Option<JsString>,
    /// The `stack` string, if it is one.
    pub stack: Option<JsString>,
    /// The own `cause`, if set.
    pub cause: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_strings_match_js() {
        let iso = |ms: f64| JsDate::new(ms).to_iso_string().unwrap();
        assert_eq!(iso(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(-1.0), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(951_782_400_000.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(8.64e15), "+275760-09-13T00:00:00.000Z");
        assert_eq!(iso(-8.64e15), "-271821-04-20T00:00:00.000Z");
        assert_eq!(iso(-62_198_755_200_000.0), "-000001-01-01T00:00:00.000Z");
        assert!(JsDate::new(-0.0).time().is_sign_positive());
    }

    #[test]
    fn regexp_flags_are_checked() {
        assert_eq!(RegExpFlags::parse("dgimsuy").map(|f| f.bits()), Some(191));
        assert_eq!(RegExpFlags::parse("v").map(|f| f.bits()), Some(256));
        assert!(RegExpFlags::parse("gg").is_none());
        assert!(RegExpFlags::parse("x").is_none());
        assert!(RegExpFlags::from_bits(64).is_none());
        assert!(RegExpFlags::from_bits(512).is_none());
    }

    #[test]
    fn maps_and_sets_compare_keys_with_same_value_zero() {
        let mut m = JsMap::new();
        m.insert(f64::NAN, 1);
        m.insert(f64::NAN, 2);
        m.insert(-0.0, 3);
        m.insert(0.0, 4);
        assert_eq!(m.len(), 2);
        let s: JsSet = [Value::from(1), Value::from(1.0), Value::from("1")]
            .into_iter()
            .collect();
        assert_eq!(s.len(), 2);
    }
}
