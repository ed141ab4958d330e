//! Conversions between [`Value`] and `serde_json::Value`, with the
//! semantics of `JSON.stringify` and `JSON.parse`.

use std::fmt;

use serde_json::{Map, Number};

use super::size::VALUE_COST;
use super::{ArrayBufferView, JsArray, JsObject, Primitive, Value, ViewKind};
use crate::limits::Limits;

/// Why a [`Value`] has no JSON form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToJsonError {
    /// A BigInt (`JSON.stringify` throws `TypeError: Do not know how to
    /// serialize a BigInt`).
    BigInt,
    /// A cycle, [`Value::Circular`] (`JSON.stringify` throws `Converting
    /// circular structure to JSON`).
    Circular,
    /// The JSON would take more than the read-out budget
    /// ([`Limits::max_expansion`] × what the value holds, or
    /// [`Limits::max_elements`] values): `JSON.stringify` repeats shared
    /// objects, writes a `null` per hole and a number per Buffer byte, so
    /// a small message can stand for a huge JSON text.
    TooLarge {
        /// The budget in force, in bytes (32 per JSON value plus its
        /// strings' bytes).
        budget: usize,
    },
}

impl fmt::Display for ToJsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToJsonError::BigInt => f.write_str("a BigInt has no JSON form"),
            ToJsonError::Circular => f.write_str("a circular structure has no JSON form"),
            ToJsonError::TooLarge { budget } => write!(
                f,
                "the JSON form would take more than {budget} bytes (Limits::max_expansion × \
                 what the value holds, or Limits::max_elements values: shared objects repeat)"
            ),
        }
    }
}

impl std::error::Error for ToJsonError {}

impl Value {
    /// The JSON `JSON.stringify` makes of this value, which is also what a
    /// Node peer would have sent for it over a `json` channel (docs/protocol.md
    /// §2.2). Lossy, as in JS:
    ///
    /// | value | JSON |
    /// |---|---|
    /// | `undefined` | omitted from objects, `null` in arrays and at the top |
    /// | NaN, ±Infinity | `null` |
    /// | `-0` | `0` |
    /// | integral numbers | integers; others `f64` |
    /// | strings with lone surrogates | U+FFFD in their place |
    /// | holes | `null`; extra array properties are dropped |
    /// | Date | its ISO string (`null` if invalid) |
    /// | Buffer | `{"type":"Buffer","data":[bytes]}` |
    /// | typed arrays | `{"0":x,"1":y,…}` |
    /// | Map, Set, RegExp, Error, ArrayBuffer, DataView | `{}` |
    /// | boxed primitives | the primitive |
    /// | shared objects | repeated in full |
    /// | BigInt (also boxed, or a BigInt64Array element) | [`ToJsonError::BigInt`] |
    /// | cycles | [`ToJsonError::Circular`] |
    ///
    /// What is produced is bounded by the read-out budget of
    /// [`Limits::default`] ([`to_json_limited`](Self::to_json_limited)).
    pub fn to_json(&self) -> Result<serde_json::Value, ToJsonError> {
        self.to_json_limited(&Limits::default())
    }

    /// [`to_json`](Self::to_json) within `limits`: at most
    /// [`Limits::expansion_budget`] of what this value holds (shared objects
    /// counted once; capped at [`Limits::max_message_len`]) in bytes, 32
    /// per JSON value plus its strings' bytes, and at most
    /// [`Limits::max_elements`] JSON values.
    pub fn to_json_limited(&self, limits: &Limits) -> Result<serde_json::Value, ToJsonError> {
        let size = self.held_bytes().min(limits.max_message_len);
        let budget = limits.expansion_budget(size);
        let mut c = ToJson {
            left: budget,
            budget,
            nodes_left: limits.max_elements,
            tasks: vec![Task::Value(self)],
            done: Vec::new(),
        };
        c.run()?;
        Ok(c.done.pop().flatten().unwrap_or(serde_json::Value::Null))
    }
}

/// Converts without recursing: values to convert wait on `tasks`, and
/// converted ones on `done` until their container is complete.
struct ToJson<'v> {
    /// Bytes of the budget left.
    left: usize,
    budget: usize,
    nodes_left: usize,
    tasks: Vec<Task<'v>>,
    /// Converted values; `None` where `JSON.stringify` writes nothing.
    done: Vec<Option<serde_json::Value>>,
}

enum Task<'v> {
    Value(&'v Value),
    Hole,
    EndArray(usize),
    EndObject(Vec<String>),
}

fn number(n: f64) -> serde_json::Value {
    const SAFE: f64 = 9_007_199_254_740_991.0;
    if n.fract() == 0.0 && n.abs() <= SAFE {
        serde_json::Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

impl<'v> ToJson<'v> {
    /// Takes `n` JSON values with `bytes` of text among them from the
    /// budget.
    fn count(&mut self, n: usize, bytes: usize) -> Result<(), ToJsonError> {
        let too_large = ToJsonError::TooLarge {
            budget: self.budget,
        };
        let cost = n.saturating_mul(VALUE_COST).saturating_add(bytes);
        self.left = self.left.checked_sub(cost).ok_or(too_large.clone())?;
        self.nodes_left = self.nodes_left.checked_sub(n).ok_or(too_large)?;
        Ok(())
    }

    fn run(&mut self) -> Result<(), ToJsonError> {
        use serde_json::Value as J;
        while let Some(task) = self.tasks.pop() {
            match task {
                Task::Value(v) => self.value(v)?,
                Task::Hole => self.done.push(None),
                Task::EndArray(len) => {
                    let items = self.done.split_off(self.done.len() - len);
                    let items = items.into_iter().map(|j| j.unwrap_or(J::Null));
                    self.done.push(Some(J::Array(items.collect())));
                }
                Task::EndObject(keys) => {
                    let values = self.done.split_off(self.done.len() - keys.len());
                    let props = keys
                        .into_iter()
                        .zip(values)
                        .filter_map(|(k, v)| Some((k, v?)));
                    self.done.push(Some(J::Object(props.collect())));
                }
            }
        }
        Ok(())
    }

    /// Converts a leaf, or queues a container's contents.
    fn value(&mut self, v: &'v Value) -> Result<(), ToJsonError> {
        use serde_json::Value as J;
        self.count(1, super::size::payload_len(v))?;
        let j = match v {
            Value::Undefined => None,
            Value::Null => Some(J::Null),
            Value::Bool(b) => Some(J::Bool(*b)),
            Value::Number(n) | Value::Double(n) => Some(number(*n)),
            Value::BigInt(_) => return Err(ToJsonError::BigInt),
            Value::String(s) => Some(J::String(s.to_string_lossy().into_owned())),
            Value::Circular(_) => return Err(ToJsonError::Circular),
            Value::Date(d) => Some(d.to_iso_string().map_or(J::Null, J::String)),
            Value::Boxed(p) => Some(match &**p {
                Primitive::Boolean(b) => J::Bool(*b),
                Primitive::Number(n) => number(*n),
                Primitive::String(s) => J::String(s.to_string_lossy().into_owned()),
                Primitive::BigInt(_) => return Err(ToJsonError::BigInt),
            }),
            Value::View(view) => Some(self.view(view)?),
            Value::Map(_)
            | Value::Set(_)
            | Value::RegExp(_)
            | Value::Error(_)
            | Value::ArrayBuffer(_) => Some(J::Object(Map::new())),
            Value::Array(a) => return self.array(a),
            Value::Object(o) => return self.object(o),
        };
        self.done.push(j);
        Ok(())
    }

    fn array(&mut self, a: &'v JsArray) -> Result<(), ToJsonError> {
        // Holes become nulls: count them before queueing anything.
        self.count(a.len().saturating_sub(a.elements().count()), 0)?;
        self.tasks.push(Task::EndArray(a.len()));
        let slots: Vec<_> = a.iter().collect();
        self.tasks.extend(
            slots
                .into_iter()
                .rev()
                .map(|s| s.map_or(Task::Hole, Task::Value)),
        );
        Ok(())
    }

    fn object(&mut self, o: &'v JsObject) -> Result<(), ToJsonError> {
        let keys: Vec<String> = o.iter().map(|(k, _)| k.to_string()).collect();
        self.count(0, keys.iter().map(String::len).sum())?;
        self.tasks.push(Task::EndObject(keys));
        let values: Vec<_> = o.iter().map(|(_, v)| Task::Value(v)).collect();
        self.tasks.extend(values.into_iter().rev());
        Ok(())
    }

    fn view(&mut self, v: &ArrayBufferView) -> Result<serde_json::Value, ToJsonError> {
        use serde_json::Value as J;
        match v.kind() {
            ViewKind::DataView => return Ok(J::Object(Map::new())),
            ViewKind::BigInt64Array | ViewKind::BigUint64Array if !v.is_empty() => {
                return Err(ToJsonError::BigInt);
            }
            _ => {}
        }
        self.count(v.len(), 0)?;
        let items = (0..v.len()).map(|i| number(v.number(i).unwrap_or(0.0)));
        if v.kind() == ViewKind::Buffer {
            let mut out = Map::new();
            out.insert("type".into(), J::String("Buffer".into()));
            out.insert("data".into(), J::Array(items.collect()));
            return Ok(J::Object(out));
        }
        Ok(J::Object(
            items.enumerate().map(|(i, n)| (i.to_string(), n)).collect(),
        ))
    }
}

impl TryFrom<&Value> for serde_json::Value {
    type Error = ToJsonError;

    /// [`Value::to_json`].
    fn try_from(v: &Value) -> Result<Self, ToJsonError> {
        v.to_json()
    }
}

impl From<&serde_json::Value> for Value {
    /// `JSON.parse` of the text: numbers become doubles (integers past
    /// 2^53 are rounded, as in JS), objects order integer keys first.
    fn from(j: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            J::String(s) => Value::from(s.as_str()),
            J::Array(items) => Value::array(items.iter().map(Value::from)),
            J::Object(props) => {
                Value::object(props.iter().map(|(k, v)| (k.as_str(), Value::from(v))))
            }
        }
    }
}

impl From<serde_json::Value> for Value {
    /// As `From<&serde_json::Value>`.
    fn from(j: serde_json::Value) -> Self {
        Value::from(&j)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{JsArray, JsError, JsMap, JsString};
    use super::*;
    use serde_json::json;

    #[test]
    fn to_json_follows_json_stringify() {
        let mut holey = JsArray::holey(3);
        holey.set(1, Value::Undefined);
        holey.insert_property("p", 1);
        let v = Value::object([
            ("u", Value::Undefined),
            ("n", Value::from(f64::NAN)),
            ("z", Value::from(-0.0)),
            ("f", Value::from(1.5)),
            ("d", Value::date(0.0)),
            ("bad", Value::date(f64::NAN)),
            ("buf", Value::buffer(vec![1, 2])),
            (
                "u8",
                ArrayBufferView::new(ViewKind::Uint8Array, vec![7])
                    .unwrap()
                    .into(),
            ),
            ("m", JsMap::new().into()),
            ("e", JsError::default().into()),
            ("a", holey.into()),
            ("s", JsString::from_utf16(&[0xd800]).into()),
            ("b", Primitive::Number(2.0).into()),
        ]);
        assert_eq!(
            v.to_json().unwrap(),
            json!({
                "n": null, "z": 0, "f": 1.5, "d": "1970-01-01T00:00:00.000Z", "bad": null,
                "buf": {"type": "Buffer", "data": [1, 2]}, "u8": {"0": 7}, "m": {}, "e": {},
                "a": [null, null, null], "s": "\u{fffd}", "b": 2
            })
        );
        assert_eq!(Value::Undefined.to_json().unwrap(), json!(null));
    }

    #[test]
    fn to_json_refuses_what_json_stringify_throws_on() {
        let big = Value::array([Value::BigInt(1.into())]);
        assert_eq!(big.to_json(), Err(ToJsonError::BigInt));
        let circ = Value::object([("self", Value::Circular(0))]);
        assert_eq!(circ.to_json(), Err(ToJsonError::Circular));
        let holes = Value::from(JsArray::holey(u32::MAX - 1));
        assert!(matches!(holes.to_json(), Err(ToJsonError::TooLarge { .. })));
    }

    #[test]
    fn shared_objects_repeat_until_the_limit() {
        let shared = Value::object([("k", 1)]);
        let v = Value::array([shared.clone(), shared]);
        assert_eq!(v.to_json().unwrap(), json!([{"k": 1}, {"k": 1}]));
        let mut v = Value::array([1]);
        for _ in 0..40 {
            v = Value::array([v.clone(), v]);
        }
        let limits = Limits::default().with_max_expansion(1);
        let budget = limits.expansion_budget(v.held_bytes());
        assert_eq!(
            v.to_json_limited(&limits),
            Err(ToJsonError::TooLarge { budget })
        );
        // A large string shared 2^20 times: refused before the copies.
        let mut v = Value::from("x".repeat(1 << 20));
        for _ in 0..20 {
            v = Value::array([v.clone(), v]);
        }
        assert!(matches!(v.to_json(), Err(ToJsonError::TooLarge { .. })));
    }

    #[test]
    fn deep_values_convert_without_recursion() {
        let mut v = Value::Null;
        for i in 0..100_000 {
            v = if i % 2 == 0 {
                Value::array([v])
            } else {
                Value::object([("k", v)])
            };
        }
        let j = v.to_json().unwrap();
        assert!(j.pointer("/k/0/k/0/k").is_some_and(|x| x.is_array()));
        // serde_json's own drop recurses: take it apart by hand.
        let mut j = j;
        loop {
            let inner = match &mut j {
                serde_json::Value::Array(a) => a.pop(),
                serde_json::Value::Object(o) => o.shift_remove("k"),
                _ => None,
            };
            let Some(inner) = inner else { break };
            j = inner;
        }
    }

    #[test]
    fn from_json_orders_integer_keys_first_as_json_parse() {
        let v = Value::from(json!({"b": 1, "2": [true, null, "x"], "a": 0.5}));
        assert_eq!(
            format!("{v:?}"),
            "{ '2': [ true, null, 'x' ], b: 1, a: 0.5 }"
        );
        assert_eq!(
            v.to_json().unwrap(),
            json!({"2": [true, null, "x"], "b": 1, "a": 0.5})
        );
    }
}
