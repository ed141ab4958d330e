//! Named properties in insertion order: a plain vector searched linearly
//! while small, an `IndexMap` once large.
//!
//! Most objects on the wire have a handful of keys; for those a hash table
//! costs more (two allocations, hashing every key, a rehash as it grows)
//! than comparing a few short strings. Decoding a 64 KiB array of small
//! objects went from 3.2 to 1.4 ms (release build) with this.

use indexmap::IndexMap;

use super::{JsString, Value};

/// Past this many entries, names are kept in a hash map.
const SMALL: usize = 16;

#[derive(Clone, Default)]
pub(crate) enum Names {
    #[default]
    Empty,
    Small(Vec<(JsString, Value)>),
    Large(Box<IndexMap<JsString, Value>>),
}

/// The entries of [`Names`] in order.
pub(crate) enum Iter<'a> {
    Small(std::slice::Iter<'a, (JsString, Value)>),
    Large(indexmap::map::Iter<'a, JsString, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a JsString, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|(k, v)| (k, v)),
            Iter::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Small(it) => it.size_hint(),
            Iter::Large(it) => it.size_hint(),
        }
    }
}

impl Names {
    pub(crate) fn len(&self) -> usize {
        match self {
            Names::Empty => 0,
            Names::Small(v) => v.len(),
            Names::Large(m) => m.len(),
        }
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        match self {
            Names::Empty => Iter::Small([].iter()),
            Names::Small(v) => Iter::Small(v.iter()),
            Names::Large(m) => Iter::Large(m.iter()),
        }
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        let (small, large) = match self {
            Names::Empty => (None, None),
            Names::Small(v) => (Some(v.iter_mut().map(|(_, v)| v)), None),
            Names::Large(m) => (None, Some(m.values_mut())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Names::Empty => None,
            Names::Small(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Names::Large(m) => m.get(key),
        }
    }

    pub(crate) fn get_key(&self, key: &JsString) -> Option<&Value> {
        match self {
            Names::Empty => None,
            Names::Small(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            Names::Large(m) => m.get(key),
        }
    }

    /// Sets `key`; a new key goes last. Returns the previous value.
    pub(crate) fn insert(&mut self, key: JsString, value: Value) -> Option<Value> {
        if let Names::Large(m) = self {
            return m.insert(key, value);
        }
        if let Names::Small(v) = self
            && let Some((_, old)) = v.iter_mut().find(|(k, _)| *k == key)
        {
            return Some(std::mem::replace(old, value));
        }
        self.push(key, value);
        None
    }

    /// Adds a key that must be new: `false` (and nothing changes) if it is
    /// there.
    pub(crate) fn insert_new(&mut self, key: JsString, value: Value) -> bool {
        let exists = match self {
            Names::Empty => false,
            Names::Small(v) => v.iter().any(|(k, _)| *k == key),
            Names::Large(m) => m.contains_key(&key),
        };
        if !exists {
            self.push(key, value);
        }
        !exists
    }

    /// Appends a key known to be new.
    fn push(&mut self, key: JsString, value: Value) {
        match self {
            Names::Empty => *self = Names::Small(vec![(key, value)]),
            Names::Small(v) if v.len() < SMALL => v.push((key, value)),
            Names::Small(v) => {
                let mut m: IndexMap<JsString, Value> = std::mem::take(v).into_iter().collect();
                m.insert(key, value);
                *self = Names::Large(Box::new(m));
            }
            Names::Large(m) => {
                m.insert(key, value);
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Value> {
        match self {
            Names::Empty => None,
            Names::Small(v) => {
                let i = v.iter().position(|(k, _)| k == key)?;
                Some(v.remove(i).1)
            }
            Names::Large(m) => m.shift_remove(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_lookup_survive_growing_past_small() {
        let mut n = Names::default();
        for i in 0..40 {
            assert!(n.insert_new(JsString::from(format!("k{i}")), Value::from(i)));
        }
        assert!(!n.insert_new("k3".into(), Value::Null));
        assert_eq!(n.insert("k5".into(), Value::Null), Some(Value::from(5)));
        assert_eq!(n.get("k39"), Some(&Value::from(39)));
        assert_eq!(n.get("k5"), Some(&Value::Null));
        assert_eq!(n.remove("k0"), Some(Value::from(0)));
        let keys: Vec<String> = n.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys.first().map(String::as_str), Some("k1"));
        assert_eq!(keys.len(), 39);
        assert_eq!(n.iter().size_hint(), (39, Some(39)));
    }
}
