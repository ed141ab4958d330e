//! The value writer: a [`Value`] to the bytes Node writes for the same JS
//! value (V8 ValueSerializer version 15 with Node's IPC host objects).
//!
//! Like the reader it keeps its own stack (of pending work), so a deep
//! value cannot overflow the thread's stack while being written.

use std::collections::{HashMap, btree_map};
use std::sync::Arc;

use super::tag;
use crate::value::{BigInt, ErrorName, JsString, NamesIter, Primitive, StrRepr, Value};

/// Appends the encoding of `value` to `out`. `start` is where the frame
/// (or payload) begins in `out`: V8 pads two-byte strings to an even offset
/// from there.
pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>, start: usize) -> Result<(), String> {
    let mut w = Writer {
        out,
        start,
        next_id: 0,
        seen: HashMap::new(),
        open: Vec::new(),
        tasks: vec![Task::Value(value)],
    };
    w.run()
}

/// Work left to do, innermost last.
enum Task<'v> {
    Value(&'v Value),
    Elements(std::slice::Iter<'v, Value>),
    Indexed(btree_map::Iter<'v, u32, Value>),
    Named(NamesIter<'v>),
    Entries(std::slice::Iter<'v, (Value, Value)>),
    End(End<'v>),
}

/// The end of a container, with the counts V8 writes there.
enum End<'v> {
    Object(u32),
    Dense { props: u32, len: u32 },
    Sparse { props: u32, len: u32 },
    Map(u32),
    Set(u32),
    Error(Option<&'v JsString>),
}

struct Writer<'v, 'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    next_id: u32,
    /// Shared objects already written, by address, with their ids.
    seen: HashMap<*const (), u32>,
    /// Ids of the enclosing containers (for `Circular`).
    open: Vec<u32>,
    tasks: Vec<Task<'v>>,
}

/// A count that V8 writes as a 32-bit varint.
fn count(n: usize, what: &str) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("{what} too large for the V8 format ({n})"))
}

/// Whether V8 holds `n` as a Smi (and so writes it as `I`): an int32, not
/// `-0` (Smis are 32-bit on 64-bit Node builds).
fn is_smi(n: f64) -> bool {
    n == f64::from(n as i32) && !(n == 0.0 && n.is_sign_negative())
}

fn varint_len(mut n: u32) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

impl<'v> Writer<'v, '_> {
    fn run(&mut self) -> Result<(), String> {
        while let Some(task) = self.tasks.pop() {
            match task {
                Task::Value(v) => self.value(v)?,
                Task::Elements(mut it) => {
                    if let Some(v) = it.next() {
                        self.tasks.push(Task::Elements(it));
                        self.value(v)?;
                    }
                }
                Task::Indexed(mut it) => {
                    if let Some((i, v)) = it.next() {
                        self.tasks.push(Task::Indexed(it));
                        self.index_key(*i);
                        self.value(v)?;
                    }
                }
                Task::Named(mut it) => {
                    if let Some((k, v)) = it.next() {
                        self.tasks.push(Task::Named(it));
                        self.string(k)?;
                        self.value(v)?;
                    }
                }
                Task::Entries(mut it) => {
                    if let Some((k, v)) = it.next() {
                        self.tasks.push(Task::Entries(it));
                        self.tasks.push(Task::Value(v));
                        self.value(k)?;
                    }
                }
                Task::End(end) => self.end(end)?,
            }
        }
        Ok(())
    }

    fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    fn varint(&mut self, mut n: u32) {
        while n >= 0x80 {
            self.out.push(n as u8 | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn double(&mut self, n: f64) {
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    fn bigint(&mut self, n: &BigInt) -> Result<(), String> {
        let bytes = count(n.magnitude().len() * 8, "BigInt")?;
        self.varint(bytes << 1 | u32::from(n.is_negative()));
        for w in n.magnitude() {
            self.out.extend_from_slice(&w.to_le_bytes());
        }
        Ok(())
    }

    fn bytes(&mut self, b: &[u8]) -> Result<(), String> {
        self.varint(count(b.len(), "buffer")?);
        self.out.extend_from_slice(b);
        Ok(())
    }

    /// A string as V8 writes it: one-byte (Latin-1) when every character
    /// fits and V8 did not hold it two-byte, else UTF-16LE after a pad byte
    /// if needed to start the units at an even offset.
    fn string(&mut self, s: &JsString) -> Result<(), String> {
        match s.repr() {
            StrRepr::Text(text, false) if text.is_ascii() => {
                self.byte(tag::ONE_BYTE_STRING);
                self.bytes(text.as_bytes())
            }
            StrRepr::Text(text, false) if text.chars().all(|c| u32::from(c) <= 0xff) => {
                self.byte(tag::ONE_BYTE_STRING);
                self.varint(count(text.chars().count(), "string")?);
                self.out.extend(text.chars().map(|c| u32::from(c) as u8));
                Ok(())
            }
            StrRepr::Text(text, _) => {
                self.two_byte(text.encode_utf16().count(), text.encode_utf16())
            }
            StrRepr::Units(units) => self.two_byte(units.len(), units.iter().copied()),
        }
    }

    fn two_byte(&mut self, units: usize, it: impl Iterator<Item = u16>) -> Result<(), String> {
        let len = count(units * 2, "string")?;
        if (self.out.len() - self.start + 1 + varint_len(len)) % 2 == 1 {
            self.byte(tag::PADDING);
        }
        self.byte(tag::TWO_BYTE_STRING);
        self.varint(len);
        self.out.reserve(units * 2);
        for u in it {
            self.out.extend_from_slice(&u.to_le_bytes());
        }
        Ok(())
    }

    /// An index key: a Smi when it fits, else a double (as V8 keeps keys
    /// as numbers).
    fn index_key(&mut self, i: u32) {
        match i32::try_from(i) {
            Ok(i) => self.int32(i),
            Err(_) => {
                self.byte(tag::DOUBLE);
                self.double(f64::from(i));
            }
        }
    }

    fn int32(&mut self, i: i32) {
        self.byte(tag::INT32);
        self.varint(((i << 1) ^ (i >> 31)) as u32);
    }

    /// The id of a new object; for one already written, writes the
    /// back-reference and returns `None`. Only objects whose `Arc` is
    /// shared can repeat, so only those are looked up.
    fn object<T>(&mut self, a: &Arc<T>) -> Option<u32> {
        let id = self.next_id;
        if Arc::strong_count(a) > 1 {
            if let Some(&old) = self.seen.get(&Arc::as_ptr(a).cast()) {
                self.byte(tag::OBJECT_REFERENCE);
                self.varint(old);
                return None;
            }
            self.seen.insert(Arc::as_ptr(a).cast(), id);
        }
        self.next_id += 1;
        Some(id)
    }

    /// Begins a container: its id becomes an enclosing object until `end`.
    fn begin(&mut self, id: u32, t: u8, end: End<'v>) {
        self.byte(t);
        self.open.push(id);
        self.tasks.push(Task::End(end));
    }

    fn value(&mut self, v: &'v Value) -> Result<(), String> {
        match v {
            Value::Undefined => self.byte(tag::UNDEFINED),
            Value::Null => self.byte(tag::NULL),
            Value::Bool(true) => self.byte(tag::TRUE),
            Value::Bool(false) => self.byte(tag::FALSE),
            Value::Number(n) if is_smi(*n) => self.int32(*n as i32),
            Value::Number(n) | Value::Double(n) => {
                self.byte(tag::DOUBLE);
                self.double(*n);
            }
            Value::BigInt(n) => {
                self.byte(tag::BIGINT);
                self.bigint(n)?;
            }
            Value::String(s) => self.string(s)?,
            Value::Circular(n) => {
                let i = self.open.len().checked_sub(1 + *n as usize);
                let id = i
                    .map(|i| self.open[i])
                    .ok_or_else(|| format!("Circular({n}) points above the outermost object"))?;
                self.byte(tag::OBJECT_REFERENCE);
                self.varint(id);
            }
            Value::Array(a) => {
                let Some(id) = self.object(a) else {
                    return Ok(());
                };
                let len = count(a.len(), "array")?;
                let named = a.named().len();
                match (a.packed(), a.holey_items()) {
                    (Some(items), _) => {
                        let props = count(named, "array")?;
                        self.begin(id, tag::BEGIN_DENSE_ARRAY, End::Dense { props, len });
                        self.varint(len);
                        self.tasks.push(Task::Named(a.named().iter()));
                        self.tasks.push(Task::Elements(items.iter()));
                    }
                    (None, Some(items)) => {
                        let props = count(items.len() + named, "array")?;
                        self.begin(id, tag::BEGIN_SPARSE_ARRAY, End::Sparse { props, len });
                        self.varint(len);
                        self.tasks.push(Task::Named(a.named().iter()));
                        self.tasks.push(Task::Indexed(items.iter()));
                    }
                    (None, None) => unreachable!("an array is packed or holey"),
                }
            }
            Value::Object(o) => {
                let Some(id) = self.object(o) else {
                    return Ok(());
                };
                let props = count(o.len(), "object")?;
                self.begin(id, tag::BEGIN_JS_OBJECT, End::Object(props));
                self.tasks.push(Task::Named(o.named().iter()));
                self.tasks.push(Task::Indexed(o.indexed().iter()));
            }
            Value::Map(m) => {
                let Some(id) = self.object(m) else {
                    return Ok(());
                };
                let len = count(m.len() * 2, "Map")?;
                self.begin(id, tag::BEGIN_MAP, End::Map(len));
                self.tasks.push(Task::Entries(m.entries().iter()));
            }
            Value::Set(s) => {
                let Some(id) = self.object(s) else {
                    return Ok(());
                };
                let len = count(s.len(), "Set")?;
                self.begin(id, tag::BEGIN_SET, End::Set(len));
                self.tasks.push(Task::Elements(s.values().iter()));
            }
            Value::Error(e) => {
                let Some(id) = self.object(e) else {
                    return Ok(());
                };
                self.begin(id, tag::ERROR, End::Error(e.stack.as_ref()));
                let proto = match e.name {
                    ErrorName::Error => None,
                    ErrorName::EvalError => Some(b'E'),
                    ErrorName::RangeError => Some(b'R'),
                    ErrorName::ReferenceError => Some(b'F'),
                    ErrorName::SyntaxError => Some(b'S'),
                    ErrorName::TypeError => Some(b'T'),
                    ErrorName::UriError => Some(b'U'),
                };
                if let Some(p) = proto {
                    self.byte(p);
                }
                if let Some(m) = &e.message {
                    self.byte(b'm');
                    self.string(m)?;
                }
                if let Some(cause) = &e.cause {
                    self.byte(b'c');
                    self.tasks.push(Task::Value(cause));
                }
            }
            Value::Date(d) => {
                if self.object(d).is_some() {
                    self.byte(tag::DATE);
                    self.double(d.time());
                }
            }
            Value::RegExp(r) => {
                if self.object(r).is_some() {
                    self.byte(tag::REGEXP);
                    self.string(&r.source)?;
                    self.varint(r.flags.bits());
                }
            }
            Value::Boxed(p) => {
                if self.object(p).is_some() {
                    self.boxed(p)?;
                }
            }
            Value::ArrayBuffer(b) => {
                if self.object(b).is_some() {
                    match b.max_byte_length() {
                        Some(max) => {
                            self.byte(tag::RESIZABLE_ARRAY_BUFFER);
                            self.varint(count(b.bytes().len(), "ArrayBuffer")?);
                            self.varint(count(max, "ArrayBuffer")?);
                            self.out.extend_from_slice(b.bytes());
                        }
                        None => {
                            self.byte(tag::ARRAY_BUFFER);
                            self.bytes(b.bytes())?;
                        }
                    }
                }
            }
            Value::View(view) => {
                if self.object(view).is_some() {
                    // Node's host object: kind 0 (an ArrayBufferView), type
                    // index, the viewed bytes.
                    self.byte(tag::HOST_OBJECT);
                    self.varint(0);
                    self.varint(view.kind().type_index());
                    self.bytes(view.bytes())?;
                }
            }
        }
        Ok(())
    }

    fn boxed(&mut self, p: &Primitive) -> Result<(), String> {
        match p {
            Primitive::Boolean(true) => self.byte(tag::TRUE_OBJECT),
            Primitive::Boolean(false) => self.byte(tag::FALSE_OBJECT),
            Primitive::Number(n) => {
                self.byte(tag::NUMBER_OBJECT);
                self.double(*n);
            }
            Primitive::BigInt(n) => {
                self.byte(tag::BIGINT_OBJECT);
                self.bigint(n)?;
            }
            Primitive::String(s) => {
                self.byte(tag::STRING_OBJECT);
                self.string(s)?;
            }
        }
        Ok(())
    }

    fn end(&mut self, end: End<'v>) -> Result<(), String> {
        self.open.pop();
        match end {
            End::Object(props) => {
                self.byte(tag::END_JS_OBJECT);
                self.varint(props);
            }
            End::Dense { props, len } | End::Sparse { props, len } => {
                let t = if matches!(end, End::Dense { .. }) {
                    tag::END_DENSE_ARRAY
                } else {
                    tag::END_SPARSE_ARRAY
                };
                self.byte(t);
                self.varint(props);
                self.varint(len);
            }
            End::Map(len) => {
                self.byte(tag::END_MAP);
                self.varint(len);
            }
            End::Set(len) => {
                self.byte(tag::END_SET);
                self.varint(len);
            }
            End::Error(stack) => {
                if let Some(stack) = stack {
                    self.byte(b's');
                    self.string(stack)?;
                }
                self.byte(b'.');
            }
        }
        Ok(())
    }
}
