//! `nodeipc run` (NDJSON on stdio ↔ a child's IPC channel) and
//! `nodeipc echo` (a child that answers every message).

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use nodeipc::{Error, Serialization};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

/// Messages travel as raw JSON text: what comes in on one side goes out on
/// the other byte for byte (after validation), so nothing is lost to a
/// round trip through a Rust value (number formats, lone surrogates).
type Raw = Box<RawValue>;

type BoxError = Box<dyn std::error::Error>;

/// Options of `nodeipc run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Wire format announced to the child (NODE_CHANNEL_SERIALIZATION_MODE).
    ///
    /// With `advanced`, stdin lines are sent as the values `JSON.parse`
    /// makes of them, except that `{"type":"Buffer","data":[bytes]}` is sent
    /// as a Buffer; the child's messages are written as `JSON.stringify`
    /// writes them (a Buffer as `{"type":"Buffer","data":[…]}`, so Buffers
    /// round-trip; a Date as its ISO string, Map/Set as `{}`…), and one
    /// with no JSON form (a BigInt, a cycle) is reported on stderr and
    /// skipped.
    #[arg(long, default_value = "json")]
    serialization: Serialization,
    /// The fd number the child finds the channel at (NODE_CHANNEL_FD).
    #[arg(long, default_value_t = nodeipc::Command::DEFAULT_CHANNEL_FD)]
    channel_fd: i32,
    /// At end of stdin, keep the channel open until the child disconnects
    /// or exits, instead of disconnecting it (for children that answer
    /// later, from timers or I/O callbacks: Node throws
    /// ERR_IPC_CHANNEL_CLOSED at a send after the disconnect).
    #[arg(long)]
    keep_open: bool,
    /// Longest stdin line taken, in bytes (without its newline). A longer
    /// line is reported on stderr with its number and skipped without
    /// being held in memory; the next line is read as usual. The default
    /// is the library's Limits::max_message_len default (256 MiB), the
    /// longest message a nodeipc peer accepts by default.
    #[arg(long, value_name = "BYTES", default_value_t = nodeipc::Limits::DEFAULT_MAX_MESSAGE_LEN)]
    max_line_len: usize,
    /// The program to run and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// `nodeipc run`.
pub fn run(args: RunArgs) -> Result<ExitCode, BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(bridge(args));
    // tokio reads stdin on a blocking thread that cannot be cancelled: do
    // not wait for it (stdin may never end).
    rt.shutdown_background();
    result
}

/// How long to keep reading after the child exited: what it sent is
/// already in the socket, but a grandchild may hold the channel open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(100);

async fn bridge(args: RunArgs) -> Result<ExitCode, BoxError> {
    let (program, rest) = args.command.split_first().ok_or("no program given")?;
    let child_stdout = std::io::stderr().as_fd().try_clone_to_owned()?;
    let (mut child, channel) = nodeipc::Command::new(program)
        .args(rest)
        .serialization(args.serialization)
        .channel_fd(args.channel_fd)
        .stdin(Stdio::null())
        .stdout(child_stdout)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let (tx, mut rx) = channel.split();

    // stdin → child, until stdin ends; then disconnect (or, with
    // --keep-open, hand back the sender to keep the channel open).
    let keep_open = args.keep_open;
    let mode = args.serialization;
    let max_line = args.max_line_len;
    let input = tokio::spawn(async move {
        forward_stdin(tx, mode, keep_open, max_line)
            .await
            .unwrap_or_else(|e| {
                eprintln!("nodeipc: sending to the child: {e}");
                None
            })
    });

    // child → stdout, until the child disconnects, or shortly after it
    // exits.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut status = None;
    loop {
        tokio::select! {
            msg = next_line(&mut rx, mode) => match msg {
                Ok(Some(Ok(line))) => {
                    out.write_all(line.as_bytes())?;
                    out.write_all(b"\n")?;
                    if rx.buffered() == 0 {
                        out.flush()?;
                    }
                }
                Ok(Some(Err(e))) => eprintln!("nodeipc: from the child: {e}; skipped"),
                Ok(None) => break,
                Err(e) if e.is_recoverable() => eprintln!("nodeipc: from the child: {e}"),
                Err(e) => {
                    eprintln!("nodeipc: from the child: {e}");
                    break;
                }
            },
            exited = child.wait(), if status.is_none() => status = Some(exited?),
            () = tokio::time::sleep(DRAIN_AFTER_EXIT), if status.is_some() => break,
        }
    }
    out.flush()?;
    drop(out);
    input.abort();
    drop(rx);
    let status = match status {
        Some(status) => status,
        None => child.wait().await?,
    };
    Ok(exit_code(status))
}

/// The child's next message as one line of JSON. `json` messages are
/// passed through as their exact text; `advanced` ones are written as
/// `JSON.stringify` would write them (a Buffer as
/// `{"type":"Buffer","data":[…]}`, a Map as `{}`, a Date as its ISO
/// string…, see `Value::to_json`); one without a JSON form (a BigInt, a
/// cycle) is the inner error.
async fn next_line(
    rx: &mut nodeipc::Receiver,
    mode: Serialization,
) -> nodeipc::Result<Option<Result<String, String>>> {
    Ok(match mode {
        Serialization::Json => rx.recv::<Raw>().await?.map(|m| Ok(m.get().to_owned())),
        _ => rx.recv::<nodeipc::Value>().await?.map(|v| {
            v.to_json()
                .map(|j| j.to_string())
                .map_err(|e| format!("message has no JSON form: {e}"))
        }),
    })
}

/// Sends each stdin line as one message; a line that is not JSON, or
/// longer than `max_line` bytes, is reported and skipped. At the end,
/// disconnects, or returns the sender with `keep_open`. In `advanced` mode
/// a line is sent as the value `JSON.parse` makes of it, with Buffers
/// revived ([`revive`]).
async fn forward_stdin(
    mut tx: nodeipc::Sender,
    mode: Serialization,
    keep_open: bool,
    max_line: usize,
) -> nodeipc::Result<Option<nodeipc::Sender>> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        let Some(read) = read_line(&mut stdin, &mut line, max_line).await? else {
            break;
        };
        number += 1;
        let text = line.trim_ascii();
        if let Err(len) = read {
            eprintln!(
                "nodeipc: stdin line {number}: {len} bytes, longer than the limit of \
                 {max_line} (--max-line-len); skipped"
            );
        } else if !text.is_empty() {
            let parsed = match mode {
                Serialization::Json => serde_json::from_slice::<Raw>(text).map(Line::Raw),
                _ => serde_json::from_slice(text).map(Line::Parsed),
            };
            match parsed {
                Ok(Line::Raw(msg)) => tx.feed(&msg).await?,
                Ok(Line::Parsed(msg)) => tx.feed(&revive(&msg)).await?,
                Err(e) => eprintln!("nodeipc: stdin line {number}: not JSON ({e}); skipped"),
            }
        }
        if stdin.buffer().is_empty() {
            tx.flush().await?;
        }
    }
    if keep_open {
        tx.flush().await?;
        return Ok(Some(tx));
    }
    tx.disconnect().await?;
    Ok(None)
}

/// Reads the next line of `input` into `line` (without its `\n`), holding
/// at most `limit` bytes of it: `None` at the end of input, `Err(len)` for
/// a line of `len` bytes over the limit, whose bytes were dropped as they
/// came (`line` is then empty).
async fn read_line(
    input: &mut (impl AsyncBufRead + Unpin),
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Option<Result<(), usize>>> {
    line.clear();
    let mut len = 0usize;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            // A last line without a newline is still a line.
            return Ok((len > 0).then_some(if len > limit { Err(len) } else { Ok(()) }));
        }
        let end = buf.iter().position(|&b| b == b'\n');
        let part = &buf[..end.unwrap_or(buf.len())];
        len = len.saturating_add(part.len());
        if len <= limit {
            line.extend_from_slice(part);
        } else {
            line.clear();
        }
        let used = end.map_or(buf.len(), |i| i + 1);
        input.consume(used);
        if end.is_some() {
            return Ok(Some(if len > limit { Err(len) } else { Ok(()) }));
        }
    }
}

/// The child's exit code, or 128 + the signal that killed it, as shells do.
fn exit_code(status: ExitStatus) -> ExitCode {
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The value `JSON.parse` makes of `j`, except that every object that is
/// exactly what `JSON.stringify` makes of a Buffer,
/// `{"type":"Buffer","data":[…]}` with bytes as data, becomes that Buffer:
/// the inverse of how [`next_line`] writes Buffers. (serde_json nests at
/// most 128 levels, so the recursion is bounded.)
pub(crate) fn revive(j: &serde_json::Value) -> nodeipc::Value {
    use serde_json::Value as J;
    match j {
        J::Object(props) => buffer_json(props).map_or_else(
            || nodeipc::Value::object(props.iter().map(|(k, v)| (k.as_str(), revive(v)))),
            nodeipc::Value::buffer,
        ),
        J::Array(items) => nodeipc::Value::array(items.iter().map(revive)),
        other => nodeipc::Value::from(other),
    }
}

/// The bytes of `{"type":"Buffer","data":[…]}` (those two keys only, every
/// item an integer 0–255).
fn buffer_json(props: &serde_json::Map<String, serde_json::Value>) -> Option<Vec<u8>> {
    if props.len() != 2 || props.get("type")?.as_str()? != "Buffer" {
        return None;
    }
    props
        .get("data")?
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}

/// One stdin line: kept as text for `json`, parsed for `advanced`.
enum Line {
    Raw(Raw),
    Parsed(serde_json::Value),
}

/// `nodeipc echo`.
pub fn echo() -> Result<ExitCode, BoxError> {
    let channel = nodeipc::blocking::Channel::from_env()?;
    let mode = std::env::var(nodeipc::child::SERIALIZATION_MODE_VAR);
    if mode.as_deref() == Ok("advanced") {
        echo_loop::<nodeipc::Value>(channel)
    } else {
        echo_loop::<Raw>(channel)
    }
}

/// Answers each message with itself, received and sent as `T`.
fn echo_loop<T: Serialize + DeserializeOwned>(
    channel: nodeipc::blocking::Channel,
) -> Result<ExitCode, BoxError> {
    let (mut tx, mut rx) = channel.split();
    let sent = loop {
        match rx.recv::<T>() {
            Ok(Some(msg)) => {
                let sent = tx.feed(&msg).and_then(|()| match rx.buffered() {
                    0 => tx.flush(),
                    _ => Ok(()),
                });
                match sent {
                    // One message we cannot write back (a RegExp no
                    // supported Node reads): reported, and the next one
                    // is echoed.
                    Err(e @ Error::Encode(_)) => eprintln!("nodeipc echo: {e}"),
                    Err(e) => break Err(e),
                    Ok(()) => {}
                }
            }
            Ok(None) => break tx.flush(),
            Err(e) if e.is_recoverable() => eprintln!("nodeipc echo: {e}"),
            Err(Error::UnexpectedEof { buffered }) => {
                eprintln!(
                    "nodeipc echo: the parent left in the middle of a message ({buffered} bytes)"
                );
                break tx.flush();
            }
            Err(e) => return Err(e.into()),
        }
    };
    match sent {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The parent closed the channel before it read every reply: it went
        // away, which is not this child's failure (a Node child sees
        // 'disconnect' and exits 0 too).
        Err(Error::Disconnected) => {
            eprintln!("nodeipc echo: the parent closed the channel with replies unread");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e.into()),
    }
}
