//! `nodeipc run` (NDJSON on stdio ↔ a child's IPC channel) and
//! `nodeipc echo` (a child that answers every message).

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitCode, ExitStatus, Stdio};

use nodeipc::{Error, Serialization};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Messages travel as raw JSON text: what comes in on one side goes out on
/// the other byte for byte (after validation), so nothing is lost to a
/// round trip through a Rust value (number formats, lone surrogates).
type Raw = Box<RawValue>;

type BoxError = Box<dyn std::error::Error>;

/// Options of `nodeipc run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Wire format announced to the child (NODE_CHANNEL_SERIALIZATION_MODE).
    #[arg(long, default_value = "json")]
    serialization: Serialization,
    /// The fd number the child finds the channel at (NODE_CHANNEL_FD).
    #[arg(long, default_value_t = nodeipc::Command::DEFAULT_CHANNEL_FD)]
    channel_fd: i32,
    /// The program to run and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// `nodeipc run`.
pub fn run(args: RunArgs) -> Result<ExitCode, BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(bridge(args))
}

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

    // stdin → child. Runs until stdin ends, then disconnects the child.
    let input = tokio::spawn(async move {
        if let Err(e) = forward_stdin(tx).await {
            eprintln!("nodeipc: sending to the child: {e}");
        }
    });

    // child → stdout, until the child disconnects.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    loop {
        match rx.recv::<Raw>().await {
            Ok(Some(msg)) => {
                out.write_all(msg.get().as_bytes())?;
                out.write_all(b"\n")?;
                if rx.buffered() == 0 {
                    out.flush()?;
                }
            }
            Ok(None) => break,
            Err(e) if e.is_recoverable() => eprintln!("nodeipc: from the child: {e}"),
            Err(e) => {
                eprintln!("nodeipc: from the child: {e}");
                break;
            }
        }
    }
    out.flush()?;
    drop(out);
    input.abort();
    drop(rx);
    Ok(exit_code(child.wait().await?))
}

/// Sends each stdin line as one message; a line that is not JSON is
/// reported and skipped.
async fn forward_stdin(mut tx: nodeipc::Sender) -> nodeipc::Result<()> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        number += 1;
        let text = line.trim_ascii();
        if !text.is_empty() {
            match serde_json::from_slice::<Raw>(text) {
                Ok(msg) => tx.feed(&msg).await?,
                Err(e) => eprintln!("nodeipc: stdin line {number}: not JSON ({e}); skipped"),
            }
        }
        if stdin.buffer().is_empty() {
            tx.flush().await?;
        }
    }
    tx.disconnect().await
}

/// The child's exit code, or 128 + the signal that killed it, as shells do.
fn exit_code(status: ExitStatus) -> ExitCode {
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// `nodeipc echo`.
pub fn echo() -> Result<ExitCode, BoxError> {
    let (mut tx, mut rx) = nodeipc::blocking::Channel::from_env()?.split();
    loop {
        match rx.recv::<Raw>() {
            Ok(Some(msg)) => {
                tx.feed(&msg)?;
                if rx.buffered() == 0 {
                    tx.flush()?;
                }
            }
            Ok(None) => break,
            Err(e) if e.is_recoverable() => eprintln!("nodeipc echo: {e}"),
            Err(Error::UnexpectedEof { buffered }) => {
                eprintln!(
                    "nodeipc echo: the parent left in the middle of a message ({buffered} bytes)"
                );
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.flush()?;
    Ok(ExitCode::SUCCESS)
}
