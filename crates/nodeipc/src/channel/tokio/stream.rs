//! The tokio halves as `futures` traits (feature `futures`): [`Receiver`]
//! as a `Stream` of typed messages, [`Sender`] as a `Sink`, so that
//! `StreamExt` and `SinkExt` combinators work on them.
//!
//! Both keep at most one boxed future, and only while they wait: a message
//! already buffered is taken, and a message queued, without allocating.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Receiver, Sender};
use crate::channel::core::{Delivery, Progress, Ready, SendHalf};
use crate::error::{Error, Result};

/// A wait in progress, boxed (it outlives the `poll` that started it).
type Waiting<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a receive that had to wait gives back: the receiver's run of ready
/// messages (see `core::Ready`) and the next message.
type Next<T> = (Ready, Result<Option<Delivery<T>>>);

impl Receiver {
    /// This receiver as a [`Stream`] of user messages read as `T`: what
    /// [`recv`](Self::recv) returns, one item per call, for `StreamExt`'s
    /// combinators (`next`, `map`, `filter`, `take`, `forward` to a sink…).
    ///
    /// The stream ends (`None`) when the peer disconnected. An error about
    /// one message (those for which [`Error::is_recoverable`] is true) is
    /// an `Err` item and the stream goes on with the next message, as
    /// `recv` does; any other error is the last item. Internal messages are
    /// skipped and handles closed, as by `recv`; use
    /// [`RecvStream::into_inner`] and
    /// [`recv_with_handle`](Self::recv_with_handle) or
    /// [`recv_message`](Self::recv_message) for those.
    ///
    /// ```no_run
    /// # async fn demo() -> nodeipc::Result<()> {
    /// use futures_util::{StreamExt, TryStreamExt};
    ///
    /// // worker.js: for (let i = 0; i < 10; i++) process.send({ n: i });
    /// let (_child, channel) = nodeipc::Command::new("node").arg("worker.js").spawn()?;
    /// let (_tx, rx) = channel.split();
    /// let evens: Vec<serde_json::Value> = rx
    ///     .into_stream::<serde_json::Value>()
    ///     .try_filter(|m| std::future::ready(m["n"].as_u64().is_some_and(|n| n % 2 == 0)))
    ///     .try_collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn into_stream<T: DeserializeOwned + Send + 'static>(self) -> RecvStream<T> {
        RecvStream {
            rx: self,
            waiting: None,
            done: false,
            _msg: PhantomData,
        }
    }
}

/// A [`Receiver`] as a [`Stream`] of `Result<T>`: see
/// [`Receiver::into_stream`].
///
/// Dropping the stream while it waits loses no message (the receive is
/// cancel-safe), and neither does [`into_inner`](Self::into_inner).
pub struct RecvStream<T> {
    rx: Receiver,
    waiting: Option<Waiting<Next<T>>>,
    done: bool,
    _msg: PhantomData<fn() -> T>,
}

impl<T> RecvStream<T> {
    /// The receiver back, with every message not yet returned.
    pub fn into_inner(self) -> Receiver {
        self.rx
    }
}

impl<T> fmt::Debug for RecvStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvStream")
            .field("rx", &self.rx)
            .field("waiting", &self.waiting.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for RecvStream<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        while !this.done {
            let next = match &mut this.waiting {
                Some(wait) => {
                    let (ready, next) = ready!(wait.as_mut().poll(cx));
                    this.rx.ready = ready;
                    next
                }
                None => match this.rx.ready.next::<T>() {
                    Some(next) => next.map(Some),
                    None => match this
                        .rx
                        .shared
                        .take(&mut this.rx.shared.recv(), &mut this.rx.ready)
                    {
                        Some(next) => next,
                        None => {
                            // Nothing decoded: read and wait as `recv` does,
                            // with the receiver's (empty) run of ready
                            // messages, given back with the result.
                            let (shared, spin) = (this.rx.shared.clone(), this.rx.busy_poll);
                            let mut ready = std::mem::take(&mut this.rx.ready);
                            this.waiting = Some(Box::pin(async move {
                                let next = shared.next(&mut ready, spin).await;
                                (ready, next)
                            }));
                            continue;
                        }
                    },
                },
            };
            this.waiting = None;
            match next {
                Ok(Some(d)) => {
                    if let Some((msg, _handle)) = d.into_user() {
                        return Poll::Ready(Some(Ok(msg)));
                    }
                }
                Ok(None) => this.done = true,
                Err(e) => {
                    this.done = !e.is_recoverable();
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        Poll::Ready(None)
    }
}

impl<T: DeserializeOwned + Send + 'static> FusedStream for RecvStream<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl Sender {
    /// This sender as a [`Sink`] of messages `T`, for `SinkExt`'s
    /// combinators (`send`, `feed`, `send_all`, `with`…) and
    /// `StreamExt::forward`.
    ///
    /// - `poll_ready` waits while more than [`Limits::max_send_buffer`]
    ///   bytes are queued (backpressure, as [`feed`](Self::feed) does);
    /// - `start_send` queues the message ([`feed`](Self::feed)), writing
    ///   once a batch has built up;
    /// - `poll_flush` writes everything queued to the kernel
    ///   ([`flush`](Self::flush));
    /// - `poll_close` flushes, then ends the channel in this direction
    ///   ([`disconnect`](Self::disconnect)).
    ///
    /// ```no_run
    /// # async fn demo() -> nodeipc::Result<()> {
    /// use futures_util::{SinkExt, StreamExt, stream};
    ///
    /// let (_child, channel) = nodeipc::Command::new("node").arg("worker.js").spawn()?;
    /// let (tx, _rx) = channel.split();
    /// let mut sink = tx.into_sink();
    /// let mut jobs = stream::iter((0..1000).map(|id| Ok(serde_json::json!({ "id": id }))));
    /// sink.send_all(&mut jobs).await?; // batched writes, one flush at the end
    /// sink.close().await?; // the worker sees 'disconnect'
    /// # Ok(()) }
    /// ```
    ///
    /// [`Limits::max_send_buffer`]: crate::Limits::max_send_buffer
    pub fn into_sink<T: Serialize>(self) -> SendSink<T> {
        SendSink {
            tx: self,
            flushing: None,
            _msg: PhantomData,
        }
    }
}

/// A [`Sender`] as a [`Sink`] of messages `T`: see
/// [`Sender::into_sink`]. `T` may be a reference (`SendSink<&Job>`).
pub struct SendSink<T> {
    tx: Sender,
    /// A flush in progress, on a copy of the sender's state (given back
    /// when it is done; dropped with the sink or by `into_inner`, which
    /// loses nothing queued).
    flushing: Option<Waiting<(SendHalf, Result<()>)>>,
    _msg: PhantomData<fn(T)>,
}

impl<T> fmt::Debug for SendSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendSink")
            .field("tx", &self.tx)
            .field("flushing", &self.flushing.is_some())
            .finish()
    }
}

impl<T> SendSink<T> {
    /// The sender back. A flush in progress stops; what is queued stays
    /// queued.
    pub fn into_inner(self) -> Sender {
        self.tx
    }

    /// The sender, to look at ([`Sender::queued`]).
    pub fn get_ref(&self) -> &Sender {
        &self.tx
    }

    /// The sender, once a flush in progress is done (its error, if it
    /// failed).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Result<&mut Sender>> {
        if let Some(flush) = &mut self.flushing {
            let (half, result) = ready!(flush.as_mut().poll(cx));
            self.flushing = None;
            self.tx.half = half;
            result?;
        }
        Poll::Ready(Ok(&mut self.tx))
    }

    /// Starts a flush that waits as [`Sender::flush`] does.
    fn start_flush(&mut self) {
        let (shared, mut half) = (self.tx.shared.clone(), self.tx.half.clone());
        self.flushing = Some(Box::pin(async move {
            let result = shared.flush(&mut half, false).await;
            (half, result)
        }));
    }
}

impl<T: Serialize> Sink<T> for SendSink<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        loop {
            let tx = ready!(this.poll_idle(cx))?;
            if tx.half.has_room(&tx.shared.send.lock()) {
                return Poll::Ready(Ok(()));
            }
            this.start_flush();
        }
    }

    fn start_send(self: Pin<&mut Self>, msg: T) -> Result<()> {
        let tx = &mut self.get_mut().tx;
        let shared = &tx.shared;
        tx.half.queue(&mut shared.send.lock(), &msg, None, |b, fd| {
            shared.try_send(b, fd)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        loop {
            let tx = ready!(this.poll_idle(cx))?;
            let shared = &tx.shared;
            // Written at once, most of the time: no future to box.
            let progress = tx
                .half
                .write(&mut shared.send.lock(), |b, fd| shared.try_send(b, fd))?;
            if progress == Progress::Done {
                return Poll::Ready(Ok(()));
            }
            this.start_flush();
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.flushing.is_none() && self.tx.half.is_closed() {
            return Poll::Ready(Ok(()));
        }
        ready!(self.as_mut().poll_flush(cx))?;
        Poll::Ready(self.get_mut().tx.shut())
    }
}
