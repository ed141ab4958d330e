//! Keeps the hex dumps of `docs/protocol.md` honest: every dump there was
//! captured from real Node, and here our decoder must read it as the value
//! its `// read:` line shows and our encoder must write that value back as
//! exactly those bytes.
//!
//! The document marks its dumps with fenced blocks whose info string is
//! `hex json` or `hex advanced` (`hex advanced read`: Node writes this form
//! and we read it, but we write another, so only the reading is checked).
//! Inside a block, each dump is a `// read: <value>` line, then the bytes
//! of one whole message as two-digit hex, `|` and line breaks being only
//! layout. `<value>` is the decoded [`Value`]'s `{:?}` (which follows
//! Node's `util.inspect`) with newline, U+2028 and U+2029 written as `\n`,
//! `\u2028`, `\u2029`. Other `//` lines (`// send: …`, the JS that Node was
//! given) are for the reader.

use nodeipc::codec::{json, v8};
use nodeipc::{Limits, Value};

const DOC: &str = include_str!("../../../docs/protocol.md");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Json,
    Advanced,
}

struct Dump {
    /// 1-based line of the `// read:` line in the document.
    line: usize,
    mode: Mode,
    read_only: bool,
    shown: String,
    bytes: Vec<u8>,
}

fn dumps(doc: &str) -> Vec<Dump> {
    let mut out: Vec<Dump> = Vec::new();
    let mut block: Option<(Mode, bool)> = None;
    // Whether the block has a `// read:` line yet (bytes belong to it).
    let mut started = false;
    for (i, line) in doc.lines().enumerate() {
        let line = line.trim_end();
        let Some((mode, read_only)) = block else {
            if let Some(info) = line.strip_prefix("```hex ") {
                block = Some(match info {
                    "json" => (Mode::Json, false),
                    "advanced" => (Mode::Advanced, false),
                    "advanced read" => (Mode::Advanced, true),
                    _ => panic!("line {}: unknown hex block `{info}`", i + 1),
                });
                started = false;
            }
            continue;
        };
        if line == "```" {
            block = None;
        } else if let Some(shown) = line.strip_prefix("// read: ") {
            started = true;
            out.push(Dump {
                line: i + 1,
                mode,
                read_only,
                shown: shown.to_owned(),
                bytes: Vec::new(),
            });
        } else if !line.is_empty() && !line.starts_with("//") {
            assert!(started, "line {}: bytes before any `// read:`", i + 1);
            let dump = out.last_mut().expect("started");
            for byte in line.split_whitespace().filter(|&t| t != "|") {
                let b = u8::from_str_radix(byte, 16)
                    .ok()
                    .filter(|_| byte.len() == 2)
                    .unwrap_or_else(|| panic!("line {}: `{byte}` is not a hex byte", i + 1));
                dump.bytes.push(b);
            }
        }
    }
    assert!(block.is_none(), "a hex block is not closed");
    out
}

/// What a `// read:` line shows for a value.
fn shown(v: &Value) -> String {
    format!("{v:?}")
        .replace('\n', "\\n")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Reads `bytes` as exactly one message.
fn decode(mode: Mode, bytes: &[u8]) -> Result<Value, String> {
    let limits = Limits::default();
    let (value, rest) = match mode {
        Mode::Json => {
            let mut dec = json::JsonDecoder::new(limits);
            dec.extend(bytes);
            let frame = dec.decode().ok_or("no whole message")?;
            let value = frame.and_then(|f| f.parse::<Value>());
            (value, dec.decode().is_some() || dec.finish().is_err())
        }
        Mode::Advanced => {
            let mut dec = v8::V8Decoder::new(limits);
            dec.extend(bytes);
            let frame = dec.decode().ok_or("no whole message")?;
            let value = frame.and_then(|f| f.to_value());
            (value, dec.decode().is_some() || dec.finish().is_err())
        }
    };
    if rest {
        return Err("bytes after the message".into());
    }
    value.map_err(|e| e.to_string())
}

fn encode(mode: Mode, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match mode {
        Mode::Json => json::encode(v, &mut out),
        Mode::Advanced => v8::encode(v, &mut out),
    }
    .expect("encodes");
    out
}

#[test]
fn every_dump_reads_as_shown_and_encodes_to_the_same_bytes() {
    let dumps = dumps(DOC);
    // A change in the markup must not make the dumps silently disappear.
    let counts = [Mode::Json, Mode::Advanced].map(|m| dumps.iter().filter(|d| d.mode == m).count());
    assert!(
        counts[0] >= 15 && counts[1] >= 40,
        "dumps found: {counts:?}"
    );

    let mut failures = Vec::new();
    for d in &dumps {
        let value = match decode(d.mode, &d.bytes) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("line {}: does not decode: {e}", d.line));
                continue;
            }
        };
        if shown(&value) != d.shown {
            failures.push(format!("line {}: reads as {}", d.line, shown(&value)));
        }
        if !d.read_only {
            let ours = encode(d.mode, &value);
            if ours != d.bytes {
                failures.push(format!("line {}: we write {:02x?}", d.line, ours));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_parser_finds_dumps_and_refuses_stray_bytes() {
    let doc =
        "text\n```hex advanced read\n// send: null\n// read: null\n00 00 00 03 |\nff 0f 30\n```\n";
    let d = dumps(doc);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].line, d[0].read_only), (4, true));
    assert_eq!(d[0].bytes, [0, 0, 0, 3, 0xff, 0x0f, 0x30]);
    assert!(std::panic::catch_unwind(|| dumps("```hex json\n6e 75\n```\n")).is_err());
}
