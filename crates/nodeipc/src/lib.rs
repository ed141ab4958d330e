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
//! Layers, bottom up: `sys` (private: sockets and fds, the only module
//! allowed `unsafe`), [`value`] (the JS value model), [`codec`] (pure wire
//! formats), [`message`] (user vs internal `NODE_*` messages, the
//! `NODE_HANDLE` wrapper), [`handle`] (sockets and servers passed with
//! `NODE_HANDLE`), [`channel`] (one I/O-free core, driven by tokio —
//! [`Channel`] — and by std — [`blocking::Channel`]), [`Command`] (parent)
//! and [`Channel::from_env`] (child). The wire protocol is described in
//! `docs/protocol.md` and the layers in `docs/architecture.md`, in the
//! repository.
//!
//! # Features
//!
//! - `tokio` (default): the async [`Channel`], [`Command::spawn`], and
//!   [`SendHandle`] for tokio's socket types. Without it the crate has no
//!   tokio in its dependency tree: [`blocking::Channel`],
//!   [`Command::blocking_spawn`], the codecs and [`Value`] remain.
//! - `futures` (adds `futures-core`, `futures-sink`; implies `tokio`):
//!   `Receiver::into_stream` (a `futures::Stream` of typed messages,
//!   `RecvStream`) and `Sender::into_sink` (a `futures::Sink`, `SendSink`),
//!   so that `StreamExt` and `SinkExt` combinators work.
//! - `tracing` (adds `tracing`): diagnostics as `tracing` events, what
//!   `NODE_DEBUG=child_process` shows a Node user: channel open and close
//!   (`debug`), handles sent, ACKed, NACKed and received, messages skipped
//!   with their error, backpressure and read-ahead waits (`debug`; a full
//!   socket at `trace`). Every event has the channel's `fd`; the others have
//!   `offset`, `handle`, `queued`, `limit`, `error` as they apply. Without
//!   the feature nothing of it is compiled.
//! - `tokio-util` (adds `tokio-util`): `codec::NodeCodec`, Node's framing
//!   and serialization as a `tokio_util::codec` `Decoder` and `Encoder`, for
//!   a TCP socket or pipe of your own.

#![warn(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// A `tracing` event at `$level` (`debug`, `trace`) about the channel on
/// fd `$fd`, then `tracing`'s fields and message. Without the `tracing`
/// feature it is nothing: the fields are not evaluated, `$fd` is only
/// borrowed.
macro_rules! event {
    ($level:ident, $fd:expr, $($rest:tt)+) => {{
        #[cfg(feature = "tracing")]
        ::tracing::$level!(fd = $fd, $($rest)+);
        #[cfg(not(feature = "tracing"))]
        let _ = &$fd;
    }};
}

pub mod channel;
pub mod child;
#[cfg(feature = "tokio")]
pub mod cluster;
pub mod codec;
mod error;
pub mod handle;
mod limits;
pub mod message;
mod spawn;
#[allow(unsafe_code)]
mod sys;
pub mod value;

pub use channel::blocking;
#[cfg(feature = "tokio")]
pub use channel::{Channel, Receiver, Sender};
#[cfg(feature = "futures")]
pub use channel::{RecvStream, SendSink};
pub use codec::Serialization;
pub use error::{DecodeError, EncodeError, Error, Result};
pub use handle::{Handle, HandleType, SendHandle};
pub use limits::Limits;
pub use message::{InternalMessage, Message};
pub use spawn::Command;
pub use value::Value;
