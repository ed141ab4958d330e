//! A decoded frame sorted out: a user message, an internal one, or a
//! `NODE_HANDLE` unwrapped through every layer.

use serde::de::DeserializeOwned;

use super::{InternalMessage, Message, layers};
use crate::codec::{json, v8};
use crate::error::{DecodeError, Error, Result};
use crate::limits::Limits;
use crate::value::{Value, from_value_limited};

/// A decoded message as the channel core sees it. The rare kinds are
/// boxed, so that a user message moves through the layers at the size of
/// `T` (measured: unboxed, the tiny-message rate fell by a quarter).
#[derive(Debug)]
pub(crate) enum Incoming<T> {
    /// A user message without a handle.
    User(T),
    /// An internal message without a handle.
    Internal(Box<InternalMessage>),
    /// A `NODE_HANDLE` message.
    Handle(Box<Wrapped<T>>),
}

/// A `NODE_HANDLE` message, unwrapped through every layer (Node's
/// retransmission wraps twice).
#[derive(Debug)]
pub(crate) struct Wrapped<T> {
    /// How many `NODE_HANDLE` layers there were.
    pub(crate) layers: usize,
    /// The innermost `type`, as sent.
    pub(crate) name: String,
    /// The wrapped message (an internal one for cluster's `newconn`), or
    /// why it does not decode as `T` (the handle is still answered).
    pub(crate) msg: Result<Message<T>>,
}

impl<T: DeserializeOwned> Incoming<T> {
    /// A `json` line. User messages, told apart by the codec's fast check
    /// ([`json::Frame::is_internal`]), are parsed straight into `T`.
    #[inline]
    pub(crate) fn from_json(frame: json::Frame<'_>) -> Result<Incoming<T>> {
        if !frame.is_internal() {
            return Ok(Incoming::User(frame.parse()?));
        }
        // Every NODE_HANDLE layer off in a constant number of passes (see
        // `layers`); the wrapped message is parsed from its own text, so
        // its numbers and strings are read as any user message's.
        let offset = frame.offset();
        let layers::Unwrapped { layers, name, msg } =
            layers::unwrap(frame.as_bytes(), || frame.repaired()).map_err(|e| Error::Decode {
                offset,
                kind: DecodeError::Json(e),
            })?;
        let inner = json::Frame::new(&msg, offset);
        let msg = if inner.is_internal() {
            inner.parse().map(|v| Message::Internal(InternalMessage(v)))
        } else {
            inner.parse().map(Message::User)
        };
        wrapped(layers, name, msg)
    }

    /// An `advanced` frame. User messages the direct reader can take are
    /// read straight into `T`; the rest go through a [`Value`].
    pub(crate) fn from_v8(frame: v8::Frame<'_>) -> Result<Incoming<T>> {
        if let Some(msg) = frame.deserialize_user() {
            return Ok(Incoming::User(msg));
        }
        Incoming::from_value(frame.to_value()?, frame.offset(), &frame.expansion_limits())
    }

    /// A message the value reader read: a user message, an internal one,
    /// or a `NODE_HANDLE` unwrapped.
    fn from_value(value: Value, offset: u64, limits: &Limits) -> Result<Incoming<T>> {
        // Each layer is borrowed from the one around it, not copied: linear
        // in the message whatever the depth, as in Node.
        let undefined = Value::Undefined;
        let mut value = &value;
        let mut layers = 0;
        let mut name = "";
        loop {
            let cmd = is_internal(value).then(|| value.get("cmd").and_then(Value::as_str));
            let msg = match cmd {
                None => from_value_limited(value, limits)
                    .map(Message::User)
                    .map_err(|e| mismatch(offset, e)),
                Some(Some("NODE_HANDLE")) => {
                    layers += 1;
                    name = value
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    value = value.get("msg").unwrap_or(&undefined);
                    continue;
                }
                Some(_) => value
                    .to_json()
                    .map(|json| Message::Internal(InternalMessage(json)))
                    .map_err(|e| mismatch(offset, e)),
            };
            return wrapped(layers, name.to_owned(), msg);
        }
    }
}

/// `Incoming` for a message of `layers` wrappers around `msg`.
fn wrapped<T>(layers: usize, name: String, msg: Result<Message<T>>) -> Result<Incoming<T>> {
    match (layers, msg) {
        (0, Ok(Message::User(t))) => Ok(Incoming::User(t)),
        (0, Ok(Message::Internal(m))) => Ok(Incoming::Internal(Box::new(m))),
        (0, Err(e)) => Err(e),
        (layers, msg) => Ok(Incoming::Handle(Box::new(Wrapped { layers, name, msg }))),
    }
}

/// Node's `isInternal()` on a value: an object whose `cmd` passes
/// [`is_internal_cmd`](crate::codec::is_internal_cmd). Any `typeof
/// 'object'` counts in Node; of those, only objects and arrays (with a
/// named `cmd` property) can carry one over the wire. An array's named
/// properties are not in the [`InternalMessage`] (its JSON is the array's,
/// as `JSON.stringify` writes it).
fn is_internal(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
        && value
            .get("cmd")
            .and_then(Value::as_str)
            .is_some_and(crate::codec::is_internal_cmd)
}

/// A message that decoded but does not fit the requested type.
fn mismatch(offset: u64, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        offset,
        kind: DecodeError::Mismatch(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{SendBuf, Serialization};

    #[test]
    fn both_serializations_keep_internal_messages_apart() {
        for s in [Serialization::Json, Serialization::Advanced] {
            let mut out = SendBuf::new(s, 0);
            out.push(&serde_json::json!({"cmd": "NODE_X"})).unwrap();
            out.push(&serde_json::json!({"cmd": "NODE_"})).unwrap();
            let bytes = out.pending().to_vec();
            let (first, second): (Incoming<serde_json::Value>, Incoming<serde_json::Value>) =
                match s {
                    Serialization::Json => {
                        let mut dec = json::JsonDecoder::new(Limits::default());
                        dec.extend(&bytes);
                        let a = Incoming::from_json(dec.decode().unwrap().unwrap()).unwrap();
                        let b = Incoming::from_json(dec.decode().unwrap().unwrap()).unwrap();
                        (a, b)
                    }
                    _ => {
                        let mut dec = v8::V8Decoder::new(Limits::default());
                        dec.extend(&bytes);
                        let a = Incoming::from_v8(dec.decode().unwrap().unwrap()).unwrap();
                        let b = Incoming::from_v8(dec.decode().unwrap().unwrap()).unwrap();
                        (a, b)
                    }
                };
            assert!(
                matches!(first, Incoming::Internal(ref m) if m.cmd() == "NODE_X"),
                "{s}"
            );
            assert!(
                matches!(second, Incoming::User(ref v) if *v == serde_json::json!({"cmd": "NODE_"})),
                "{s}"
            );
        }
    }
}
