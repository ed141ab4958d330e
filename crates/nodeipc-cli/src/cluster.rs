//! `nodeipc cluster`: an unmodified Node server as N workers sharing its
//! port ([`nodeipc::cluster::Primary`]), with restarts, reload on SIGHUP
//! and graceful shutdown on SIGTERM / SIGINT. This file only wires: the
//! cluster protocol is the library's, the restart policy is its
//! [`Backoff`].

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use nodeipc::Serialization;
use nodeipc::cluster::{Backoff, Event, ListenInfo, Primary, Restart, SchedulingPolicy, WorkerId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

type BoxError = Box<dyn std::error::Error>;

/// Options of `nodeipc cluster`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// How many workers to run (default: one per CPU).
    #[arg(long, short = 'w')]
    workers: Option<usize>,
    /// How connections are spread: `rr`, the primary accepts and hands each
    /// to the next free worker (Node's default); `none`, every worker
    /// accepts on the shared socket. UDP sockets are always shared.
    #[arg(long, value_enum, default_value = "rr")]
    sched: Sched,
    /// Wire format of the workers' channels (NODE_CHANNEL_SERIALIZATION_MODE);
    /// with `advanced`, messages are converted as `nodeipc run` converts
    /// them.
    #[arg(long, default_value = "json")]
    serialization: Serialization,
    /// Seconds the workers have to finish their connections and exit after
    /// SIGTERM or SIGINT before they are killed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    grace: f64,
    /// Restarts of one worker slot allowed in any minute; past it the slot
    /// is given up (a crash loop is reported, not spun on).
    #[arg(long, default_value_t = 10)]
    max_restarts: usize,
    /// Delay before the first restart, in milliseconds; doubled after each
    /// worker that dies before listening, up to 30 s.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    restart_delay: u64,
    /// Seconds a worker has to listen before it is reported; a reload's new
    /// worker that has not listened by then is killed and the old one kept.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    listen_timeout: f64,
    /// The program to run and its arguments (`node app.js`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Sched {
    Rr,
    None,
}

/// How long an old worker of a reload gets no new connections before it
/// is told to disconnect: time for it to read the requests on the last
/// ones it was handed (Node reads them within a few event-loop turns).
const DRAIN: Duration = Duration::from_millis(250);

/// Longest restart delay.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// `nodeipc cluster`.
pub fn run(args: ClusterArgs) -> Result<ExitCode, BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = match args.serialization {
        Serialization::Json => rt.block_on(supervise::<Box<RawValue>>(args)),
        _ => rt.block_on(supervise::<nodeipc::Value>(args)),
    };
    // stdin is read on a blocking thread that cannot be cancelled.
    rt.shutdown_background();
    result
}

/// A user message as it goes between NDJSON and a channel.
trait Ndjson: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// From the `message` of a stdin line.
    fn from_line(raw: &RawValue) -> Result<Self, String>;
    /// As JSON text for stdout; an error when it has no JSON form.
    fn to_line(&self) -> Result<String, String>;
}

impl Ndjson for Box<RawValue> {
    fn from_line(raw: &RawValue) -> Result<Self, String> {
        Ok(raw.to_owned())
    }
    fn to_line(&self) -> Result<String, String> {
        Ok(self.get().to_owned())
    }
}

impl Ndjson for nodeipc::Value {
    fn from_line(raw: &RawValue) -> Result<Self, String> {
        let json: serde_json::Value = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
        Ok(crate::bridge::revive(&json))
    }
    fn to_line(&self) -> Result<String, String> {
        self.to_json()
            .map(|j| j.to_string())
            .map_err(|e| format!("message has no JSON form: {e}"))
    }
}

/// A stdin line: `{"worker": ID, "message": M}`, or without `worker` for
/// every worker.
#[derive(serde::Deserialize)]
struct Line<'a> {
    worker: Option<u32>,
    #[serde(borrow)]
    message: &'a RawValue,
}

/// What `nodeipc cluster` knows of each worker besides the library.
#[derive(Debug)]
struct Meta {
    slot: usize,
    pid: Option<u32>,
    started: Instant,
    listened: bool,
    /// Disconnected by us (reload, shutdown): not restarted.
    retiring: bool,
    reported_slow: bool,
}

/// One of the N places a worker runs in.
#[derive(Debug)]
struct Slot {
    current: Option<WorkerId>,
    backoff: Backoff,
    restart_at: Option<Instant>,
    gave_up: bool,
}

struct Supervisor<M> {
    primary: Primary<M>,
    slots: Vec<Slot>,
    meta: HashMap<WorkerId, Meta>,
    /// Slots still to reload, and the new worker being started for one.
    reload: VecDeque<usize>,
    incoming: Option<(usize, WorkerId)>,
    /// Old workers of a reload that get no more connections, and when they
    /// are told to disconnect.
    draining: Vec<(WorkerId, Instant)>,
    /// Set on SIGTERM / SIGINT: when the grace ends.
    shutdown: Option<Instant>,
    clean: bool,
    listen_timeout: Duration,
    out: std::io::BufWriter<std::io::Stdout>,
}

macro_rules! log {
    ($($t:tt)*) => { eprintln!("nodeipc cluster: {}", format_args!($($t)*)) };
}

async fn supervise<M: Ndjson>(args: ClusterArgs) -> Result<ExitCode, BoxError> {
    let (program, rest) = args.command.split_first().ok_or("no program given")?;
    let (program, rest) = (program.clone(), rest.to_vec());
    let mode = args.serialization;
    let policy = match args.sched {
        Sched::Rr => SchedulingPolicy::RoundRobin,
        Sched::None => SchedulingPolicy::None,
    };
    let primary: Primary<M> = Primary::new(policy, move |_| {
        let mut cmd = nodeipc::Command::new(&program);
        // stdout carries the NDJSON: the workers' own output goes to stderr.
        let stdout = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_or_else(|_| Stdio::null(), Stdio::from);
        cmd.args(&rest)
            .serialization(mode)
            .stdin(Stdio::null())
            .stdout(stdout);
        // A process group of its own: Ctrl-C in a terminal (SIGINT to the
        // foreground group) reaches only the primary, which then stops the
        // workers gracefully; they would die at once on it.
        cmd.as_tokio_mut().process_group(0);
        cmd
    });
    let n = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let backoff = Backoff::new(
        Duration::from_millis(args.restart_delay),
        MAX_RESTART_DELAY,
        args.max_restarts,
    );
    let mut sup = Supervisor {
        primary,
        slots: (0..n)
            .map(|_| Slot {
                current: None,
                backoff: backoff.clone(),
                restart_at: None,
                gave_up: false,
            })
            .collect(),
        meta: HashMap::new(),
        reload: VecDeque::new(),
        incoming: None,
        draining: Vec::new(),
        shutdown: None,
        clean: true,
        listen_timeout: Duration::from_secs_f64(args.listen_timeout),
        out: std::io::BufWriter::new(std::io::stdout()),
    };
    for slot in 0..n {
        sup.slots[slot].current = Some(sup.start(slot)?);
    }
    let grace = Duration::from_secs_f64(args.grace);
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut number = 0u64;
    loop {
        if sup.finished() {
            break;
        }
        let wake = sup.next_deadline();
        tokio::select! {
            event = sup.primary.next_event(), if !sup.primary.is_idle() => {
                if let Some(event) = event {
                    sup.on_event(event)?;
                }
            }
            _ = hup.recv() => sup.start_reload()?,
            _ = term.recv() => sup.stop(grace),
            _ = int.recv() => sup.stop(grace),
            line = stdin.next_line(), if stdin_open => match line? {
                Some(line) => {
                    number += 1;
                    sup.forward(&line, number);
                }
                None => stdin_open = false,
            },
            () = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                sup.on_timer()?;
            }
        }
    }
    sup.out.flush()?;
    Ok(if sup.clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

impl<M: Ndjson> Supervisor<M> {
    /// Starts a worker for `slot` (it becomes the slot's current worker
    /// unless it is a reload's new one).
    fn start(&mut self, slot: usize) -> Result<WorkerId, BoxError> {
        let id = self.primary.fork()?;
        let pid = self
            .primary
            .workers()
            .find(|w| w.id == id)
            .and_then(|w| w.pid);
        self.meta.insert(
            id,
            Meta {
                slot,
                pid,
                started: Instant::now(),
                listened: false,
                retiring: false,
                reported_slow: false,
            },
        );
        Ok(id)
    }

    fn name(&self, id: WorkerId) -> String {
        match self.meta.get(&id).and_then(|m| m.pid) {
            Some(pid) => format!("{id} (pid {pid})"),
            None => id.to_string(),
        }
    }

    /// Done: shutting down and every worker gone, or every slot given up.
    fn finished(&mut self) -> bool {
        if !self.primary.is_idle() {
            return false;
        }
        if self.shutdown.is_some() {
            return true;
        }
        if self.slots.iter().all(|s| s.gave_up) {
            log!("every worker slot was given up; exiting");
            self.clean = false;
            return true;
        }
        false
    }

    fn on_event(&mut self, event: Event<M>) -> Result<(), BoxError> {
        match event {
            Event::Listening { worker, info } => self.on_listening(worker, &info),
            Event::Message { worker, message } => match message.to_line() {
                Ok(text) => {
                    writeln!(self.out, "{{\"worker\":{},\"message\":{text}}}", worker.0)?;
                    self.out.flush()?;
                }
                Err(e) => log!("from {}: {e}; skipped", self.name(worker)),
            },
            Event::Exit { worker, status, .. } => self.on_exit(worker, status)?,
            Event::Error { worker, error } => match worker {
                Some(w) => log!("{}: {error}", self.name(w)),
                None => log!("{error}"),
            },
            _ => {}
        }
        Ok(())
    }

    fn on_listening(&mut self, worker: WorkerId, info: &ListenInfo) {
        let name = self.name(worker);
        let Some(meta) = self.meta.get_mut(&worker) else {
            return;
        };
        meta.listened = true;
        let slot = meta.slot;
        let at = match (&info.address, info.port) {
            (Some(a), Some(p)) if p >= 0 => format!("{a}:{p}"),
            (Some(a), _) => a.clone(),
            (None, Some(p)) => format!("port {p}"),
            _ => "an inherited fd".into(),
        };
        log!("{name} listening on {at}");
        if self.incoming == Some((slot, worker)) {
            // The new worker serves: the old one of its slot leaves.
            self.incoming = None;
            let old = self.slots[slot].current.replace(worker);
            self.slots[slot].restart_at = None;
            if let Some(old) = old {
                // No new connections for the old worker now; it is told to
                // disconnect once it has read the requests on those it was
                // handed (see Primary::stop_serving).
                self.primary.stop_serving(old);
                if let Some(meta) = self.meta.get_mut(&old) {
                    meta.retiring = true;
                }
                self.draining.push((old, Instant::now() + DRAIN));
            }
            self.next_reload();
        }
    }

    fn on_exit(&mut self, worker: WorkerId, status: ExitStatus) -> Result<(), BoxError> {
        let name = self.name(worker);
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("with code {code}"),
            (None, Some(sig)) => format!("on signal {sig}"),
            _ => format!("({status})"),
        };
        let Some(meta) = self.meta.remove(&worker) else {
            return Ok(());
        };
        let slot = meta.slot;
        if self.shutdown.is_some() || meta.retiring {
            log!("{name} exited {how}");
            return Ok(());
        }
        if self.incoming == Some((slot, worker)) {
            log!(
                "{name} exited {how} before listening: reload of slot {slot} abandoned, old worker kept"
            );
            self.incoming = None;
            self.next_reload();
            return Ok(());
        }
        if self.slots[slot].current == Some(worker) {
            self.slots[slot].current = None;
        }
        match self.slots[slot]
            .backoff
            .on_exit(std::time::Instant::now(), meta.listened)
        {
            Restart::After(delay) => {
                log!(
                    "{name} exited {how}; restarting in {} ms",
                    delay.as_millis()
                );
                self.slots[slot].restart_at = Some(Instant::now() + delay);
            }
            Restart::GiveUp => {
                log!(
                    "{name} exited {how}; more than the restarts allowed in a minute (--max-restarts): giving up slot {slot}"
                );
                self.slots[slot].gave_up = true;
            }
        }
        Ok(())
    }

    /// Disconnects a worker we are done with.
    fn retire(&mut self, worker: WorkerId) {
        if let Some(meta) = self.meta.get_mut(&worker) {
            meta.retiring = true;
        }
        // Already disconnected: its exit follows anyway.
        let _ = self.primary.disconnect(worker);
    }

    /// SIGHUP: replace each slot's worker, one at a time.
    fn start_reload(&mut self) -> Result<(), BoxError> {
        if self.shutdown.is_some() {
            return Ok(());
        }
        if self.incoming.is_some() || !self.reload.is_empty() {
            log!("SIGHUP: a reload is already under way");
            return Ok(());
        }
        log!(
            "SIGHUP: reloading {} workers one at a time",
            self.slots.len()
        );
        self.reload = (0..self.slots.len()).collect();
        self.next_reload();
        Ok(())
    }

    fn next_reload(&mut self) {
        while let Some(slot) = self.reload.pop_front() {
            if self.slots[slot].gave_up {
                continue;
            }
            match self.start(slot) {
                Ok(id) => {
                    self.incoming = Some((slot, id));
                    return;
                }
                Err(e) => log!("reload of slot {slot}: cannot start a worker: {e}"),
            }
        }
        if self.incoming.is_none() {
            log!("reload done");
        }
    }

    /// SIGTERM / SIGINT: disconnect everyone; a second one kills.
    fn stop(&mut self, grace: Duration) {
        if self.shutdown.is_some() {
            log!("second signal: killing the workers");
            self.kill_all();
            return;
        }
        log!(
            "shutting down: disconnecting the workers ({} s grace)",
            grace.as_secs_f64()
        );
        self.shutdown = Some(Instant::now() + grace);
        self.reload.clear();
        self.draining.clear();
        self.incoming = None;
        let workers: Vec<WorkerId> = self.primary.workers().map(|w| w.id).collect();
        for worker in workers {
            self.retire(worker);
        }
    }

    fn kill_all(&mut self) {
        self.clean = false;
        let workers: Vec<WorkerId> = self.primary.workers().map(|w| w.id).collect();
        for worker in workers {
            self.primary.kill(worker);
        }
    }

    /// The next restart, listen timeout or end of grace.
    fn next_deadline(&self) -> Option<Instant> {
        if let Some(end) = self.shutdown {
            return self.clean.then_some(end);
        }
        let restarts = self.slots.iter().filter_map(|s| s.restart_at);
        let drains = self.draining.iter().map(|(_, at)| *at);
        let slow = self
            .meta
            .values()
            .filter(|m| !m.listened && !m.reported_slow)
            .map(|m| m.started + self.listen_timeout);
        restarts.chain(drains).chain(slow).min()
    }

    fn on_timer(&mut self) -> Result<(), BoxError> {
        let now = Instant::now();
        if let Some(end) = self.shutdown {
            if now >= end && self.clean {
                log!("grace period over: killing the workers left");
                self.kill_all();
            }
            return Ok(());
        }
        let (due, later) = self.draining.drain(..).partition(|(_, at)| *at <= now);
        self.draining = later;
        for (worker, _) in due {
            let _ = self.primary.disconnect(worker);
        }
        for slot in 0..self.slots.len() {
            if self.slots[slot].restart_at.is_some_and(|t| t <= now) {
                self.slots[slot].restart_at = None;
                match self.start(slot) {
                    Ok(id) => self.slots[slot].current = Some(id),
                    Err(e) => {
                        log!("slot {slot}: cannot start a worker: {e}");
                        self.slots[slot].gave_up = true;
                    }
                }
            }
        }
        let slow: Vec<WorkerId> = self
            .meta
            .iter()
            .filter(|(_, m)| {
                !m.listened && !m.reported_slow && m.started + self.listen_timeout <= now
            })
            .map(|(id, _)| *id)
            .collect();
        for worker in slow {
            let name = self.name(worker);
            if let Some(meta) = self.meta.get_mut(&worker) {
                meta.reported_slow = true;
            }
            log!(
                "{name} has not listened after {} s",
                self.listen_timeout.as_secs_f64()
            );
            if self.incoming.is_some_and(|(_, w)| w == worker) {
                self.primary.kill(worker);
            }
        }
        Ok(())
    }

    /// A stdin line to one worker or all.
    fn forward(&mut self, line: &str, number: u64) {
        let text = line.trim();
        if text.is_empty() {
            return;
        }
        let parsed = serde_json::from_str::<Line<'_>>(text)
            .map_err(|e| e.to_string())
            .and_then(|l| Ok((l.worker, M::from_line(l.message)?)));
        let (to, message) = match parsed {
            Ok(p) => p,
            Err(e) => {
                log!("stdin line {number}: not {{\"worker\": ID, \"message\": …}} ({e}); skipped");
                return;
            }
        };
        let targets: Vec<WorkerId> = match to {
            Some(id) => vec![WorkerId(id)],
            None => self
                .primary
                .workers()
                .filter(|w| w.connected && !w.exited_after_disconnect)
                .map(|w| w.id)
                .collect(),
        };
        for worker in targets {
            if let Err(e) = self.primary.send(worker, message.clone()) {
                log!("stdin line {number}: {worker}: {e}");
            }
        }
    }
}
