//! Node.js `child_process` IPC in Rust: both ends of the channel that
//! `fork()`, `process.send` and `process.on('message')` use, byte-compatible
//! with real Node.
//!
//! **Rust parent, Node child** — the child is plain Node:
//!
//! ```no_run
//! # async fn parent() -> nodeipc::Result<()> {
//! // worker.js: process.on('message', (m) => process.send({ echo: m }));
//! let (mut child, mut channel) = nodeipc::Command::new("node").arg("worker.js").spawn()?;
//! channel.send(&serde_json::json!({ "hello": "node" })).await?;
//! let reply: serde_json::Value = channel.recv().await?.expect("worker answered");
//! channel.disconnect().await?; // the worker sees 'disconnect'
//! child.wait().await?;
//! # Ok(()) }
//! ```
//!
//! **Rust child, Node parent** (`fork('./my-rust-binary')`, or `spawn` with
//! `'ipc'` in `stdio`):
//!
//! ```no_run
//! # async fn child() -> nodeipc::Result<()> {
//! let mut channel = nodeipc::Channel::from_env()?;
//! while let Some(msg) = channel.recv::<serde_json::Value>().await? {
//!     channel.send(&msg).await?; // the parent gets it with child.on('message')
//! }
//! # Ok(()) }
//! ```
//!
//! Layers, bottom up: `sys` (private: sockets and fds, all the `unsafe`), [`codec`]
//! (pure wire formats), [`message`] (user vs internal `NODE_*` messages),
//! [`handle`] (sockets and servers passed with `NODE_HANDLE`),
//! [`Channel`] (tokio) and [`blocking::Channel`] (std), [`Command`] (parent)
//! and [`Channel::from_env`] (child). The wire protocol is described in
//! `PROTOCOL.md`; `docs/` in the repository holds design notes.

#![warn(missing_docs)]

pub mod blocking;
pub mod channel;
pub mod child;
pub mod codec;
mod error;
pub mod handle;
mod limits;
pub mod message;
mod protocol;
mod spawn;
mod sys;
pub mod value;

pub use channel::{Channel, Receiver, Sender};
pub use codec::Serialization;
pub use error::{DecodeError, EncodeError, Error, Result};
pub use handle::{Handle, HandleType, SendHandle};
pub use limits::Limits;
pub use message::{InternalMessage, Message};
pub use spawn::Command;
pub use value::Value;
