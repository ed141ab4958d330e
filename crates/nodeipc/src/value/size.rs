//! What a [`Value`] holds in memory, counted once per object: the base of
//! the read-out budget ([`Limits::max_expansion`](crate::Limits::max_expansion))
//! for a value that did not come with its message's length.

use std::collections::HashSet;

use super::{Primitive, Value};

/// What one value costs in a read-out budget, on top of its string or
/// buffer bytes: the size of a [`Value`] (and about that of a
/// `serde_json::Value`).
pub(crate) const VALUE_COST: usize = 32;

/// Bytes of a string or buffer value (a boxed string's too), 0 for others.
pub(crate) fn payload_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.storage_len(),
        Value::Boxed(p) => match &**p {
            Primitive::String(s) => s.storage_len(),
            _ => 0,
        },
        _ => v.as_bytes().map_or(0, |b| b.len()),
    }
}

impl Value {
    /// About how many bytes this value holds: [`VALUE_COST`] per value and
    /// property key, plus its strings' and buffers' bytes, with a shared
    /// object counted once (as it is held once). Walks every object once,
    /// without recursing.
    pub(crate) fn held_bytes(&self) -> usize {
        let mut seen = HashSet::new();
        let mut stack = vec![self];
        let mut total = 0usize;
        while let Some(v) = stack.pop() {
            total = total.saturating_add(VALUE_COST);
            if let Some(p) = v.object_ptr()
                && !seen.insert(p)
            {
                continue;
            }
            // A shared buffer or boxed string is held once.
            total = total.saturating_add(payload_len(v));
            match v {
                Value::Array(a) => {
                    stack.extend(a.elements().map(|(_, v)| v));
                    for (k, v) in a.properties() {
                        total = total.saturating_add(VALUE_COST + k.storage_len());
                        stack.push(v);
                    }
                }
                Value::Object(o) => {
                    total = total.saturating_add(VALUE_COST.saturating_mul(o.len()));
                    stack.extend(o.iter().map(|(_, v)| v));
                }
                Value::Map(m) => stack.extend(m.entries().iter().flat_map(|(k, v)| [k, v])),
                Value::Set(s) => stack.extend(s.values()),
                Value::Error(e) => {
                    let texts = [&e.message, &e.stack];
                    let text: usize = texts
                        .iter()
                        .filter_map(|t| t.as_ref())
                        .map(|t| t.storage_len())
                        .sum();
                    total = total.saturating_add(text);
                    stack.extend(e.cause.as_ref());
                }
                Value::RegExp(r) => total = total.saturating_add(r.source.storage_len()),
                _ => {}
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_buffers_and_boxed_strings_count_once() {
        for shared in [
            Value::buffer(vec![0; 1 << 16]),
            Value::from(Primitive::String("s".repeat(1 << 16).into())),
        ] {
            let v = Value::array(vec![shared.clone(); 64]);
            assert!(
                v.held_bytes() < (1 << 16) + 66 * VALUE_COST,
                "{}",
                v.held_bytes()
            );
        }
    }

    #[test]
    fn shared_objects_count_once() {
        let mut v = Value::array([Value::from("x".repeat(100))]);
        let one = v.held_bytes();
        for _ in 0..60 {
            v = Value::array([v.clone(), v]);
        }
        assert!(
            v.held_bytes() < one + 60 * 3 * VALUE_COST,
            "{}",
            v.held_bytes()
        );
    }
}
