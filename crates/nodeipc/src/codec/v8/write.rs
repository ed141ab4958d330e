//! The value writer: a [`Value`] to the bytes Node writes for the same JS
//! value (V8 ValueSerializer version 15 with Node's IPC host objects).
//!
//! Like the reader it keeps its own stack (of pending work), so a deep
//! value cannot overflow the thread's stack while being written.
//!
//! The [`Writer`] also serves the serde serializer (`ser.rs`), which writes
//! the containers of a Rust value itself and hands `Value`s met inside it
//! to [`Writer::write`].

use std::collections::{HashMap, btree_map};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::tag;
use crate::value::{
    BigInt, ErrorName, JsString, MAX_CHECKED_SOURCE, NamesIter, Primitive, StrRepr, Value, ViewKind,
};

/// Appends the encoding of `value` to `out`. `start` is where the frame
/// (or payload) begins in `out`: V8 pads two-byte strings to an even offset
/// from there.
pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>, start: usize) -> Result<(), String> {
    Writer::new(out, start).write(value)
}

/// Work left to do, innermost last.
enum Task<'v> {
    Value(&'v Value),
    Elements(std::slice::Iter<'v, Value>),
    Indexed(btree_map::Iter<'v, u32, Value>),
    Named(NamesIter<'v>),
    Entries(std::slice::Iter<'v, (Value, Value)>),
    End(End),
}

/// The end of a container, with the counts V8 writes there.
enum End {
    Object(u32),
    Dense { props: u32, len: u32 },
    Sparse { props: u32, len: u32 },
    Map(u32),
    Set(u32),
    Error,
}

/// Appends values to `out`, numbering objects as V8 does.
pub(super) struct Writer<'o> {
    pub(super) out: &'o mut Vec<u8>,
    start: usize,
    next_id: u32,
    /// Shared objects already written, by address, with their ids. The
    /// caller keeps them alive until the end of the message, so that no
    /// address is reused.
    seen: HashMap<*const (), u32>,
    /// Ids of the enclosing containers (for `Circular`).
    open: Vec<u32>,
}

/// Where a [`Writer`] was, to go back there.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    len: usize,
    next_id: u32,
    open: usize,
    seen: usize,
}

/// A [`Writer`] walking one `Value` with its own stack of work.
struct Walk<'v, 'w, 'o> {
    w: &'w mut Writer<'o>,
    tasks: Vec<Task<'v>>,
}

impl<'o> Deref for Walk<'_, '_, 'o> {
    type Target = Writer<'o>;
    fn deref(&self) -> &Writer<'o> {
        self.w
    }
}

impl DerefMut for Walk<'_, '_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.w
    }
}

/// A count that V8 writes as a 32-bit varint.
pub(super) fn count(n: usize, what: &str) -> Result<u32, String> {
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

impl<'o> Writer<'o> {
    /// A writer appending to `out`, where the frame (or payload) begins at
    /// `start`.
    pub(super) fn new(out: &'o mut Vec<u8>, start: usize) -> Self {
        Writer {
            out,
            start,
            next_id: 0,
            seen: HashMap::new(),
            open: Vec::new(),
        }
    }

    /// Writes `value`, numbering its objects after those written so far;
    /// a [`Value::Circular`] may point to a container begun with
    /// [`begin`](Self::begin).
    pub(super) fn write(&mut self, value: &Value) -> Result<(), String> {
        Walk {
            w: self,
            tasks: vec![Task::Value(value)],
        }
        .run()
    }

    pub(super) fn mark(&self) -> Mark {
        Mark {
            len: self.out.len(),
            next_id: self.next_id,
            open: self.open.len(),
            seen: self.seen.len(),
        }
    }

    /// Forgets what was written since `mark`.
    pub(super) fn rewind(&mut self, mark: Mark) {
        self.out.truncate(mark.len);
        self.next_id = mark.next_id;
        self.open.truncate(mark.open);
        if self.seen.len() != mark.seen {
            self.seen.retain(|_, id| *id < mark.next_id);
        }
    }

    /// Begins a container that is not a `Value` (it is never shared): its
    /// tag, and a new id, enclosing what follows until [`end`](Self::end).
    pub(super) fn begin(&mut self, t: u8) {
        self.byte(t);
        self.open.push(self.next_id);
        self.next_id += 1;
    }

    /// Ends the container of the last [`begin`](Self::begin) (its end tag
    /// and counts are the caller's).
    pub(super) fn end(&mut self) {
        self.open.pop();
    }

    /// A Buffer holding `b`, which is never shared either.
    pub(super) fn buffer(&mut self, b: &[u8]) -> Result<(), String> {
        self.next_id += 1;
        self.view(ViewKind::Buffer, b)
    }

    /// Node's host object for a view: kind 0 (an ArrayBufferView), the type
    /// index, the viewed bytes.
    fn view(&mut self, kind: ViewKind, b: &[u8]) -> Result<(), String> {
        self.byte(tag::HOST_OBJECT);
        self.varint(0);
        self.varint(kind.type_index());
        self.bytes(b)
    }

    pub(super) fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    pub(super) fn varint(&mut self, mut n: u32) {
        while n >= 0x80 {
            self.out.push(n as u8 | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn double(&mut self, n: f64) {
        self.out.extend_from_slice(&n.to_le_bytes());
    }

    pub(super) fn bigint(&mut self, n: &BigInt) -> Result<(), String> {
        let bytes = count(n.magnitude().len() * 8, "BigInt")?;
        self.varint(bytes << 1 | u32::from(n.is_negative()));
        for w in n.magnitude() {
            self.out.extend_from_slice(&w.to_le_bytes());
        }
        Ok(())
    }

    pub(super) fn bytes(&mut self, b: &[u8]) -> Result<(), String> {
        self.varint(count(b.len(), "buffer")?);
        self.out.extend_from_slice(b);
        Ok(())
    }

    /// A string as V8 writes it: one-byte (Latin-1) when every character
    /// fits and V8 did not hold it two-byte, else UTF-16LE after a pad byte
    /// if needed to start the units at an even offset.
    fn string(&mut self, s: &JsString) -> Result<(), String> {
        match s.repr() {
            StrRepr::Text(text, false) => self.str(text),
            StrRepr::Text(text, true) => {
                self.two_byte(text.encode_utf16().count(), text.encode_utf16())
            }
            StrRepr::Units(units) => self.two_byte(units.len(), units.iter().copied()),
        }
    }

    /// Well-formed text as V8 writes a string it holds in the smallest
    /// form: one-byte when every character is Latin-1, else two-byte.
    pub(super) fn str(&mut self, text: &str) -> Result<(), String> {
        if text.is_ascii() {
            self.byte(tag::ONE_BYTE_STRING);
            self.bytes(text.as_bytes())
        } else if text.chars().all(|c| u32::from(c) <= 0xff) {
            self.byte(tag::ONE_BYTE_STRING);
            self.varint(count(text.chars().count(), "string")?);
            self.out.extend(text.chars().map(|c| u32::from(c) as u8));
            Ok(())
        } else {
            self.two_byte(text.encode_utf16().count(), text.encode_utf16())
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
    pub(super) fn index_key(&mut self, i: u32) {
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

    /// A number as V8 writes it: `I` for a Smi, else a double.
    pub(super) fn number(&mut self, n: f64) {
        if is_smi(n) {
            self.int32(n as i32);
        } else {
            self.byte(tag::DOUBLE);
            self.double(n);
        }
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
}

impl<'v> Walk<'v, '_, '_> {
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
                Task::End(end) => self.close(end)?,
            }
        }
        Ok(())
    }

    /// Begins a container: its id becomes an enclosing object until `end`.
    fn open(&mut self, id: u32, t: u8, end: End) {
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
            Value::Number(n) => self.number(*n),
            Value::Double(n) => {
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
                        self.open(id, tag::BEGIN_DENSE_ARRAY, End::Dense { props, len });
                        self.varint(len);
                        self.tasks.push(Task::Named(a.named().iter()));
                        self.tasks.push(Task::Elements(items.iter()));
                    }
                    (None, Some(items)) => {
                        let props = count(items.len() + named, "array")?;
                        self.open(id, tag::BEGIN_SPARSE_ARRAY, End::Sparse { props, len });
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
                self.open(id, tag::BEGIN_JS_OBJECT, End::Object(props));
                self.tasks.push(Task::Named(o.named().iter()));
                self.tasks.push(Task::Indexed(o.indexed().iter()));
            }
            Value::Map(m) => {
                let Some(id) = self.object(m) else {
                    return Ok(());
                };
                let len = count(m.len() * 2, "Map")?;
                self.open(id, tag::BEGIN_MAP, End::Map(len));
                self.tasks.push(Task::Entries(m.entries().iter()));
            }
            Value::Set(s) => {
                let Some(id) = self.object(s) else {
                    return Ok(());
                };
                let len = count(s.len(), "Set")?;
                self.open(id, tag::BEGIN_SET, End::Set(len));
                self.tasks.push(Task::Elements(s.values().iter()));
            }
            Value::Error(e) => {
                let Some(id) = self.object(e) else {
                    return Ok(());
                };
                self.open(id, tag::ERROR, End::Error);
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
                // The stack before the cause, as V8 12+ (Node 22+) writes
                // and requires; V8 11 (Node 20) reads either order.
                if let Some(stack) = &e.stack {
                    self.byte(b's');
                    self.string(stack)?;
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
                // Checked once per object: a repeat is a back-reference.
                if self.object(r).is_some() {
                    if !r.is_valid() {
                        let shown: String = r.source.to_string_lossy().chars().take(80).collect();
                        return Err(format!(
                            "RegExp /{shown}/{} does not compile in every supported Node, or its \
                             source is over {MAX_CHECKED_SOURCE} UTF-16 units (Node would die \
                             reading it)",
                            r.flags
                        ));
                    }
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
                    self.view(view.kind(), view.bytes())?;
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

    fn close(&mut self, end: End) -> Result<(), String> {
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
            End::Error => self.byte(b'.'),
        }
        Ok(())
    }
}
