//! User messages and Node's internal (`NODE_*`) messages, kept apart as Node
//! keeps `'message'` apart from `'internalMessage'`.

use serde::Serialize;

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
