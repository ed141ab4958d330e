//! Node's `cluster` protocol (docs/protocol.md §6) on top of the channel
//! and handle passing.
//!
//! - [`Worker`]: a Rust program forked by a Node primary
//!   (`cluster.setupPrimary({ exec, execPath: 'my-rust-bin' })`,
//!   `cluster.fork()`), which announces itself, listens *through* the
//!   primary (round-robin or shared handle, as the primary decides) and
//!   exchanges messages with it, as a Node worker does.
//!
//! Everything here is the tokio channel's (feature `tokio`).

mod worker;

pub use worker::{Listener, Worker};

/// The internal command of every cluster message.
const NODE_CLUSTER: &str = "NODE_CLUSTER";

/// The environment variable a primary sets for each worker: its id.
pub const UNIQUE_ID_VAR: &str = "NODE_UNIQUE_ID";
