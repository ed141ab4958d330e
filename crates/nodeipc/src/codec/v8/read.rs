//! The value reader: V8 ValueSerializer bytes (versions 13–15, Node's host
//! objects) to a [`Value`].
//!
//! It does not recurse: open arrays, objects, Maps, Sets and Errors live on
//! an explicit stack, so a hostile nesting depth costs an error, not the
//! thread's stack. Every length is checked against the bytes left before
//! anything is allocated.

mod stack;

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use bytes::Bytes;

use super::cursor::{Cursor, Result};
use super::tag;
use crate::error::DecodeError;
use crate::limits::Limits;
use crate::value::{
    ArrayBufferView, JsArrayBuffer, JsDate, JsError, JsObject, JsRegExp, JsString, Names,
    Primitive, PropertyKey, RegExpFlags, Value, ViewKind,
};
use stack::{ArrayBuild, Kind, Open};

/// Received byte slices at least this long are shared with the frame when
/// it is a [`Bytes`]; shorter ones are copied, so that a small Buffer does
/// not keep a large frame alive.
const SHARE_FROM: usize = 1024;

/// Reads the value of one payload (`FF <version> <value>`; bytes after the
/// value are ignored, as Node ignores them). `owner`, when given, is
/// `payload` as a `Bytes`, to share large buffers instead of copying them.
pub(crate) fn read_payload(
    payload: &[u8],
    owner: Option<&Bytes>,
    limits: &Limits,
) -> Result<Value> {
    let mut r = Reader::new(Cursor::new(payload), owner, limits, false);
    r.version = r.header()?;
    let start = r.pos;
    match r.read_root() {
        // V8 once wrote version-13 data with view flags (crbug.com/1284506)
        // and reads it by retrying so: do the same.
        Err(e) if r.version == 13 => {
            let mut again = Reader::new(Cursor::new(payload), owner, limits, true);
            again.version = 13;
            again.pos = start;
            again.read_root().map_err(|_| e)
        }
        other => other,
    }
}

/// A value read from the middle of a payload (by the serde deserializer,
/// for what it does not read itself), and the reader's counts after it.
pub(super) struct Nested {
    pub(super) value: Value,
    /// Object ids the value took.
    pub(super) ids: u32,
    /// Values and keys read in the payload so far, this one's included.
    pub(super) values: usize,
}

/// Reads one value at `at` (advanced past it) of a payload in `version`
/// (14 or 15), as [`read_payload`] would read it there: `ids` object ids
/// were assigned before it (a reference to one of those is an error),
/// `depth` containers enclose it and `values` values and keys precede it,
/// all counted against `limits`.
pub(super) fn read_nested(
    at: &mut Cursor<'_>,
    version: u32,
    ids: u32,
    depth: usize,
    values: usize,
    limits: &Limits,
) -> Result<Nested> {
    debug_assert!(version >= 14, "version 13 has two readings");
    let mut r = Reader::new(*at, None, limits, false);
    r.version = version;
    r.id_base = ids;
    r.values = values;
    r.max_depth = limits.max_depth.saturating_sub(depth);
    let value = r.read_root()?;
    at.pos = r.pos;
    Ok(Nested {
        value,
        ids: r.ids.len() as u32,
        values: r.values,
    })
}

/// What an object id stands for while reading.
enum Slot {
    /// A complete object.
    Done(Value),
    /// An object still being read, at this index of the stack.
    Open(usize),
    /// Assigned, but not referable yet: an Error or host object being read
    /// (V8 registers those when complete).
    Reserved,
}

struct Reader<'a> {
    cur: Cursor<'a>,
    owner: Option<&'a Bytes>,
    version: u32,
    /// Read `V` flags in version 13 (V8's broken-data compatibility mode).
    v13_view_flags: bool,
    /// The wire id of `ids[0]`: ids assigned before the value being read.
    id_base: u32,
    ids: Vec<Slot>,
    stack: Vec<Open>,
    values: usize,
    max_depth: usize,
    max_elements: usize,
}

/// The reader reads bytes through its cursor: `self.varint()`, `self.pos`.
impl<'a> Deref for Reader<'a> {
    type Target = Cursor<'a>;
    fn deref(&self) -> &Cursor<'a> {
        &self.cur
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cur
    }
}

impl<'a> Reader<'a> {
    fn new(
        cur: Cursor<'a>,
        owner: Option<&'a Bytes>,
        limits: &Limits,
        v13_view_flags: bool,
    ) -> Self {
        Reader {
            cur,
            owner,
            version: 0,
            v13_view_flags,
            id_base: 0,
            ids: Vec::new(),
            stack: Vec::new(),
            values: 0,
            max_depth: limits.max_depth,
            max_elements: limits.max_elements,
        }
    }

    // ---- bytes -------------------------------------------------------------

    /// `bytes`, shared with the frame when it is large and owned.
    fn to_bytes(&self, bytes: &[u8]) -> Bytes {
        match self.owner {
            Some(owner) if bytes.len() >= SHARE_FROM => owner.slice_ref(bytes),
            _ => Bytes::copy_from_slice(bytes),
        }
    }

    fn string_body(&mut self, t: u8, at: usize) -> Result<JsString> {
        let b = self.string_bytes(t, at)?;
        Ok(match t {
            tag::ONE_BYTE_STRING => JsString::from_latin1(b),
            tag::TWO_BYTE_STRING => JsString::from_two_byte_le(b),
            // V8 decodes UTF-8 with replacement.
            _ => JsString::from(String::from_utf8_lossy(b).into_owned()),
        })
    }

    /// A string value, where V8 reads one (Error message and stack, RegExp
    /// source, String object).
    fn string(&mut self) -> Result<JsString> {
        loop {
            let at = self.pos;
            match self.tag()? {
                tag::VERIFY_OBJECT_COUNT => {
                    self.varint()?;
                }
                t @ (tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING) => {
                    return self.string_body(t, at);
                }
                t => return Err(DecodeError::UnexpectedTag { at, tag: t }),
            }
        }
    }

    fn count(&mut self, at: usize) -> Result<()> {
        self.values += 1;
        if self.values > self.max_elements {
            return Err(DecodeError::TooManyElements {
                at,
                limit: self.max_elements,
            });
        }
        Ok(())
    }

    /// A property key: a string, or a number (`I`, `U`, `N`) naming an
    /// index or its JS string.
    fn key(&mut self) -> Result<(PropertyKey, usize)> {
        self.count(self.pos)?;
        loop {
            let at = self.pos;
            let key = match self.tag()? {
                tag::VERIFY_OBJECT_COUNT => {
                    self.varint()?;
                    continue;
                }
                t @ (tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING) => {
                    PropertyKey::from(self.string_body(t, at)?)
                }
                tag::INT32 => PropertyKey::from_number(f64::from(self.zigzag()?)),
                tag::UINT32 => PropertyKey::from_number(f64::from(self.varint()?)),
                tag::DOUBLE => PropertyKey::from_number(self.double()?),
                t => return Err(DecodeError::UnexpectedTag { at, tag: t }),
            };
            return Ok((key, at));
        }
    }

    // ---- object ids --------------------------------------------------------

    fn new_id(&mut self, slot: Slot) -> u32 {
        self.ids.push(slot);
        (self.ids.len() - 1) as u32
    }

    fn done(&mut self, v: Value) -> Value {
        self.new_id(Slot::Done(v.clone()));
        v
    }

    fn reference(&mut self, at: usize) -> Result<Value> {
        let id = self.varint()?;
        // Ids below the base are objects read by someone else: not ours
        // to hand out.
        let local = id.checked_sub(self.id_base);
        match local.and_then(|i| self.ids.get(i as usize)) {
            Some(Slot::Done(v)) => Ok(v.clone()),
            Some(Slot::Open(i)) => Ok(Value::Circular((self.stack.len() - 1 - i) as u32)),
            _ => Err(DecodeError::BadReference { at, id }),
        }
    }

    // ---- values ------------------------------------------------------------

    /// Opens a container: `Ok(None)` to the caller.
    fn open(&mut self, kind: Kind, at: usize) -> Result<Option<Value>> {
        if self.stack.len() >= self.max_depth {
            return Err(DecodeError::TooDeep {
                at,
                limit: self.max_depth,
            });
        }
        let slot = match kind {
            Kind::Error { .. } => Slot::Reserved,
            _ => Slot::Open(self.stack.len()),
        };
        let id = self.new_id(slot);
        self.stack.push(Open {
            id,
            hosts: Vec::new(),
            kind,
        });
        Ok(None)
    }

    /// Starts a value: `Some` if it is complete, `None` if it opened a
    /// container (its contents come next).
    fn begin(&mut self) -> Result<Option<Value>> {
        self.count(self.pos)?;
        let mut hosts = Vec::new();
        let (v, at) = loop {
            let at = self.pos;
            let v = match self.tag()? {
                tag::VERIFY_OBJECT_COUNT => {
                    self.varint()?;
                    continue;
                }
                tag::HOST_OBJECT => match self.varint()? {
                    0 => {
                        let id = self.new_id(Slot::Reserved);
                        let v = self.host_view(at)?;
                        self.ids[id as usize] = Slot::Done(v.clone());
                        v
                    }
                    // Node's other host objects: a plain copy follows, and
                    // the host object is that copy.
                    _ => {
                        hosts.push(self.new_id(Slot::Reserved));
                        continue;
                    }
                },
                t => match self.simple(t, at)? {
                    Some(v) => v,
                    None => {
                        let top = self.stack.last_mut().expect("just opened");
                        top.hosts = hosts;
                        return Ok(None);
                    }
                },
            };
            break (v, at);
        };
        let v = match (&v, self.peek_tag()) {
            (Value::ArrayBuffer(ab), Some((tag::ARRAY_BUFFER_VIEW, after))) => {
                self.pos = after;
                let view = self.buffer_view(ab, at)?;
                self.done(view)
            }
            _ => v,
        };
        for id in hosts {
            self.ids[id as usize] = match &v {
                Value::Circular(n) => Slot::Open(self.stack.len() - 1 - *n as usize),
                v if v.object_ptr().is_some() => Slot::Done(v.clone()),
                _ => {
                    return Err(DecodeError::InvalidValue {
                        at,
                        reason: "host object is not an object",
                    });
                }
            };
        }
        Ok(Some(v))
    }

    /// Every value but host objects.
    fn simple(&mut self, t: u8, at: usize) -> Result<Option<Value>> {
        let v = match t {
            tag::UNDEFINED => Value::Undefined,
            tag::NULL => Value::Null,
            tag::TRUE => Value::Bool(true),
            tag::FALSE => Value::Bool(false),
            tag::INT32 => Value::Number(f64::from(self.zigzag()?)),
            tag::UINT32 => Value::Number(f64::from(self.varint()?)),
            tag::DOUBLE => {
                let n = self.double()?;
                let int32 = n == f64::from(n as i32) && !(n == 0.0 && n.is_sign_negative());
                // V8 writes int32 values as `I` unless it held them as a
                // heap double: keep that.
                if int32 {
                    Value::Double(n)
                } else {
                    Value::Number(n)
                }
            }
            tag::BIGINT => Value::BigInt(self.bigint()?),
            tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
                Value::String(self.string_body(t, at)?)
            }
            tag::OBJECT_REFERENCE => self.reference(at)?,
            tag::BEGIN_JS_OBJECT => {
                let kind = Kind::Object {
                    obj: JsObject::new(),
                    key: None,
                    props: 0,
                };
                return self.open(kind, at);
            }
            tag::BEGIN_DENSE_ARRAY | tag::BEGIN_SPARSE_ARRAY => {
                let len = self.varint()?;
                let dense = t == tag::BEGIN_DENSE_ARRAY;
                // Each element takes at least a byte.
                if dense && len as usize > self.left() {
                    return Err(DecodeError::InvalidValue {
                        at,
                        reason: "array longer than the bytes left",
                    });
                }
                let build = ArrayBuild {
                    dense,
                    wire_len: len,
                    len,
                    next: if dense { 0 } else { len },
                    packed: Vec::with_capacity(if dense { (len as usize).min(1024) } else { 0 }),
                    holey: (!dense).then(BTreeMap::new),
                    named: Names::default(),
                    key: None,
                    props: 0,
                };
                return self.open(Kind::Array(build), at);
            }
            tag::BEGIN_MAP => {
                return self.open(
                    Kind::Map {
                        entries: Vec::new(),
                        key: None,
                    },
                    at,
                );
            }
            tag::BEGIN_SET => return self.open(Kind::Set(Vec::new()), at),
            tag::ERROR => {
                let kind = Kind::Error {
                    error: JsError::default(),
                    awaiting_cause: false,
                };
                return self.open(kind, at);
            }
            tag::DATE => {
                let ms = self.double()?;
                self.done(Value::Date(Arc::new(JsDate::new(ms))))
            }
            tag::TRUE_OBJECT => self.done(Value::Boxed(Arc::new(Primitive::Boolean(true)))),
            tag::FALSE_OBJECT => self.done(Value::Boxed(Arc::new(Primitive::Boolean(false)))),
            tag::NUMBER_OBJECT => {
                let n = self.double()?;
                self.done(Value::Boxed(Arc::new(Primitive::Number(n))))
            }
            tag::BIGINT_OBJECT => {
                let n = self.bigint()?;
                self.done(Value::Boxed(Arc::new(Primitive::BigInt(n))))
            }
            tag::STRING_OBJECT => {
                let id = self.new_id(Slot::Reserved);
                let s = self.string()?;
                let v = Value::Boxed(Arc::new(Primitive::String(s)));
                self.ids[id as usize] = Slot::Done(v.clone());
                v
            }
            tag::REGEXP => {
                let id = self.new_id(Slot::Reserved);
                let source = self.string()?;
                let bits_at = self.pos;
                let flags =
                    RegExpFlags::from_bits(self.varint()?).ok_or(DecodeError::InvalidValue {
                        at: bits_at,
                        reason: "invalid RegExp flags",
                    })?;
                let v = Value::RegExp(Arc::new(JsRegExp { source, flags }));
                self.ids[id as usize] = Slot::Done(v.clone());
                v
            }
            tag::ARRAY_BUFFER => {
                let len = self.varint()?;
                let bytes = self.take(len)?;
                let ab = JsArrayBuffer::new(self.to_bytes(bytes));
                self.done(Value::ArrayBuffer(Arc::new(ab)))
            }
            tag::RESIZABLE_ARRAY_BUFFER => {
                let len = self.varint()?;
                let max = self.varint()?;
                let bytes = self.take(len)?;
                let ab = JsArrayBuffer::resizable(self.to_bytes(bytes), max as usize).ok_or(
                    DecodeError::InvalidValue {
                        at,
                        reason: "ArrayBuffer longer than its maximum",
                    },
                )?;
                self.done(Value::ArrayBuffer(Arc::new(ab)))
            }
            t => return Err(DecodeError::UnexpectedTag { at, tag: t }),
        };
        Ok(Some(v))
    }

    /// Node's ArrayBufferView host object, after `\ 00`: type index, byte
    /// length, bytes.
    fn host_view(&mut self, at: usize) -> Result<Value> {
        let (kind, bytes) = self.view_bytes(at)?;
        let view = ArrayBufferView::new(kind, self.to_bytes(bytes)).expect("whole elements");
        Ok(Value::View(Arc::new(view)))
    }

    /// V8's own view form, `V` after an ArrayBuffer: subtag, offset,
    /// length, and flags from version 14.
    fn buffer_view(&mut self, ab: &JsArrayBuffer, at: usize) -> Result<Value> {
        let invalid = |reason| DecodeError::InvalidValue { at, reason };
        let subtag = self.varint()?;
        let offset = self.varint()? as usize;
        let len = self.varint()? as usize;
        let flags = if self.version >= 14 || self.v13_view_flags {
            self.varint()?
        } else {
            0
        };
        let buf = ab.bytes();
        if offset > buf.len() || len > buf.len() - offset {
            return Err(invalid("view outside its ArrayBuffer"));
        }
        let kind = ViewKind::from_v8_subtag(subtag).ok_or(invalid("unknown view type"))?;
        let size = kind.element_size();
        if !offset.is_multiple_of(size) || !len.is_multiple_of(size) {
            return Err(invalid("misaligned typed array"));
        }
        // V8's checks: only views of a resizable buffer track its length or
        // are "backed by" it, and those views must say so.
        let (length_tracking, backed_by_rab) = (flags & 1 != 0, flags & 2 != 0);
        let resizable = ab.max_byte_length().is_some();
        if (length_tracking || backed_by_rab) && !resizable || resizable && !backed_by_rab {
            return Err(invalid("view flags do not match the ArrayBuffer"));
        }
        let end = if length_tracking {
            buf.len() - (buf.len() - offset) % size
        } else {
            offset + len
        };
        let view = ArrayBufferView::new(kind, buf.slice(offset..end)).expect("aligned");
        Ok(Value::View(Arc::new(view)))
    }
}
