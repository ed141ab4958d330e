//! The values serde's data model maps to where the serializer and
//! `Value`'s own `Deserialize` agree: 128-bit integers, and maps (an object
//! or a `Map`). Both use these, so neither imports the other.

use std::sync::Arc;

use crate::value::{BigInt, JsMap, JsObject, PropertyKey, Value};

/// An integer as a number when JS holds it exactly (|n| ≤ 2^53 − 1), else
/// a BigInt.
pub(crate) fn int128(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(n) => Value::from(n),
        Err(_) => Value::BigInt(BigInt::from(n)),
    }
}

pub(crate) fn uint128(n: u128) -> Value {
    match u64::try_from(n) {
        Ok(n) => Value::from(n),
        Err(_) => Value::BigInt(BigInt::from(n)),
    }
}

/// The property key JS makes of a map key, if it makes one without loss
/// of the key's kind: strings, integral numbers, BigInts.
fn property_key(key: &Value) -> Option<PropertyKey> {
    match key {
        Value::String(s) => Some(PropertyKey::from(s.clone())),
        Value::Number(n) | Value::Double(n) if n.is_finite() && n.fract() == 0.0 => {
            // `-0` is the key "0" in JS.
            Some(PropertyKey::from_number(*n + 0.0))
        }
        Value::BigInt(b) => Some(PropertyKey::from(b.to_string())),
        _ => None,
    }
}

/// An object when every key is a string or an integer, else a `Map`.
pub(crate) fn map_value(entries: Vec<(Value, Value)>) -> Value {
    let keys: Option<Vec<PropertyKey>> = entries.iter().map(|(k, _)| property_key(k)).collect();
    match keys {
        Some(keys) => {
            let mut object = JsObject::new();
            for (key, (_, value)) in keys.into_iter().zip(entries) {
                object.insert(key, value);
            }
            Value::Object(Arc::new(object))
        }
        None => Value::Map(Arc::new(JsMap::from(entries))),
    }
}
