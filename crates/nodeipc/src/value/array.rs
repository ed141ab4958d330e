//! `JsArray`: dense or holey, with extra named properties.

use std::collections::BTreeMap;

use super::names::Names;
use super::object::{Key, MAX_INDEX, PropertyKey, parse_index};
use super::{JsString, Value};

/// A JS array: a length, elements (possibly with holes), and extra named
/// properties (`Object.assign([1, 2], { p: 3 })`).
///
/// It is stored in one of two forms, which are also V8's two wire forms:
///
/// - **packed**: every index below the length holds a value (`[1, 2]`); V8
///   writes it densely (`A`).
/// - **holey**: a length and the indices that are present, in a sorted map
///   (`[1, , 3]`, `new Array(1e9)`, which costs nothing). V8 writes
///   arrays of a holey *kind* sparsely (`a`) even when no element is
///   missing: `new Array(3).fill(0)` is holey, and so is every array Node
///   has itself received, so echoing it back writes `a`.
///
/// The form is kept so that re-encoding a received array gives Node's
/// bytes; it does not affect equality. [`From<Vec<Value>>`](#impl-From%3CVec%3CValue%3E%3E-for-JsArray)
/// builds a packed array, [`JsArray::holey`] a holey one.
///
/// ```
/// use nodeipc::value::{JsArray, Value};
///
/// let mut a = JsArray::holey(3);
/// a.set(2, "x");
/// assert_eq!(a.len(), 3);
/// assert_eq!(a.get(0), None); // a hole
/// assert_eq!(format!("{a:?}"), "[ <2 empty items>, 'x' ]");
/// let b = JsArray::from(vec![Value::from(1), Value::Null]);
/// assert!(b.is_packed());
/// ```
#[derive(Clone)]
pub struct JsArray {
    items: Items,
    named: Names,
}

#[derive(Clone)]
enum Items {
    Packed(Vec<Value>),
    Holey {
        len: u32,
        items: BTreeMap<u32, Value>,
    },
}

impl JsArray {
    /// An empty (packed) array.
    pub fn new() -> Self {
        JsArray::from(Vec::new())
    }

    /// A holey array of `len` holes (`new Array(len)`).
    pub fn holey(len: u32) -> Self {
        JsArray {
            items: Items::Holey {
                len,
                items: BTreeMap::new(),
            },
            named: Names::default(),
        }
    }

    /// Whether the array is in packed form (see the type's docs).
    pub fn is_packed(&self) -> bool {
        matches!(self.items, Items::Packed(_))
    }

    /// The JS `length`, holes included.
    pub fn len(&self) -> usize {
        match &self.items {
            Items::Packed(v) => v.len(),
            Items::Holey { len, .. } => *len as usize,
        }
    }

    /// Whether the length is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element at `index`; `None` for a hole or past the end.
    pub fn get(&self, index: usize) -> Option<&Value> {
        match &self.items {
            Items::Packed(v) => v.get(index),
            Items::Holey { items, .. } => items.get(&u32::try_from(index).ok()?),
        }
    }

    /// Appends an element.
    pub fn push(&mut self, value: impl Into<Value>) {
        match &mut self.items {
            Items::Packed(v) => v.push(value.into()),
            Items::Holey { len, items } => {
                items.insert(*len, value.into());
                *len += 1;
            }
        }
    }

    /// Sets the element at `index` (at most 2^32 − 2), growing the array as
    /// JS does; setting past the end of a packed array makes it holey.
    /// Returns the previous element.
    ///
    /// # Panics
    ///
    /// If `index` is `u32::MAX`, which is not an array index.
    pub fn set(&mut self, index: u32, value: impl Into<Value>) -> Option<Value> {
        assert!(index <= MAX_INDEX, "{index} is not an array index");
        let value = value.into();
        if let Items::Packed(v) = &mut self.items {
            let i = index as usize;
            if i < v.len() {
                return Some(std::mem::replace(&mut v[i], value));
            }
            if i == v.len() {
                v.push(value);
                return None;
            }
            self.make_holey();
        }
        let Items::Holey { len, items } = &mut self.items else {
            unreachable!("made holey above")
        };
        *len = (*len).max(index + 1);
        items.insert(index, value)
    }

    fn make_holey(&mut self) {
        if let Items::Packed(v) = &mut self.items {
            let len = v.len() as u32;
            let items = std::mem::take(v).into_iter().enumerate();
            self.items = Items::Holey {
                len,
                items: items.map(|(i, v)| (i as u32, v)).collect(),
            };
        }
    }

    /// Every slot from 0 to the length: `None` for holes. A holey array
    /// may be long (up to 2^32 − 1 slots) while holding few elements: see
    /// [`elements`](Self::elements).
    pub fn iter(&self) -> impl Iterator<Item = Option<&Value>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The elements that are present, with their indices.
    pub fn elements(&self) -> impl Iterator<Item = (usize, &Value)> {
        let (packed, holey) = match &self.items {
            Items::Packed(v) => (Some(v.iter().enumerate()), None),
            Items::Holey { items, .. } => (None, Some(items.iter().map(|(i, v)| (*i as usize, v)))),
        };
        packed
            .into_iter()
            .flatten()
            .chain(holey.into_iter().flatten())
    }

    /// Sets a named property (`arr.p = 3`); an index-like name sets an
    /// element. Returns the previous value.
    ///
    /// # Panics
    ///
    /// If `name` is `"length"`, which every array has built in (Node
    /// rejects a message that defines it again).
    pub fn insert_property(
        &mut self,
        name: impl Into<JsString>,
        value: impl Into<Value>,
    ) -> Option<Value> {
        let name = name.into();
        assert!(
            name != "length",
            "`length` is not a property an array can be given"
        );
        match PropertyKey::from(name) {
            PropertyKey::Index(i) => self.set(i, value),
            PropertyKey::Name(n) => self.named.insert(n, value.into()),
        }
    }

    /// The named property `name` (`"1"` is element 1, `"length"` is not a
    /// stored property).
    pub fn get_property(&self, name: &str) -> Option<&Value> {
        match parse_index(name) {
            Some(i) => self.get(i as usize),
            None => self.named.get(name),
        }
    }

    /// The named (non-index) properties, in insertion order.
    pub fn properties(&self) -> impl Iterator<Item = (&JsString, &Value)> {
        self.named.iter()
    }

    /// Elements then named properties, as JS enumerates them.
    pub(crate) fn keys_and_values(&self) -> impl Iterator<Item = (Key<'_>, &Value)> {
        let elements = self.elements().map(|(i, v)| (Key::Index(i as u32), v));
        elements.chain(self.named.iter().map(|(k, v)| (Key::Name(k), v)))
    }

    /// Every value held: elements, then named properties.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        let (packed, holey) = match &mut self.items {
            Items::Packed(v) => (Some(v.iter_mut()), None),
            Items::Holey { items, .. } => (None, Some(items.values_mut())),
        };
        let elements = packed
            .into_iter()
            .flatten()
            .chain(holey.into_iter().flatten());
        elements.chain(self.named.values_mut())
    }

    pub(crate) fn packed(&self) -> Option<&[Value]> {
        match &self.items {
            Items::Packed(v) => Some(v),
            Items::Holey { .. } => None,
        }
    }

    pub(crate) fn holey_items(&self) -> Option<&BTreeMap<u32, Value>> {
        match &self.items {
            Items::Packed(_) => None,
            Items::Holey { items, .. } => Some(items),
        }
    }

    pub(crate) fn named(&self) -> &Names {
        &self.named
    }

    /// A packed array from decoded parts (the reader checked them).
    pub(crate) fn from_packed(items: Vec<Value>, named: Names) -> Self {
        JsArray {
            items: Items::Packed(items),
            named,
        }
    }

    /// A holey array from decoded parts (the reader checked them).
    pub(crate) fn from_holey(len: u32, items: BTreeMap<u32, Value>, named: Names) -> Self {
        JsArray {
            items: Items::Holey { len, items },
            named,
        }
    }
}

impl Default for JsArray {
    fn default() -> Self {
        JsArray::new()
    }
}

impl From<Vec<Value>> for JsArray {
    fn from(v: Vec<Value>) -> Self {
        JsArray {
            items: Items::Packed(v),
            named: Names::default(),
        }
    }
}

impl<V: Into<Value>> FromIterator<V> for JsArray {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        JsArray::from(iter.into_iter().map(Into::into).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_past_the_end_makes_a_packed_array_holey() {
        let mut a: JsArray = [1, 2].into_iter().collect();
        a.set(2, 3);
        assert!(a.is_packed());
        a.set(5, 6);
        assert!(!a.is_packed());
        assert_eq!(a.len(), 6);
        let present: Vec<usize> = a.elements().map(|(i, _)| i).collect();
        assert_eq!(present, [0, 1, 2, 5]);
        a.push(7);
        assert_eq!(a.get(6), Some(&Value::from(7)));
    }

    #[test]
    fn packed_and_holey_forms_compare_equal() {
        let packed: JsArray = [1, 2].into_iter().collect();
        let mut holey = JsArray::holey(0);
        holey.push(1);
        holey.push(2);
        assert_eq!(packed, holey);
        holey.insert_property("p", 3);
        assert_ne!(packed, holey);
        assert_eq!(holey.get_property("p"), Some(&Value::from(3)));
        assert_eq!(holey.get_property("1"), Some(&Value::from(2)));
    }

    #[test]
    #[should_panic(expected = "length")]
    fn length_cannot_be_a_property() {
        JsArray::new().insert_property("length", 1);
    }
}
