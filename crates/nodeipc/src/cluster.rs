//! Node's `cluster` protocol (docs/protocol.md §6), both roles, on the tokio
//! channel and handle passing:
//!
//! - [`Worker`]: a Rust program forked by a Node primary (which points
//!   `process.execPath` at it before `cluster.fork()`: Node's cluster drops
//!   `setupPrimary`'s `execPath`), which announces itself, listens *through*
//!   the primary (round-robin or shared socket, as the primary decides) and
//!   exchanges messages with it, as a Node worker does.
//! - [`Primary`]: run an *unmodified* Node server (one that only calls
//!   `server.listen(port)`) as N workers sharing its port, as Node's own
//!   `cluster` primary does.
//!
//! # The primary
//!
//! Each worker is started with `NODE_UNIQUE_ID` and the channel, so Node
//! sets it up as a cluster worker (`cluster.isWorker`, `cluster.worker.id`).
//! When it listens, its `net`/`dgram` module asks the primary for the socket
//! (`queryServer`) and the [`Primary`] answers as Node's does:
//!
//! - [`SchedulingPolicy::RoundRobin`] (Node's default, `SCHED_RR`): the
//!   primary binds and accepts, and hands each connection to a free worker
//!   (`newconn`, the connection's fd passed with the message); a worker that
//!   refuses it (`accepted: false`, at `maxConnections` or closing) has it
//!   passed on to another.
//! - [`SchedulingPolicy::None`] (`SCHED_NONE`): the primary binds and sends
//!   the socket itself; the workers accept from it and the kernel spreads
//!   the connections.
//! - UDP (`dgram`) sockets are always shared, as in Node.
//!
//! The primary tracks `online` and `listening`, passes user messages both
//! ways (`process.send` in the worker is an [`Event::Message`] here,
//! [`Primary::send`] arrives at `process.on('message')`), and
//! [`Primary::disconnect`] is Node's `worker.disconnect()`: the worker
//! closes its servers, finishes its connections and leaves.
//!
//! ```no_run
//! # async fn demo() -> nodeipc::Result<()> {
//! use nodeipc::cluster::{Event, Primary, SchedulingPolicy};
//!
//! let mut primary: Primary = Primary::new(SchedulingPolicy::RoundRobin, |_id| {
//!     let mut cmd = nodeipc::Command::new("node");
//!     cmd.arg("app.js"); // http.createServer(…).listen(8000)
//!     cmd
//! });
//! for _ in 0..2 {
//!     primary.fork()?;
//! }
//! while let Some(event) = primary.next_event().await {
//!     match event {
//!         Event::Listening { worker, info } => println!("{worker} listens on {:?}", info.port),
//!         Event::Exit { worker, status, .. } => println!("{worker} exited: {status}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Everything happens while [`Primary::next_event`] is awaited: call it in
//! a loop (it is cancel-safe, so it can sit in a `tokio::select!`).
//! Restart policy is the caller's ([`Backoff`] helps); `nodeipc cluster`
//! in the CLI crate is one such caller.

use std::fmt;

mod backoff;
mod bind;
mod primary;
mod proto;
mod servers;
mod worker;

pub use backoff::{Backoff, Restart};
pub use primary::{Primary, WorkerInfo};
pub use worker::{DEFAULT_BACKLOG, Listener, UnixListener, Worker};

/// A worker's id: its `NODE_UNIQUE_ID`, which Node's worker shows as
/// `cluster.worker.id`. Counted from 1 in fork order and never reused, as
/// in Node (a restarted worker has a new id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkerId(pub u32);

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker {}", self.0)
    }
}

/// How connections to a TCP or unix server are spread over the workers
/// (Node's `cluster.schedulingPolicy`, `NODE_CLUSTER_SCHED_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulingPolicy {
    /// `SCHED_RR`, Node's default on Unix: the primary accepts and hands
    /// each connection to the next free worker.
    #[default]
    RoundRobin,
    /// `SCHED_NONE`: every worker gets the listening socket and accepts
    /// from it itself.
    None,
}

/// Where a worker's server listens, as Node's `cluster` `'listening'`
/// event reports it (`{ addressType, address, port, fd }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenInfo {
    /// The kind of socket; `None` for a server on an inherited fd.
    pub address_type: Option<AddressType>,
    /// The address the worker asked for (`None`: every interface), or the
    /// unix socket path.
    pub address: Option<String>,
    /// The port the worker got (the bound one when it asked for 0); `-1`
    /// for a unix socket.
    pub port: Option<i64>,
    /// The fd the worker listened on, for `listen({ fd })`.
    pub fd: Option<i64>,
}

/// Node's `addressType` of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressType {
    /// TCP over IPv4 (`4`; also a server on every interface).
    Ipv4,
    /// TCP over IPv6 (`6`).
    Ipv6,
    /// A unix socket (`-1`).
    Unix,
    /// A `dgram` `udp4` socket.
    Udp4,
    /// A `dgram` `udp6` socket.
    Udp6,
}

/// What happened in the cluster: [`Primary::next_event`]'s answer. The
/// variants are Node's `cluster` events.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<T> {
    /// The worker's `cluster` module started (`'online'`).
    Online(WorkerId),
    /// A server of the worker listens (`'listening'`).
    Listening {
        /// The worker.
        worker: WorkerId,
        /// Where.
        info: ListenInfo,
    },
    /// The worker sent a message with `process.send` (`'message'`).
    Message {
        /// The sender.
        worker: WorkerId,
        /// What it sent.
        message: T,
    },
    /// The worker's channel closed (`'disconnect'`): it gets no more
    /// connections or messages.
    Disconnect(WorkerId),
    /// The worker's process ended (`'exit'`).
    Exit {
        /// The worker.
        worker: WorkerId,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Whether it left on [`Primary::disconnect`] or by calling
        /// `cluster.worker.disconnect()` itself (Node's
        /// `worker.exitedAfterDisconnect`), rather than crashing or exiting
        /// on its own.
        exited_after_disconnect: bool,
    },
    /// Something went wrong that the cluster goes on after: a message from
    /// a worker that could not be read, a server that could not be bound
    /// (the worker got the error too), an accept that failed.
    Error {
        /// The worker it concerns, if one.
        worker: Option<WorkerId>,
        /// What.
        error: crate::Error,
    },
}
