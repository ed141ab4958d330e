//! [`Primary`]: spawns the workers, runs a reader, a writer and a waiter
//! task for each, and decides everything in [`Primary::next_event`], where
//! what those tasks (and the accept tasks of round-robin servers) report
//! arrives on one queue. The tasks only wait; no state is shared.

use std::collections::{BTreeMap, VecDeque};
use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::pin;
use std::process::ExitStatus;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::proto::{Incoming, Seq, ServerQuery};
use super::servers::Servers;
use super::{Event, SchedulingPolicy, WorkerId};
use crate::handle::OutgoingHandle;
use crate::{Command, Error, Message, Receiver, Result, Sender};

/// A cluster primary: Node's `cluster` module on the primary side, for
/// unmodified Node servers (see the [module docs](super)).
///
/// `T` is the type of user messages both ways (`serde_json::Value` by
/// default; [`crate::Value`] keeps what `advanced` carries). Workers are
/// started by the closure given to [`new`](Self::new), which makes the
/// [`Command`] for each (program, arguments, serialization, stdio); the
/// primary adds `NODE_UNIQUE_ID`.
///
/// Dropping the primary closes every channel: Node workers take that as
/// their primary's death and exit.
pub struct Primary<T = Value> {
    pub(super) policy: SchedulingPolicy,
    make: Box<dyn FnMut(WorkerId) -> Command + Send>,
    next_id: u32,
    seq: Seq,
    pub(super) workers: BTreeMap<WorkerId, Slot<T>>,
    pub(super) servers: Servers,
    pub(super) inputs_tx: UnboundedSender<Input<T>>,
    inputs: UnboundedReceiver<Input<T>>,
    pub(super) events: VecDeque<Event<T>>,
}

impl<T> std::fmt::Debug for Primary<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Primary")
            .field("policy", &self.policy)
            .field("workers", &self.workers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What the primary knows of a worker.
#[derive(Debug)]
pub(super) struct Slot<T> {
    pid: Option<u32>,
    online: bool,
    listening: bool,
    connected: bool,
    exited: bool,
    pub(super) exited_after_disconnect: bool,
    out: UnboundedSender<Outgoing<T>>,
    kill: UnboundedSender<()>,
}

/// A worker as [`Primary::workers`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// Its id (`cluster.worker.id` in the worker).
    pub id: WorkerId,
    /// Its process id.
    pub pid: Option<u32>,
    /// It sent `online`.
    pub online: bool,
    /// One of its servers listens.
    pub listening: bool,
    /// Its channel is open.
    pub connected: bool,
    /// It was asked to disconnect, or asked to itself
    /// (`worker.exitedAfterDisconnect`).
    pub exited_after_disconnect: bool,
}

/// A message for a worker's writer task.
#[derive(Debug)]
pub(super) enum Outgoing<T> {
    /// A `NODE_CLUSTER` message, with the handle it carries.
    Cluster(Value, Option<OutgoingHandle>),
    /// A user message.
    User(T),
}

/// What the tasks report to [`Primary::next_event`].
#[derive(Debug)]
pub(super) enum Input<T> {
    Message(WorkerId, Message<T>),
    Error(WorkerId, Error),
    /// The channel ended, cleanly or with the error.
    Closed(WorkerId, Option<Error>),
    Exited(WorkerId, io::Result<ExitStatus>),
    /// A round-robin server (by key) accepted a connection.
    Connection(Arc<str>, OwnedFd),
    AcceptError(Arc<str>, io::Error),
}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Primary<T> {
    /// A primary with no workers yet; `make` builds the command for each
    /// worker [`fork`](Self::fork) starts.
    pub fn new(
        policy: SchedulingPolicy,
        make: impl FnMut(WorkerId) -> Command + Send + 'static,
    ) -> Primary<T> {
        let (inputs_tx, inputs) = unbounded_channel();
        Primary {
            policy,
            make: Box::new(make),
            next_id: 0,
            seq: Seq::default(),
            workers: BTreeMap::new(),
            servers: Servers::default(),
            inputs_tx,
            inputs,
            events: VecDeque::new(),
        }
    }

    /// The scheduling policy for TCP and unix servers.
    pub fn policy(&self) -> SchedulingPolicy {
        self.policy
    }

    /// Starts a worker (Node's `cluster.fork()`). Must be called inside a
    /// tokio runtime.
    pub fn fork(&mut self) -> Result<WorkerId> {
        let id = WorkerId(self.next_id + 1);
        let mut cmd = (self.make)(id);
        cmd.env(super::proto::UNIQUE_ID_VAR, id.0.to_string());
        let (child, channel) = cmd.spawn()?;
        self.next_id = id.0;
        let (tx, mut rx) = channel.split();
        // A primary waits on many channels at once: spinning on each
        // (the channel's default, for one busy peer) would take the CPU
        // the workers need.
        rx.set_busy_poll(Duration::ZERO);
        let (out, out_rx) = unbounded_channel();
        let (kill, kill_rx) = unbounded_channel();
        let pid = child.id();
        tokio::spawn(read(id, rx, self.inputs_tx.clone()));
        tokio::spawn(write(id, tx, out_rx, self.inputs_tx.clone()));
        tokio::spawn(wait(id, child, kill_rx, self.inputs_tx.clone()));
        self.workers.insert(
            id,
            Slot {
                pid,
                online: false,
                listening: false,
                connected: true,
                exited: false,
                exited_after_disconnect: false,
                out,
                kill,
            },
        );
        Ok(id)
    }

    /// The next thing that happened; `None` once no worker is left (after
    /// a later [`fork`](Self::fork) it has events again). All the
    /// cluster's work (answering workers, handing out connections) is
    /// done while this is awaited.
    ///
    /// Cancel safety: cancel-safe; nothing is lost when it is dropped
    /// unfinished.
    pub async fn next_event(&mut self) -> Option<Event<T>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.workers.is_empty() {
                return None;
            }
            let input = self.inputs.recv().await?;
            self.handle(input);
        }
    }

    /// Whether nothing is left to report: no worker and no event
    /// ([`next_event`](Self::next_event) would return `None` at once).
    pub fn is_idle(&self) -> bool {
        self.workers.is_empty() && self.events.is_empty()
    }

    /// Sends `message` to the worker (its `process.on('message')`). Queued
    /// for the worker's writer task; a write that fails later is an
    /// [`Event::Error`]. [`Error::Disconnected`] if its channel is closed.
    pub fn send(&mut self, worker: WorkerId, message: T) -> Result<()> {
        let slot = self
            .workers
            .get(&worker)
            .filter(|s| s.connected)
            .ok_or(Error::Disconnected)?;
        slot.out
            .send(Outgoing::User(message))
            .map_err(|_| Error::Disconnected)
    }

    /// Node's `worker.disconnect()`: the worker gets no more connections;
    /// it is told to close its servers, and then closes its channel
    /// ([`Event::Disconnect`]) once their connections ended, and exits
    /// ([`Event::Exit`] with `exited_after_disconnect`).
    /// [`Error::Disconnected`] if its channel is already closed.
    pub fn disconnect(&mut self, worker: WorkerId) -> Result<()> {
        let slot = self
            .workers
            .get_mut(&worker)
            .filter(|s| s.connected)
            .ok_or(Error::Disconnected)?;
        slot.exited_after_disconnect = true;
        self.send_cluster(worker, json!({ "act": "disconnect" }), None);
        self.leave_servers(worker);
        Ok(())
    }

    /// Stops handing the worker connections: it leaves every server (one
    /// it was the last on closes). The first half of
    /// [`disconnect`](Self::disconnect), for a caller that wants the
    /// worker to have read what it was handed before it is told to close
    /// its servers: Node's http server (19+) closes, on `server.close()`,
    /// connections whose request it has not read yet, so a connection
    /// handed just before `disconnect` can be reset. Under
    /// [`SchedulingPolicy::None`] the worker still holds the shared socket
    /// and accepts from it until it closes it.
    pub fn stop_serving(&mut self, worker: WorkerId) {
        self.leave_servers(worker);
    }

    /// Kills the worker's process (`SIGKILL`); its [`Event::Exit`]
    /// follows. Nothing happens for a worker that already exited.
    pub fn kill(&mut self, worker: WorkerId) {
        if let Some(slot) = self.workers.get(&worker) {
            let _ = slot.kill.send(());
        }
    }

    /// The workers, by id: those started and not yet both exited and
    /// disconnected (Node's `cluster.workers`, which also keeps a worker
    /// until both happened).
    pub fn workers(&self) -> impl Iterator<Item = WorkerInfo> + '_ {
        self.workers.iter().map(|(&id, slot)| WorkerInfo {
            id,
            pid: slot.pid,
            online: slot.online,
            listening: slot.listening,
            connected: slot.connected,
            exited_after_disconnect: slot.exited_after_disconnect,
        })
    }

    /// Sends a `NODE_CLUSTER` message; its `seq`, or `None` if the worker
    /// is gone.
    pub(super) fn send_cluster(
        &mut self,
        worker: WorkerId,
        body: Value,
        handle: Option<OutgoingHandle>,
    ) -> Option<u64> {
        let slot = self.workers.get(&worker).filter(|s| s.connected)?;
        let (seq, msg) = self.seq.wrap(body);
        slot.out.send(Outgoing::Cluster(msg, handle)).ok()?;
        Some(seq)
    }

    fn handle(&mut self, input: Input<T>) {
        match input {
            Input::Message(worker, Message::User(message)) => {
                self.events.push_back(Event::Message { worker, message });
            }
            Input::Message(worker, Message::Internal(msg)) => {
                if let Some(msg) = Incoming::parse(msg) {
                    self.on_cluster(worker, msg);
                }
            }
            Input::Error(worker, error) => self.events.push_back(Event::Error {
                worker: Some(worker),
                error,
            }),
            Input::Closed(worker, error) => {
                if let Some(error) = error {
                    self.events.push_back(Event::Error {
                        worker: Some(worker),
                        error,
                    });
                }
                self.on_closed(worker);
            }
            Input::Exited(worker, status) => self.on_exit(worker, status),
            Input::Connection(key, conn) => self.distribute(&key, conn),
            Input::AcceptError(key, e) => self.events.push_back(Event::Error {
                worker: None,
                error: io::Error::new(e.kind(), format!("accepting on {key}: {e}")).into(),
            }),
        }
    }

    /// A `NODE_CLUSTER` message: an answer to ours, or Node's `onmessage`
    /// by `act`.
    fn on_cluster(&mut self, worker: WorkerId, msg: Incoming) {
        if let Some(ack) = msg.ack
            && self.servers.is_newconn(ack)
        {
            let accepted = msg.body.get("accepted") == Some(&Value::Bool(true));
            self.newconn_answered(ack, accepted);
            return;
        }
        let Some(slot) = self.workers.get_mut(&worker) else {
            return;
        };
        match msg.act.as_deref() {
            Some("online") => {
                slot.online = true;
                self.events.push_back(Event::Online(worker));
            }
            Some("listening") => {
                slot.listening = true;
                let info = ServerQuery::parse(&msg.body).info();
                self.events.push_back(Event::Listening { worker, info });
            }
            Some("queryServer") => self.query_server(worker, &msg),
            Some("close") => {
                if let Some(key) = msg.body.get("key").and_then(Value::as_str) {
                    self.servers.leave(key, worker);
                }
            }
            Some("exitedAfterDisconnect") => {
                slot.exited_after_disconnect = true;
                if let Some(seq) = msg.seq {
                    self.send_cluster(worker, json!({ "ack": seq }), None);
                }
            }
            _ => {}
        }
    }

    /// The worker's channel closed: it serves no more (Node's
    /// `removeHandlesForWorker` on `'disconnect'`). Connections handed to
    /// it and not yet answered are closed: it may have read from them.
    fn on_closed(&mut self, worker: WorkerId) {
        let Some(slot) = self.workers.get_mut(&worker) else {
            return;
        };
        slot.connected = false;
        self.leave_servers(worker);
        self.servers.drop_in_flight(worker);
        self.events.push_back(Event::Disconnect(worker));
        self.forget_if_gone(worker);
    }

    fn on_exit(&mut self, worker: WorkerId, status: io::Result<ExitStatus>) {
        let Some(slot) = self.workers.get_mut(&worker) else {
            return;
        };
        slot.exited = true;
        let exited_after_disconnect = slot.exited_after_disconnect;
        // A dead process accepts nothing, even if a grandchild holds its
        // channel open.
        self.leave_servers(worker);
        self.events.push_back(match status {
            Ok(status) => Event::Exit {
                worker,
                status,
                exited_after_disconnect,
            },
            Err(e) => Event::Error {
                worker: Some(worker),
                error: e.into(),
            },
        });
        self.forget_if_gone(worker);
    }

    fn forget_if_gone(&mut self, worker: WorkerId) {
        if self
            .workers
            .get(&worker)
            .is_some_and(|s| s.exited && !s.connected)
        {
            self.workers.remove(&worker);
        }
    }
}

/// The worker's messages, until its channel closes or the primary is gone.
async fn read<T: DeserializeOwned>(
    id: WorkerId,
    mut rx: Receiver,
    inputs: UnboundedSender<Input<T>>,
) {
    loop {
        let Either::First(next) = first(rx.recv_message::<T>(), inputs.closed()).await else {
            return;
        };
        let input = match next {
            Ok(Some(msg)) => Input::Message(id, msg),
            Ok(None) => Input::Closed(id, None),
            Err(e) if e.is_recoverable() => Input::Error(id, e),
            Err(e) => Input::Closed(id, Some(e)),
        };
        let last = matches!(input, Input::Closed(..));
        if inputs.send(input).is_err() || last {
            return;
        }
    }
}

/// Writes what the primary queues for the worker, flushing when the queue
/// is empty. Ends when the primary forgets the worker or the channel
/// closes (which the reader reports).
async fn write<T: Serialize>(
    id: WorkerId,
    mut tx: Sender,
    mut queue: UnboundedReceiver<Outgoing<T>>,
    inputs: UnboundedSender<Input<T>>,
) {
    while let Some(msg) = queue.recv().await {
        let mut sent = match msg {
            Outgoing::Cluster(msg, None) => tx.feed(&msg).await,
            Outgoing::Cluster(msg, Some(handle)) => tx.send_with_handle(&msg, handle).await,
            Outgoing::User(msg) => tx.feed(&msg).await,
        };
        if sent.is_ok() && queue.is_empty() {
            sent = tx.flush().await;
        }
        match sent {
            Ok(()) => {}
            Err(Error::Disconnected) => return,
            Err(e) => {
                let fatal = !e.is_recoverable();
                if inputs.send(Input::Error(id, e)).is_err() || fatal {
                    return;
                }
            }
        }
    }
}

/// Waits for the worker's process to end, killing it when asked.
async fn wait<T>(
    id: WorkerId,
    mut child: tokio::process::Child,
    mut kill: UnboundedReceiver<()>,
    inputs: UnboundedSender<Input<T>>,
) {
    let status = loop {
        match first(child.wait(), kill.recv()).await {
            Either::First(status) => break status,
            Either::Second(Some(())) => {
                // Fails only when it already exited: wait() says so next.
                let _ = child.start_kill();
            }
            Either::Second(None) => break child.wait().await,
        }
    };
    let _ = inputs.send(Input::Exited(id, status));
}

/// Which of two futures finished first.
enum Either<A, B> {
    First(A),
    Second(B),
}

/// The first of `a` and `b` to finish; the other is dropped (both must be
/// cancel-safe). tokio's `select!` for two, without the `macros` feature.
async fn first<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::First(out));
        }
        b.as_mut().poll(cx).map(Either::Second)
    })
    .await
}
