//! The message layer: user messages and Node's internal (`NODE_*`)
//! messages, kept apart as Node keeps `'message'` apart from
//! `'internalMessage'`, and the `NODE_HANDLE` wrapper that carries a
//! message with a handle (docs/protocol.md §4).
//!
//! Below it, [`codec`](crate::codec) turns bytes into frames and values;
//! above it, the channel core acts on what this layer sorted out (an ACK,
//! a handle to answer) and hands user messages out.

mod incoming;
mod layers;

use serde::Serialize;

pub(crate) use incoming::Incoming;

/// A message from the peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<T> {
    /// What the peer's code passed to `process.send` / `child.send`.
    User(T),
    /// A message of Node's own protocol: an object whose `cmd` starts with
    /// `NODE_` (handle passing, cluster). Node never shows these to
    /// `'message'` listeners, even when user code sent them.
    Internal(InternalMessage),
}

impl<T> Message<T> {
    /// The user message, if this is one.
    pub fn into_user(self) -> Option<T> {
        match self {
            Message::User(m) => Some(m),
            Message::Internal(_) => None,
        }
    }
}

/// One internal message, as the JSON object it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct InternalMessage(pub serde_json::Value);

impl InternalMessage {
    /// Its `cmd`, such as `"NODE_HANDLE"`.
    pub fn cmd(&self) -> &str {
        self.0
            .get("cmd")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
    }
}

/// The `NODE_HANDLE` wrapper a message travels in when a handle goes with
/// it, with Node's key order (docs/protocol.md §4.2).
#[derive(Serialize)]
pub(crate) struct HandleWrapper<'a, T: ?Sized> {
    cmd: &'static str,
    #[serde(rename = "type")]
    ty: &'static str,
    msg: &'a T,
    #[serde(rename = "dgramType", skip_serializing_if = "Option::is_none")]
    dgram_type: Option<&'static str>,
}

impl<'a, T: ?Sized> HandleWrapper<'a, T> {
    /// `msg` sent with a handle of Node type `ty` (and, for a UDP socket,
    /// its `dgramType`).
    pub(crate) fn new(msg: &'a T, ty: &'static str, dgram_type: Option<&'static str>) -> Self {
        HandleWrapper {
            cmd: "NODE_HANDLE",
            ty,
            msg,
            dgram_type,
        }
    }
}

/// A bare internal command (`{"cmd": "NODE_HANDLE_ACK"}` and the like).
#[derive(Serialize)]
pub(crate) struct Cmd {
    /// The command.
    pub(crate) cmd: &'static str,
}
