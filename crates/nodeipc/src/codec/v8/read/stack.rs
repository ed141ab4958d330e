//! The containers being read (arrays, objects, Maps, Sets, Errors) and
//! the loop that fills them: the reader's explicit stack.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Reader, Result, Slot, tag};
use crate::error::DecodeError;
use crate::value::{
    ErrorName, JsArray, JsError, JsMap, JsObject, JsSet, Names, PropertyKey, Value,
};

/// An array, object, Map, Set or Error being read.
pub(super) struct Open {
    /// Its object id.
    pub(super) id: u32,
    /// The ids of host objects whose plain copy it is (`\ 01`).
    pub(super) hosts: Vec<u32>,
    pub(super) kind: Kind,
}

pub(super) enum Kind {
    Array(ArrayBuild),
    Object {
        obj: JsObject,
        key: Option<(PropertyKey, usize)>,
        props: u32,
    },
    Map {
        entries: Vec<(Value, Value)>,
        key: Option<Value>,
    },
    Set(Vec<Value>),
    Error {
        error: JsError,
        awaiting_cause: bool,
    },
}

pub(super) struct ArrayBuild {
    pub(super) dense: bool,
    /// The length on the wire (checked again at the end).
    pub(super) wire_len: u32,
    /// The JS length: grows if a property defines an index past it.
    pub(super) len: u32,
    /// Next element of a dense array; equals `wire_len` once they are read.
    pub(super) next: u32,
    pub(super) packed: Vec<Value>,
    /// Set once the array has a hole (or is sparse).
    pub(super) holey: Option<BTreeMap<u32, Value>>,
    pub(super) named: Names,
    pub(super) key: Option<(PropertyKey, usize)>,
    pub(super) props: u32,
}

impl ArrayBuild {
    fn in_elements(&self) -> bool {
        self.dense && self.next < self.wire_len
    }

    fn holey(&mut self) -> &mut BTreeMap<u32, Value> {
        let packed = &mut self.packed;
        self.holey.get_or_insert_with(|| {
            let items = std::mem::take(packed).into_iter().enumerate();
            items.map(|(i, v)| (i as u32, v)).collect()
        })
    }

    fn element(&mut self, v: Option<Value>) {
        match (v, &mut self.holey) {
            (Some(v), None) => self.packed.push(v),
            (Some(v), Some(map)) => {
                map.insert(self.next, v);
            }
            (None, _) => {
                self.holey();
            }
        }
        self.next += 1;
    }

    /// Defines a property; `false` if it exists (V8 refuses to redefine).
    fn define(&mut self, key: PropertyKey, v: Value) -> bool {
        match key {
            PropertyKey::Index(i) => {
                if self.holey.is_none() && (i as usize) < self.packed.len() {
                    return false;
                }
                let map = self.holey();
                if map.contains_key(&i) {
                    return false;
                }
                map.insert(i, v);
                self.len = self.len.max(i + 1);
                true
            }
            PropertyKey::Name(n) if n == "length" => false,
            PropertyKey::Name(n) => self.named.insert_new(n, v),
        }
    }
}

/// What the innermost open container reads next.
enum Want {
    Element,
    Value,
    KeyOrEnd(u8),
    ValueOrEnd(u8),
    ErrorField,
}

impl Reader<'_> {
    // ---- containers --------------------------------------------------------

    pub(super) fn read_root(&mut self) -> Result<Value> {
        let mut done = self.begin()?;
        loop {
            if let Some(v) = done.take() {
                if self.stack.is_empty() {
                    return Ok(v);
                }
                self.accept(v)?;
            }
            done = self.advance()?;
        }
    }

    fn want(&self) -> Want {
        let top = self.stack.last().expect("an open container");
        match &top.kind {
            Kind::Array(a) if a.in_elements() => Want::Element,
            Kind::Array(ArrayBuild { key: Some(_), .. }) | Kind::Object { key: Some(_), .. } => {
                Want::Value
            }
            Kind::Array(a) if a.dense => Want::KeyOrEnd(tag::END_DENSE_ARRAY),
            Kind::Array(_) => Want::KeyOrEnd(tag::END_SPARSE_ARRAY),
            Kind::Object { .. } => Want::KeyOrEnd(tag::END_JS_OBJECT),
            Kind::Map { key: Some(_), .. } => Want::Value,
            Kind::Map { .. } => Want::ValueOrEnd(tag::END_MAP),
            Kind::Set(_) => Want::ValueOrEnd(tag::END_SET),
            Kind::Error {
                awaiting_cause: true,
                ..
            } => Want::Value,
            Kind::Error { .. } => Want::ErrorField,
        }
    }

    /// One step inside the innermost container.
    fn advance(&mut self) -> Result<Option<Value>> {
        let peek = self.peek_tag();
        match self.want() {
            Want::Element => match peek {
                Some((tag::THE_HOLE, after)) => {
                    self.pos = after;
                    self.count(after - 1)?;
                    if let Some(Open {
                        kind: Kind::Array(a),
                        ..
                    }) = self.stack.last_mut()
                    {
                        a.element(None);
                    }
                    Ok(None)
                }
                _ => self.begin(),
            },
            Want::Value => self.begin(),
            Want::KeyOrEnd(end) | Want::ValueOrEnd(end) if peek.is_some_and(|(t, _)| t == end) => {
                let (_, after) = peek.expect("checked");
                self.pos = after;
                self.close(after - 1).map(Some)
            }
            Want::ValueOrEnd(_) => self.begin(),
            Want::KeyOrEnd(_) => {
                let key = self.key()?;
                match &mut self.stack.last_mut().expect("open").kind {
                    Kind::Array(a) => a.key = Some(key),
                    Kind::Object { key: k, .. } => *k = Some(key),
                    _ => unreachable!("keys are read for arrays and objects"),
                }
                Ok(None)
            }
            Want::ErrorField => self.error_field(),
        }
    }

    /// Stores a complete value in the innermost container.
    fn accept(&mut self, v: Value) -> Result<()> {
        match &mut self.stack.last_mut().expect("open").kind {
            Kind::Array(a) if a.in_elements() => a.element(Some(v)),
            Kind::Array(a) => {
                let (key, at) = a.key.take().expect("a key before the value");
                if !a.define(key, v) {
                    return Err(DecodeError::DuplicateKey { at });
                }
                a.props += 1;
            }
            Kind::Object { obj, key, props } => {
                let (key, at) = key.take().expect("a key before the value");
                if !obj.insert_new(key, v) {
                    return Err(DecodeError::DuplicateKey { at });
                }
                *props += 1;
            }
            Kind::Map { entries, key } => match key.take() {
                Some(k) => entries.push((k, v)),
                None => *key = Some(v),
            },
            Kind::Set(items) => items.push(v),
            Kind::Error {
                error,
                awaiting_cause,
            } => {
                error.cause = Some(v);
                *awaiting_cause = false;
            }
        }
        Ok(())
    }

    /// One field of an Error (its tags are varints, unlike value tags).
    fn error_field(&mut self) -> Result<Option<Value>> {
        let at = self.pos;
        let field = self.varint()?;
        let Ok(field) = u8::try_from(field) else {
            return Err(DecodeError::InvalidValue {
                at,
                reason: "unknown Error field",
            });
        };
        let name = match field {
            b'E' => ErrorName::EvalError,
            b'R' => ErrorName::RangeError,
            b'F' => ErrorName::ReferenceError,
            b'S' => ErrorName::SyntaxError,
            b'T' => ErrorName::TypeError,
            b'U' => ErrorName::UriError,
            b'm' | b's' => {
                let text = self.string()?;
                if let Some(Open {
                    kind: Kind::Error { error, .. },
                    ..
                }) = self.stack.last_mut()
                {
                    *(if field == b'm' {
                        &mut error.message
                    } else {
                        &mut error.stack
                    }) = Some(text);
                }
                return Ok(None);
            }
            b'c' => {
                let depth = self.stack.len() - 1;
                if let Some(Open {
                    id,
                    kind: Kind::Error { awaiting_cause, .. },
                    ..
                }) = self.stack.last_mut()
                {
                    *awaiting_cause = true;
                    // V8 12+ (Node 22+) creates the Error when its cause
                    // begins, so the cause may refer back to it
                    // (`e.cause = e`): from here on it is referable.
                    let id = *id as usize;
                    self.ids[id] = Slot::Open(depth);
                }
                return Ok(None);
            }
            b'.' => return self.close(at).map(Some),
            _ => {
                return Err(DecodeError::InvalidValue {
                    at,
                    reason: "unknown Error field",
                });
            }
        };
        if let Some(Open {
            kind: Kind::Error { error, .. },
            ..
        }) = self.stack.last_mut()
        {
            error.name = name;
        }
        Ok(None)
    }

    /// Closes the innermost container at its end tag (already consumed, at
    /// `at`): checks the counts that follow, and registers the object.
    fn close(&mut self, at: usize) -> Result<Value> {
        let open = self.stack.pop().expect("open");
        let mismatch = |expected: u32, found: u32| DecodeError::CountMismatch {
            at,
            expected,
            found,
        };
        let v = match open.kind {
            Kind::Array(a) => {
                let props = self.varint()?;
                let len = self.varint()?;
                if props != a.props {
                    return Err(mismatch(props, a.props));
                }
                if len != a.wire_len {
                    return Err(mismatch(len, a.wire_len));
                }
                Value::Array(Arc::new(match a.holey {
                    None => JsArray::from_packed(a.packed, a.named),
                    Some(items) => JsArray::from_holey(a.len, items, a.named),
                }))
            }
            Kind::Object { obj, props, .. } => {
                let expected = self.varint()?;
                if expected != props {
                    return Err(mismatch(expected, props));
                }
                Value::Object(Arc::new(obj))
            }
            Kind::Map { entries, .. } => {
                let expected = self.varint()?;
                let found = u32::try_from(entries.len() * 2).unwrap_or(u32::MAX);
                if expected != found {
                    return Err(mismatch(expected, found));
                }
                Value::Map(Arc::new(JsMap::from(entries)))
            }
            Kind::Set(items) => {
                let expected = self.varint()?;
                let found = u32::try_from(items.len()).unwrap_or(u32::MAX);
                if expected != found {
                    return Err(mismatch(expected, found));
                }
                Value::Set(Arc::new(JsSet::from(items)))
            }
            Kind::Error { error, .. } => Value::Error(Arc::new(error)),
        };
        for id in std::iter::once(open.id).chain(open.hosts) {
            self.ids[id as usize] = Slot::Done(v.clone());
        }
        Ok(v)
    }
}
