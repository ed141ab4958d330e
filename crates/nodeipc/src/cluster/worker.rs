//! A Rust cluster worker of a Node primary (`lib/internal/cluster/child.js`
//! is the Node side this stands in for).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{Value as Json, json};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};

use super::proto::{CMD, Seq, UNIQUE_ID_VAR};
use crate::channel::{Receiver, Sender, race};
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::limits::Limits;
use crate::message::Message;
use crate::value::Value;

/// Connections a round-robin [`Listener`] holds for `accept` before it
/// refuses more (`accepted: false`: the primary hands the connection to
/// another worker), unless [`Worker::listen_with_backlog`] says otherwise.
pub const DEFAULT_BACKLOG: usize = 128;

/// A cluster worker: the Rust side of `cluster.fork()` in a Node primary.
///
/// The primary runs this program with `NODE_UNIQUE_ID` and a channel
/// (`cluster.setupPrimary({ exec: 'worker', execPath: '/path/to/bin' })`);
/// [`from_env`](Self::from_env) adopts the channel and announces the worker
/// (`online` fires in the primary). [`listen`](Self::listen) asks the
/// primary for a server, as `server.listen(port)` does in a Node worker:
/// under round-robin (Node's default on Unix) the primary accepts and hands
/// each connection over; under `SCHED_NONE` it sends the listening socket,
/// and this worker accepts on it itself. Either way the [`Listener`]
/// yields connections.
///
/// A background task reads the channel: cluster's messages are answered
/// there, user messages wait for [`recv`](Self::recv). When the primary
/// calls `worker.disconnect()`, every listener stops, the channel is
/// closed and [`disconnected`](Self::disconnected) resolves: finish the
/// connections in flight and exit (the primary sees `exitedAfterDisconnect`).
///
/// ```no_run
/// # async fn demo() -> nodeipc::Result<()> {
/// let worker = nodeipc::cluster::Worker::from_env()?;
/// let listener = worker.listen("127.0.0.1:8000".parse().unwrap()).await?;
/// loop {
///     tokio::select! {
///         conn = listener.accept() => { let (stream, _peer) = conn?; /* serve */ }
///         _ = worker.disconnected() => break,
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Worker {
    id: u64,
    shared: Arc<Shared>,
    messages: tokio::sync::Mutex<mpsc::UnboundedReceiver<(Value, Option<Handle>)>>,
    /// How many servers were asked for per address (Node's `index`).
    indexes: Mutex<HashMap<String, u64>>,
}

/// What the worker and its background task share.
#[derive(Debug)]
struct Shared {
    /// `None` once the channel is closed. Every cluster message is numbered
    /// (`seq`) and sent under this lock, so in `seq` order.
    tx: Arc<tokio::sync::Mutex<Option<Sender>>>,
    /// Numbers cluster messages; taken under `tx`'s lock.
    seq: Mutex<Seq>,
    /// Requests waiting for the primary's answer, by `seq`.
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    /// Round-robin servers, by the primary's key.
    servers: Mutex<HashMap<String, mpsc::Sender<Conn>>>,
    /// `true` once the worker is disconnecting or the channel is gone.
    gone: watch::Sender<bool>,
}

/// A message of the primary with the handle that came with it.
type Answer = (Json, Option<Handle>);

/// A connection the primary handed over (round-robin).
#[derive(Debug)]
enum Conn {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Worker {
    /// Adopts the channel of a Node cluster primary (with default
    /// [`Limits`]) and sends `online`. Must be called inside a tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`Error::NotAWorker`] when `NODE_UNIQUE_ID` is not set (this process
    /// was not started by `cluster.fork()`), and the errors of
    /// [`Channel::from_env`](crate::Channel::from_env).
    pub fn from_env() -> Result<Worker> {
        Self::from_env_with_limits(Limits::default())
    }

    /// [`from_env`](Self::from_env) with the given limits.
    pub fn from_env_with_limits(limits: Limits) -> Result<Worker> {
        let id = std::env::var(UNIQUE_ID_VAR)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(Error::NotAWorker)?;
        let (tx, rx) = crate::Channel::from_env_with_limits(limits)?.split();
        let (users, messages) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            tx: Arc::new(tokio::sync::Mutex::new(Some(tx))),
            seq: Mutex::new(Seq::default()),
            pending: Mutex::new(HashMap::new()),
            servers: Mutex::new(HashMap::new()),
            gone: watch::Sender::new(false),
        });
        tokio::spawn(dispatch(shared.clone(), rx, users));
        let worker = Worker {
            id,
            shared,
            messages: tokio::sync::Mutex::new(messages),
            indexes: Mutex::new(HashMap::new()),
        };
        // `online` first, as Node sends it: the sender stays locked until it
        // is written (a fresh lock: `try_lock` cannot fail).
        let first = worker.shared.tx.clone().try_lock_owned();
        let shared = worker.shared.clone();
        tokio::spawn(async move {
            if let Ok(mut tx) = first {
                let _ = shared
                    .send_locked(&mut tx, json!({"act": "online"}), None, None)
                    .await;
            }
        });
        Ok(worker)
    }

    /// This worker's id: `cluster.worker.id` in the primary
    /// (`NODE_UNIQUE_ID`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Listens on a TCP address through the primary, as `server.listen()`
    /// does in a Node worker (the primary's `listening` event fires with
    /// the address). Port 0 takes a port the primary picks, shared by the
    /// workers that ask for the same address.
    pub async fn listen(&self, addr: SocketAddr) -> Result<Listener> {
        self.listen_with_backlog(addr, DEFAULT_BACKLOG).await
    }

    /// [`listen`](Self::listen); under round-robin, at most `backlog`
    /// connections wait for [`Listener::accept`] (at least 1): past that
    /// the worker answers `accepted: false` and the primary hands the
    /// connection to another worker, as Node does for a server at its
    /// `maxConnections`.
    pub async fn listen_with_backlog(&self, addr: SocketAddr, backlog: usize) -> Result<Listener> {
        let address_type = if addr.is_ipv4() { 4 } else { 6 };
        let address = addr.ip().to_string();
        let (query, reply, handle) = self
            .query_server(&address, addr.port().into(), address_type.into())
            .await?;
        let kind = match handle {
            // SCHED_NONE: the primary's socket, bound and shared; the worker
            // listens on it, as Node's net does (it arrives not yet
            // listening, so it looks like a stream).
            Some(Handle::TcpListener(l)) => Kind::Shared(shared_tcp(l.into())?),
            Some(Handle::TcpStream(s)) => Kind::Shared(shared_tcp(s.into())?),
            Some(other) => return Err(unexpected(&other)),
            None => self.round_robin(&reply, backlog),
        };
        let port = match &kind {
            Kind::Shared(l) => l.local_addr()?.port(),
            Kind::RoundRobin(_) => reply
                .pointer("/sockname/port")
                .and_then(Json::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(addr.port()),
        };
        self.announce_listening(query, Some(port)).await?;
        Ok(Listener {
            served: self.served(kind),
            addr: SocketAddr::new(addr.ip(), port),
        })
    }

    /// Listens on a unix socket at `path` through the primary, as
    /// `server.listen(path)` does in a Node worker: under round-robin the
    /// primary listens on the path and hands each connection over; under
    /// `SCHED_NONE` it binds the path and every worker listens on that
    /// socket. The primary's `listening` event fires with `address` the
    /// path and `addressType` -1.
    ///
    /// # Errors
    ///
    /// The primary's (`EADDRINUSE` when the path exists, say), and
    /// `InvalidInput` for a path that is not UTF-8 (it goes to the
    /// primary as a JSON string).
    pub async fn listen_unix(&self, path: impl AsRef<Path>) -> Result<UnixListener> {
        self.listen_unix_with_backlog(path, DEFAULT_BACKLOG).await
    }

    /// [`listen_unix`](Self::listen_unix) with a `backlog` as in
    /// [`listen_with_backlog`](Self::listen_with_backlog).
    pub async fn listen_unix_with_backlog(
        &self,
        path: impl AsRef<Path>,
        backlog: usize,
    ) -> Result<UnixListener> {
        let path = path.as_ref();
        let address = path.to_str().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is not UTF-8: a Node primary cannot be told it",
                    path.display()
                ),
            )
        })?;
        // A pipe is port -1 and address type -1 in Node's net.
        let (query, reply, handle) = self.query_server(address, (-1).into(), (-1).into()).await?;
        let kind = match handle {
            Some(Handle::UnixListener(l)) => Kind::Shared(shared_unix(l.into())?),
            Some(Handle::UnixStream(s)) => Kind::Shared(shared_unix(s.into())?),
            Some(other) => return Err(unexpected(&other)),
            None => self.round_robin(&reply, backlog),
        };
        self.announce_listening(query, None).await?;
        Ok(UnixListener {
            served: self.served(kind),
            path: path.to_owned(),
        })
    }

    /// A round-robin server: connections come with `newconn`, for the
    /// primary's `key`; at most `backlog` wait.
    fn round_robin<L>(&self, reply: &Json, backlog: usize) -> Kind<L> {
        let key = reply.get("key").and_then(Json::as_str).unwrap_or_default();
        let (tx, rx) = mpsc::channel(backlog.max(1));
        lock(&self.shared.servers).insert(key.to_owned(), tx);
        Kind::RoundRobin(tokio::sync::Mutex::new(rx))
    }

    /// A server of `kind` that stops when the worker disconnects.
    fn served<L>(&self, kind: Kind<L>) -> Served<L> {
        Served {
            kind,
            gone: self.shared.gone.subscribe(),
        }
    }

    /// Binds a UDP socket through the primary, as `dgram`'s `bind()` does
    /// in a Node worker: the primary binds once and every worker that asks
    /// for the address shares the socket (UDP is never round-robin).
    pub async fn bind_udp(&self, addr: SocketAddr) -> Result<UdpSocket> {
        let address_type = if addr.is_ipv4() { "udp4" } else { "udp6" };
        let address = addr.ip().to_string();
        let (query, _, handle) = self
            .query_server(&address, addr.port().into(), address_type.into())
            .await?;
        let socket = match handle {
            Some(Handle::UdpSocket(s)) => {
                s.set_nonblocking(true)?;
                UdpSocket::from_std(s)?
            }
            Some(other) => return Err(unexpected(&other)),
            None => {
                return Err(Error::Handle {
                    offset: 0,
                    reason: "the primary answered a UDP queryServer without a socket".into(),
                });
            }
        };
        self.announce_listening(query, Some(socket.local_addr()?.port()))
            .await?;
        Ok(socket)
    }

    /// Asks the primary for a server on `address` and `port`
    /// (`queryServer`): the query sent, the answer, and the handle that
    /// came with it.
    async fn query_server(
        &self,
        address: &str,
        port: i64,
        address_type: Json,
    ) -> Result<(Json, Json, Option<Handle>)> {
        let index = {
            let mut indexes = lock(&self.indexes);
            let next = indexes
                .entry(format!("{address}:{port}:{address_type}:"))
                .or_insert(0);
            *next += 1;
            *next - 1
        };
        let query = json!({
            "act": "queryServer",
            "index": index,
            "data": null,
            "address": address,
            "port": port,
            "addressType": address_type,
            "backlog": 511,
        });
        let (reply, handle) = self.shared.request(query.clone()).await?;
        if let Some(errno) = reply
            .get("errno")
            .and_then(Json::as_i64)
            .filter(|e| *e != 0)
        {
            let errno = i32::try_from(-errno).unwrap_or(i32::MAX);
            return Err(io::Error::from_raw_os_error(errno).into());
        }
        Ok((query, reply, handle))
    }

    /// Tells the primary the server of `query` listens (on `port`, for an
    /// address that has one): its `listening` event fires.
    async fn announce_listening(&self, mut query: Json, port: Option<u16>) -> Result<()> {
        query["act"] = "listening".into();
        if let Some(port) = port {
            query["port"] = port.into();
        }
        self.shared.send(query).await
    }

    /// Sends a user message to the primary (`worker.on('message')` there).
    pub async fn send<T: Serialize + ?Sized>(&self, msg: &T) -> Result<()> {
        match &mut *self.shared.tx.lock().await {
            Some(tx) => tx.send(msg).await,
            None => Err(Error::Disconnected),
        }
    }

    /// The next user message from the primary (`worker.send(…)` there),
    /// as a [`Value`] (read a Rust type out of it with
    /// [`from_value`](crate::value::from_value)); `None` once the channel
    /// is closed. Cluster's own messages never come out here.
    pub async fn recv(&self) -> Option<Value> {
        self.recv_with_handle().await.map(|(v, _)| v)
    }

    /// [`recv`](Self::recv) with the handle the primary sent with the
    /// message, if any.
    pub async fn recv_with_handle(&self) -> Option<(Value, Option<Handle>)> {
        self.messages.lock().await.recv().await
    }

    /// Resolves once the primary asked this worker to disconnect
    /// (`worker.disconnect()`), or the channel is gone: stop serving and
    /// exit.
    pub async fn disconnected(&self) {
        let mut gone = self.shared.gone.subscribe();
        // An error means the sender is gone, which is "gone" too.
        let _ = gone.wait_for(|g| *g).await;
    }

    /// Leaves the cluster, as `cluster.worker.disconnect()` does in Node:
    /// closes the servers, tells the primary (its `exitedAfterDisconnect`
    /// becomes `true`), then closes the channel.
    pub async fn disconnect(self) -> Result<()> {
        self.shared.close_servers().await;
        self.shared
            .request(json!({"act": "exitedAfterDisconnect"}))
            .await?;
        self.shared.close_channel().await
    }
}

impl Shared {
    /// Sends a cluster message (with `cmd` and a fresh `seq`; `answer`
    /// waits for the reply to that `seq`).
    async fn send_with(
        &self,
        msg: Json,
        handle: Option<Handle>,
        answer: Option<oneshot::Sender<Answer>>,
    ) -> Result<()> {
        let mut tx = self.tx.lock().await;
        self.send_locked(&mut tx, msg, handle, answer).await
    }

    /// [`send_with`](Self::send_with) with the sender's lock held.
    async fn send_locked(
        &self,
        tx: &mut Option<Sender>,
        msg: Json,
        handle: Option<Handle>,
        answer: Option<oneshot::Sender<Answer>>,
    ) -> Result<()> {
        let tx = tx.as_mut().ok_or(Error::Disconnected)?;
        // Numbered under the sender's lock: in the order sent.
        let (seq, full) = lock(&self.seq).wrap(msg);
        if let Some(answer) = answer {
            lock(&self.pending).insert(seq, answer);
        }
        let sent = match handle {
            Some(h) => tx.send_with_handle(&full, h).await,
            None => tx.send(&full).await,
        };
        if sent.is_err() {
            lock(&self.pending).remove(&seq);
        }
        sent
    }

    /// A cluster message that needs no answer.
    async fn send(&self, msg: Json) -> Result<()> {
        self.send_with(msg, None, None).await
    }

    /// Sends a cluster message and waits for the primary's answer (the
    /// message whose `ack` is its `seq`).
    async fn request(&self, msg: Json) -> Result<Answer> {
        let (answer, answered) = oneshot::channel();
        self.send_with(msg, None, Some(answer)).await?;
        answered.await.map_err(|_| Error::Disconnected)
    }

    /// Closes every round-robin server, telling the primary (`close`).
    async fn close_servers(&self) {
        let keys: Vec<String> = lock(&self.servers).drain().map(|(k, _)| k).collect();
        for key in keys {
            // Best effort, as in Node: the primary forgets a dead worker's
            // servers anyway.
            let _ = self.send(json!({"act": "close", "key": key})).await;
        }
        self.gone.send_replace(true);
    }

    /// Closes the channel: the primary sees `'disconnect'`.
    async fn close_channel(&self) -> Result<()> {
        let tx = self.tx.lock().await.take();
        self.gone.send_replace(true);
        match tx {
            Some(tx) => tx.disconnect().await,
            None => Ok(()),
        }
    }

    /// Acts on one cluster message from the primary.
    async fn on_message(&self, msg: Json, handle: Option<Handle>) {
        if let Some(ack) = msg.get("ack").and_then(Json::as_u64)
            && let Some(answer) = lock(&self.pending).remove(&ack)
        {
            let _ = answer.send((msg, handle));
            return;
        }
        match msg.get("act").and_then(Json::as_str) {
            Some("newconn") => {
                let key = msg.get("key").and_then(Json::as_str).unwrap_or_default();
                let server = lock(&self.servers).get(key).cloned();
                let conn = match handle {
                    Some(Handle::TcpStream(s)) => Some(Conn::Tcp(s)),
                    Some(Handle::UnixStream(s)) => Some(Conn::Unix(s)),
                    _ => None,
                };
                let accepted = match (server, conn) {
                    (Some(server), Some(conn)) => server.try_send(conn).is_ok(),
                    // Refused: closed here (dropped), re-dispatched there.
                    _ => false,
                };
                let ack = msg.get("seq").cloned().unwrap_or(Json::Null);
                let _ = self.send(json!({"ack": ack, "accepted": accepted})).await;
            }
            Some("disconnect") => {
                self.close_servers().await;
                let _ = self.close_channel().await;
            }
            _ => {}
        }
    }
}

/// Reads the channel until it closes: cluster messages are acted on, user
/// messages go to [`Worker::recv`].
async fn dispatch(
    shared: Arc<Shared>,
    mut rx: Receiver,
    users: mpsc::UnboundedSender<(Value, Option<Handle>)>,
) {
    loop {
        match rx.recv_message_with_handle::<Value>().await {
            Ok(Some((Message::User(v), h))) => {
                let _ = users.send((v, h));
            }
            Ok(Some((Message::Internal(m), h))) if m.cmd() == CMD => {
                shared.on_message(m.0, h).await;
            }
            Ok(Some(_)) => {}
            Err(e) if e.is_recoverable() => {}
            Ok(None) | Err(_) => break,
        }
    }
    lock(&shared.pending).clear();
    shared.gone.send_replace(true);
}

/// A server of a [`Worker`] on a TCP address, listening through the
/// primary ([`Worker::listen`]).
#[derive(Debug)]
pub struct Listener {
    served: Served<TcpListener>,
    addr: SocketAddr,
}

/// A server of a [`Worker`] on a unix socket path, listening through the
/// primary ([`Worker::listen_unix`]).
#[derive(Debug)]
pub struct UnixListener {
    served: Served<tokio::net::UnixListener>,
    path: PathBuf,
}

/// Where a server's connections come from, until the worker disconnects.
#[derive(Debug)]
struct Served<L> {
    kind: Kind<L>,
    gone: watch::Receiver<bool>,
}

#[derive(Debug)]
enum Kind<L> {
    /// `SCHED_NONE`: the primary's listening socket.
    Shared(L),
    /// Round-robin: connections the primary handed over.
    RoundRobin(tokio::sync::Mutex<mpsc::Receiver<Conn>>),
}

impl<L> Served<L> {
    /// The next connection: accepted from the shared socket by
    /// `accept`, or handed over and made ready by `handed` (`None`: a
    /// connection of the other kind, closed). `ConnectionAborted` once the
    /// worker is disconnecting.
    async fn next<'a, T, F>(
        &'a self,
        accept: impl FnOnce(&'a L) -> F,
        handed: impl Fn(Conn) -> Option<io::Result<T>>,
    ) -> io::Result<T>
    where
        F: Future<Output = io::Result<T>>,
    {
        let mut gone = self.gone.clone();
        let stop = async move {
            let _ = gone.wait_for(|g| *g).await;
        };
        let next = async {
            match &self.kind {
                Kind::Shared(l) => accept(l).await,
                Kind::RoundRobin(rx) => loop {
                    let conn = rx.lock().await.recv().await.ok_or_else(aborted)?;
                    if let Some(ready) = handed(conn) {
                        return ready;
                    }
                },
            }
        };
        match race(next, stop).await {
            Ok(conn) => conn,
            Err(()) => Err(aborted()),
        }
    }
}

impl Listener {
    /// The next connection, with the peer's address.
    ///
    /// # Errors
    ///
    /// `ConnectionAborted` once the worker is disconnecting (the primary
    /// asked, or the channel is gone); the accept's own errors.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let handed = |conn| match conn {
            Conn::Tcp(s) => Some(s.set_nonblocking(true).and_then(|()| {
                let peer = s.peer_addr()?;
                Ok((TcpStream::from_std(s)?, peer))
            })),
            Conn::Unix(_) => None,
        };
        self.served.next(|l| l.accept(), handed).await
    }

    /// The address the workers' server listens on (its port as the
    /// primary bound it).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl UnixListener {
    /// The next connection.
    ///
    /// # Errors
    ///
    /// As [`Listener::accept`].
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let handed = |conn| match conn {
            Conn::Unix(s) => Some(
                s.set_nonblocking(true)
                    .and_then(|()| UnixStream::from_std(s)),
            ),
            Conn::Tcp(_) => None,
        };
        async fn accept(l: &tokio::net::UnixListener) -> io::Result<UnixStream> {
            Ok(l.accept().await?.0)
        }
        self.served.next(accept, handed).await
    }

    /// The path the workers' server listens on.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The shared TCP socket of `SCHED_NONE`, listening, for tokio.
fn shared_tcp(fd: OwnedFd) -> io::Result<TcpListener> {
    crate::sys::listen(&fd, 511)?;
    let l = std::net::TcpListener::from(fd);
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

/// The shared unix socket of `SCHED_NONE`, listening, for tokio.
fn shared_unix(fd: OwnedFd) -> io::Result<tokio::net::UnixListener> {
    crate::sys::listen(&fd, 511)?;
    let l = std::os::unix::net::UnixListener::from(fd);
    l.set_nonblocking(true)?;
    tokio::net::UnixListener::from_std(l)
}

/// A handle the primary should not have sent for a server.
fn unexpected(handle: &Handle) -> Error {
    Error::Handle {
        offset: 0,
        reason: format!("the primary answered queryServer with a {handle:?}"),
    }
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the cluster worker is disconnecting",
    )
}
