//! Dropping deep values without recursion.
//!
//! The default `Drop` of a tree recurses once per level. Arrays, objects,
//! Maps and Sets instead move their nested objects onto a local stack and
//! take those apart one by one, so a value of any depth can be dropped on
//! any thread. (An Error reached that way is taken apart too; a chain of
//! Errors dropped directly, each the `cause` of the next, still recurses.)

use std::sync::Arc;

use super::{JsArray, JsMap, JsObject, JsSet, Value};

/// Moves the children that may own further objects into `out`.
fn take_nested<'a>(children: impl Iterator<Item = &'a mut Value>, out: &mut Vec<Value>) {
    for c in children {
        if matches!(
            c,
            Value::Array(_) | Value::Object(_) | Value::Map(_) | Value::Set(_) | Value::Error(_)
        ) {
            out.push(std::mem::take(c));
        }
    }
}

/// Drops `stack` and everything only it owns, one object at a time.
fn drain(mut stack: Vec<Value>) {
    while let Some(v) = stack.pop() {
        // An object still shared elsewhere just loses one reference.
        match v {
            Value::Array(a) => {
                if let Some(mut a) = Arc::into_inner(a) {
                    a.take_nested(&mut stack);
                }
            }
            Value::Object(o) => {
                if let Some(mut o) = Arc::into_inner(o) {
                    o.take_nested(&mut stack);
                }
            }
            Value::Map(m) => {
                if let Some(mut m) = Arc::into_inner(m) {
                    m.take_nested(&mut stack);
                }
            }
            Value::Set(s) => {
                if let Some(mut s) = Arc::into_inner(s) {
                    s.take_nested(&mut stack);
                }
            }
            Value::Error(e) => {
                if let Some(mut e) = Arc::into_inner(e) {
                    stack.extend(e.cause.take());
                }
            }
            _ => {}
        }
    }
}

macro_rules! drop_without_recursion {
    ($($t:ty),*) => {$(
        impl Drop for $t {
            fn drop(&mut self) {
                let mut nested = Vec::new();
                self.take_nested(&mut nested);
                drain(nested);
            }
        }
    )*};
}
drop_without_recursion!(JsArray, JsObject, JsMap, JsSet);

impl JsArray {
    fn take_nested(&mut self, out: &mut Vec<Value>) {
        take_nested(self.values_mut(), out);
    }
}

impl JsObject {
    fn take_nested(&mut self, out: &mut Vec<Value>) {
        take_nested(self.values_mut(), out);
    }
}

impl JsMap {
    fn take_nested(&mut self, out: &mut Vec<Value>) {
        take_nested(self.entries_mut().iter_mut().flat_map(|(k, v)| [k, v]), out);
    }
}

impl JsSet {
    fn take_nested(&mut self, out: &mut Vec<Value>) {
        take_nested(self.items_mut().iter_mut(), out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::JsError;
    use super::*;

    #[test]
    fn a_million_levels_drop_without_overflowing_the_stack() {
        let mut v = Value::Null;
        for i in 0..1_000_000 {
            v = match i % 5 {
                0 => Value::array([v]),
                1 => Value::object([("k", v)]),
                2 => JsMap::from(vec![(v, Value::Null)]).into(),
                3 => JsSet::from(vec![v]).into(),
                _ => JsError {
                    cause: Some(v),
                    ..JsError::default()
                }
                .into(),
            };
        }
        drop(v);
    }

    #[test]
    fn shared_children_survive_their_parent() {
        let shared = Value::array([1]);
        drop(Value::array([
            shared.clone(),
            Value::object([("s", shared.clone())]),
        ]));
        assert_eq!(shared, Value::array([1]));
    }
}
