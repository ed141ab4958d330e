//! The workers' servers, as Node's primary keeps them
//! (`round_robin_handle.js`, `shared_handle.js`): one per key, shared by
//! every worker that listens on it, closed when the last one leaves.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::bind::{self, Bound};
use super::primary::{Input, Primary};
use super::proto::{Incoming, ServerQuery, query_reply};
use super::{Event, SchedulingPolicy, WorkerId};
use crate::HandleType;
use crate::handle::OutgoingHandle;
use crate::sys::readiness;

/// Every server of the cluster, and the connections handed to workers that
/// have not answered yet.
#[derive(Debug, Default)]
pub(super) struct Servers {
    by_key: HashMap<String, Server>,
    /// By the `seq` of the `newconn` that carried the connection.
    in_flight: HashMap<u64, InFlight>,
}

#[derive(Debug)]
struct Server {
    /// The workers listening on it, in the order they came.
    workers: Vec<WorkerId>,
    /// The first `data` a worker sent (TLS ticket keys), given to all.
    data: Value,
    /// Our socket: the one accepted from, or the one shared.
    bound: Bound,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// The workers get the socket and accept themselves.
    Shared,
    /// We accept and hand out connections.
    RoundRobin {
        accept: JoinHandle<()>,
        /// Workers that answered their last connection and wait for one.
        free: VecDeque<WorkerId>,
        /// Connections no worker was free for.
        pending: VecDeque<OwnedFd>,
        /// The `sockname` reply for TCP (`server.address()` in the worker).
        sockname: Option<Value>,
    },
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Kind::RoundRobin { accept, .. } = &self.kind {
            accept.abort();
        }
    }
}

#[derive(Debug)]
struct InFlight {
    key: String,
    worker: WorkerId,
    conn: OwnedFd,
}

impl Servers {
    /// Whether `seq` is a `newconn` awaiting its answer.
    pub(super) fn is_newconn(&self, seq: u64) -> bool {
        self.in_flight.contains_key(&seq)
    }

    /// The worker no longer listens on `key` (its `close`, or it left):
    /// the server closes when it was the last (Node's `handle.remove`).
    pub(super) fn leave(&mut self, key: &str, worker: WorkerId) {
        let Some(server) = self.by_key.get_mut(key) else {
            return;
        };
        server.workers.retain(|w| *w != worker);
        if let Kind::RoundRobin { free, .. } = &mut server.kind {
            free.retain(|w| *w != worker);
        }
        if server.workers.is_empty() {
            // Pending connections are closed with it, as in Node.
            self.by_key.remove(key);
        }
    }

    /// Closes the connections handed to `worker` and not answered.
    pub(super) fn drop_in_flight(&mut self, worker: WorkerId) {
        self.in_flight.retain(|_, f| f.worker != worker);
    }
}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Primary<T> {
    /// Node's `removeHandlesForWorker`.
    pub(super) fn leave_servers(&mut self, worker: WorkerId) {
        let keys: Vec<String> = self.servers.by_key.keys().cloned().collect();
        for key in keys {
            self.servers.leave(&key, worker);
        }
    }

    /// Answers a worker's `queryServer`: binds on first use of a key,
    /// then round-robin (we accept) or shared (the worker gets the socket).
    pub(super) fn query_server(&mut self, worker: WorkerId, msg: &Incoming) {
        let exited = self
            .workers
            .get(&worker)
            .is_none_or(|s| s.exited_after_disconnect);
        let Some(ack) = msg.seq.filter(|_| !exited) else {
            // Node ignores a worker that is disconnecting.
            return;
        };
        let query = ServerQuery::parse(&msg.body);
        let round_robin = self.policy == SchedulingPolicy::RoundRobin && !query.is_udp();
        match self.servers.by_key.get(&query.key) {
            // The same worker listening twice on one fixed port: a second
            // bind, which the kernel refuses (Node tries it and gets this).
            Some(server) if server.workers.contains(&worker) => {
                let e = io::Error::from_raw_os_error(libc::EADDRINUSE);
                self.refuse(worker, &query, ack, &e);
                return;
            }
            Some(_) => {}
            None => match self.open(&query, round_robin) {
                Ok(server) => {
                    self.servers.by_key.insert(query.key.clone(), server);
                }
                Err(e) => {
                    self.refuse(worker, &query, ack, &e);
                    self.events.push_back(Event::Error {
                        worker: Some(worker),
                        error: e.into(),
                    });
                    return;
                }
            },
        }
        let Some(server) = self.servers.by_key.get_mut(&query.key) else {
            return;
        };
        if matches!(server.data, Value::Null | Value::Bool(false)) {
            server.data = query.data.clone();
        }
        server.workers.push(worker);
        match &server.kind {
            Kind::RoundRobin { sockname, .. } => {
                let mut reply = query_reply(&query, ack, None, &server.data);
                if let Some(sockname) = sockname {
                    reply["sockname"] = sockname.clone();
                }
                self.send_cluster(worker, reply, None);
                self.handoff(&query.key, worker);
            }
            Kind::Shared => {
                let ty = if query.is_udp() {
                    HandleType::DgramNative
                } else {
                    HandleType::NetNative
                };
                let reply = query_reply(&query, ack, Some(0), &server.data);
                let handle = server
                    .bound
                    .fd
                    .try_clone()
                    .and_then(|fd| OutgoingHandle::new(fd, ty));
                match handle {
                    Ok(handle) => {
                        self.send_cluster(worker, reply, Some(handle));
                    }
                    Err(e) => {
                        self.refuse(worker, &query, ack, &e);
                        self.servers.leave(&query.key, worker);
                    }
                }
            }
        }
    }

    /// Answers `query` with the errno of `e`, as Node's primary answers a
    /// server it could not make.
    fn refuse(&mut self, worker: WorkerId, query: &ServerQuery, ack: u64, e: &io::Error) {
        let reply = query_reply(query, ack, Some(bind::uv_errno(e)), &query.data);
        self.send_cluster(worker, reply, None);
    }

    /// Binds the server `query` asks for; for round-robin, listens and
    /// starts accepting.
    fn open(&self, query: &ServerQuery, round_robin: bool) -> io::Result<Server> {
        let bound = bind::server(query, round_robin)?;
        let kind = if round_robin {
            let sockname = match query.address_type {
                Some(super::AddressType::Unix) => None,
                _ => Some(sockname(&bound.fd)?),
            };
            let listener = Listener::new(bound.fd.try_clone()?, query.address_type)?;
            let key: Arc<str> = query.key.as_str().into();
            Kind::RoundRobin {
                accept: tokio::spawn(accept(key, listener, self.inputs_tx.clone())),
                free: VecDeque::new(),
                pending: VecDeque::new(),
                sockname,
            }
        } else {
            Kind::Shared
        };
        Ok(Server {
            workers: Vec::new(),
            data: Value::Null,
            bound,
            kind,
        })
    }

    /// A connection accepted on `key`: to the first free worker, or queued
    /// (Node's `distribute`).
    pub(super) fn distribute(&mut self, key: &str, conn: OwnedFd) {
        let Some(Server {
            kind: Kind::RoundRobin { free, pending, .. },
            ..
        }) = self.servers.by_key.get_mut(key)
        else {
            // Accepted just before the server closed: closed with it.
            return;
        };
        pending.push_back(conn);
        if let Some(worker) = free.pop_front() {
            self.handoff(key, worker);
        }
    }

    /// Gives `worker` the next pending connection of `key`, or marks it
    /// free (Node's `handoff`).
    fn handoff(&mut self, key: &str, worker: WorkerId) {
        let Some(Server {
            workers,
            kind: Kind::RoundRobin { free, pending, .. },
            ..
        }) = self.servers.by_key.get_mut(key)
        else {
            return;
        };
        if !workers.contains(&worker) {
            return;
        }
        let Some(conn) = pending.pop_front() else {
            if !free.contains(&worker) {
                free.push_back(worker);
            }
            return;
        };
        let handle = match conn
            .try_clone()
            .and_then(|fd| OutgoingHandle::new(fd, HandleType::NetNative))
        {
            Ok(handle) => handle,
            Err(e) => {
                // Out of fds: this connection is lost (closed), the worker
                // stays free for the next.
                free.push_back(worker);
                self.events.push_back(Event::Error {
                    worker: Some(worker),
                    error: e.into(),
                });
                return;
            }
        };
        let body = json!({ "act": "newconn", "key": key });
        match self.send_cluster(worker, body, Some(handle)) {
            Some(seq) => {
                let key = key.to_owned();
                self.servers
                    .in_flight
                    .insert(seq, InFlight { key, worker, conn });
            }
            None => {
                // The worker is gone: the next one gets it.
                if let Some(Server {
                    kind: Kind::RoundRobin { pending, .. },
                    ..
                }) = self.servers.by_key.get_mut(key)
                {
                    pending.push_front(conn);
                }
            }
        }
    }

    /// The worker answered a `newconn`: accepted (our copy is closed) or
    /// refused (to another worker), and it is free for the next.
    pub(super) fn newconn_answered(&mut self, seq: u64, accepted: bool) {
        let Some(InFlight { key, worker, conn }) = self.servers.in_flight.remove(&seq) else {
            return;
        };
        if !accepted {
            self.distribute(&key, conn);
        }
        self.handoff(&key, worker);
    }
}

/// `{ address, family, port }`, what Node's `getsockname` gives.
fn sockname(fd: &OwnedFd) -> io::Result<Value> {
    let addr = std::net::TcpListener::from(fd.try_clone()?).local_addr()?;
    let family = if addr.is_ipv6() { "IPv6" } else { "IPv4" };
    Ok(json!({ "address": addr.ip().to_string(), "family": family, "port": addr.port() }))
}

/// The listening socket a round-robin server accepts on. tokio only
/// reports its readiness: an accepted socket goes to a worker as it is,
/// never registered with tokio (which would cost two `epoll_ctl`s per
/// connection, to add it and to take it out again).
enum Listener {
    Tcp(AsyncFd<std::net::TcpListener>),
    Unix(AsyncFd<std::os::unix::net::UnixListener>),
}

impl Listener {
    fn new(fd: OwnedFd, address_type: Option<super::AddressType>) -> io::Result<Listener> {
        crate::sys::set_nonblocking(&fd, true)?;
        Ok(match address_type {
            Some(super::AddressType::Unix) => {
                Listener::Unix(readiness(fd.into(), Interest::READABLE)?)
            }
            _ => Listener::Tcp(readiness(fd.into(), Interest::READABLE)?),
        })
    }

    /// The next connection, as a plain fd (what goes to the worker, which
    /// sets its own mode).
    async fn accept(&self) -> io::Result<OwnedFd> {
        match self {
            Listener::Tcp(l) => accept_ready(l, |l| Ok(l.accept()?.0.into())).await,
            Listener::Unix(l) => accept_ready(l, |l| Ok(l.accept()?.0.into())).await,
        }
    }
}

/// `accept` on `l` once it is readable (again, after a `WouldBlock`).
async fn accept_ready<L: std::os::fd::AsRawFd>(
    l: &AsyncFd<L>,
    accept: impl Fn(&L) -> io::Result<OwnedFd>,
) -> io::Result<OwnedFd> {
    loop {
        let mut ready = l.readable().await?;
        if let Ok(conn) = ready.try_io(|l| accept(l.get_ref())) {
            return conn;
        }
    }
}

/// Accepts on a round-robin server until it closes (the task is aborted)
/// or the primary is gone.
async fn accept<T>(key: Arc<str>, listener: Listener, inputs: UnboundedSender<Input<T>>) {
    loop {
        let input = match listener.accept().await {
            Ok(conn) => Input::Connection(key.clone(), conn),
            Err(e) if is_transient(&e) => continue,
            Err(e) => Input::AcceptError(key.clone(), e),
        };
        let failed = matches!(input, Input::AcceptError(..));
        if inputs.send(input).is_err() {
            return;
        }
        if failed {
            // Out of fds or memory: accepting again at once would spin.
            // A blocking sleep on tokio's blocking pool keeps the crate
            // free of tokio's `time` feature for this one rare path.
            let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(100)))
                .await;
        }
    }
}

/// An accept error about that one connection (it went away first).
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
    )
}
