//! Structural equality, without recursion: pairs still to compare wait on
//! a stack, so comparing deep values cannot overflow the thread's stack.
//! Each pair of containers is compared once: shared objects would
//! otherwise be compared at every place they appear (a message of a few
//! hundred bytes can share its way to 2^60 objects).

use std::collections::HashSet;
use std::sync::Arc;

use super::{JsArray, JsError, JsMap, JsObject, JsSet, Value, same_value};

/// Pairs of values still to compare, and the pairs of containers already
/// taken up (by address: seen again, they are equal or the first visit
/// finds the difference).
#[derive(Default)]
pub(super) struct Pending<'a>(Vec<(&'a Value, &'a Value)>, HashSet<(usize, usize)>);

impl<'a> Pending<'a> {
    /// Compares everything pushed so far.
    pub(super) fn run(mut self) -> bool {
        while let Some((a, b)) = self.0.pop() {
            if !self.value(a, b) {
                return false;
            }
        }
        true
    }

    /// Compares `a` and `b` shallowly; their children are pushed.
    fn value(&mut self, a: &'a Value, b: &'a Value) -> bool {
        use Value::*;
        match (a, b) {
            (Undefined, Undefined) | (Null, Null) => true,
            (Bool(x), Bool(y)) => x == y,
            (Number(x) | Double(x), Number(y) | Double(y)) => same_value(*x, *y),
            (BigInt(x), BigInt(y)) => x == y,
            (String(x), String(y)) => x == y,
            (Circular(x), Circular(y)) => x == y,
            (Array(x), Array(y)) => self.again(x, y) || self.array(x, y),
            (Object(x), Object(y)) => self.again(x, y) || self.object(x, y),
            (Map(x), Map(y)) => self.again(x, y) || self.map(x, y),
            (Set(x), Set(y)) => self.again(x, y) || self.set(x, y),
            (Error(x), Error(y)) => self.again(x, y) || self.error(x, y),
            (Date(x), Date(y)) => **x == **y,
            (RegExp(x), RegExp(y)) => **x == **y,
            (Boxed(x), Boxed(y)) => **x == **y,
            (ArrayBuffer(x), ArrayBuffer(y)) => **x == **y,
            (View(x), View(y)) => **x == **y,
            _ => false,
        }
    }

    /// Whether `a` and `b` are the same container, or a pair taken up
    /// before (then nothing more is compared for it).
    fn again<T>(&mut self, a: &Arc<T>, b: &Arc<T>) -> bool {
        Arc::ptr_eq(a, b)
            || !self
                .1
                .insert((Arc::as_ptr(a) as usize, Arc::as_ptr(b) as usize))
    }

    pub(super) fn array(&mut self, a: &'a JsArray, b: &'a JsArray) -> bool {
        if a.len() != b.len() || a.named().len() != b.named().len() {
            return false;
        }
        let mut eb = b.elements();
        for (i, x) in a.elements() {
            match eb.next() {
                Some((j, y)) if i == j => self.0.push((x, y)),
                _ => return false,
            }
        }
        eb.next().is_none() && self.props(a.named().iter(), b.named().iter())
    }

    pub(super) fn object(&mut self, a: &'a JsObject, b: &'a JsObject) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b.iter()).all(|((ka, x), (kb, y))| {
            self.0.push((x, y));
            ka == kb
        })
    }

    fn props<K: PartialEq + 'a>(
        &mut self,
        a: impl Iterator<Item = (K, &'a Value)>,
        b: impl Iterator<Item = (K, &'a Value)>,
    ) -> bool {
        a.zip(b).all(|((ka, x), (kb, y))| {
            self.0.push((x, y));
            ka == kb
        })
    }

    pub(super) fn map(&mut self, a: &'a JsMap, b: &'a JsMap) -> bool {
        a.len() == b.len()
            && a.entries()
                .iter()
                .zip(b.entries())
                .all(|((ka, x), (kb, y))| {
                    self.0.extend([(ka, kb), (x, y)]);
                    true
                })
    }

    pub(super) fn set(&mut self, a: &'a JsSet, b: &'a JsSet) -> bool {
        a.len() == b.len() && {
            self.0.extend(a.values().iter().zip(b.values()));
            true
        }
    }

    pub(super) fn error(&mut self, a: &'a JsError, b: &'a JsError) -> bool {
        if (a.name, &a.message, &a.stack) != (b.name, &b.message, &b.stack) {
            return false;
        }
        match (&a.cause, &b.cause) {
            (None, None) => true,
            (Some(x), Some(y)) => {
                self.0.push((x, y));
                true
            }
            _ => false,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        let mut p = Pending::default();
        p.0.push((self, other));
        p.run()
    }
}

macro_rules! eq_via_pending {
    ($($t:ty => $f:ident),*) => {$(
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                let mut p = Pending::default();
                p.$f(self, other) && p.run()
            }
        }
    )*};
}
eq_via_pending!(JsArray => array, JsObject => object, JsMap => map, JsSet => set, JsError => error);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_values_compare_without_recursion() {
        let deep = |n| {
            let mut v = Value::Null;
            for i in 0..n {
                v = match i % 4 {
                    0 => Value::array([v]),
                    1 => Value::object([("k", v)]),
                    2 => JsMap::from(vec![(Value::Null, v)]).into(),
                    _ => JsError {
                        cause: Some(v),
                        ..JsError::default()
                    }
                    .into(),
                };
            }
            v
        };
        let (a, b) = (deep(100_000), deep(100_000));
        assert!(a == b);
        assert!(a != deep(99_999));
    }

    #[test]
    fn shared_objects_are_compared_once() {
        // 2^60 arrays by sharing, built twice: compared pair by pair.
        let diamond = |leaf: i32| {
            let mut v = Value::array([leaf]);
            for _ in 0..60 {
                v = Value::array([v.clone(), v]);
            }
            v
        };
        assert!(diamond(1) == diamond(1));
        assert!(diamond(1) != diamond(2));
    }

    #[test]
    fn holes_and_named_properties_must_match() {
        let mut a = JsArray::holey(3);
        a.set(1, 1);
        let mut b = JsArray::holey(3);
        b.set(2, 1);
        assert!(a != b);
        let mut c = a.clone();
        c.insert_property("p", 1);
        assert!(a != c);
    }
}
