//! The `advanced` codec against real Node: `tests/node/v8_corpus.js`
//! captures the frames Node's `process.send` writes over a real IPC channel
//! for ~170 values (every kind, edge numbers, lone surrogates, sparse
//! arrays, cycles, shared objects, every typed array, huge strings and
//! Buffers). Our decoder must read every frame, and our encoder must write
//! the very same bytes back from the decoded value.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nodeipc::codec::v8::{self, V8Decoder};
use nodeipc::value::{JsString, ViewKind};
use nodeipc::{Limits, Value};

struct Entry {
    label: String,
    frame: Vec<u8>,
    /// False where Node's own reading of the value (not the value) is what
    /// we write back: kind-1 host objects become their plain copy.
    reencode: bool,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The corpus, captured once per test binary; `None` without `node`.
fn corpus() -> Option<&'static [Entry]> {
    static CORPUS: OnceLock<Option<Vec<Entry>>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let node = common::node()?;
            let mut cmd = std::process::Command::new(node);
            cmd.arg(common::script("v8_corpus.js"));
            let out = common::run_with_timeout(cmd, Duration::from_secs(60)).expect("spawn node");
            assert!(out.status.success() && !out.timed_out, "{}", out.describe());
            let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("corpus JSON");
            let entries = json.as_array().expect("an array").iter().map(|e| Entry {
                label: e["label"].as_str().expect("label").to_owned(),
                frame: hex(e["hex"].as_str().expect("hex")),
                reencode: e["reencode"].as_bool().expect("reencode"),
            });
            Some(entries.collect())
        })
        .as_deref()
}

fn value_of(entries: &[Entry], label: &str) -> Value {
    let e = entries
        .iter()
        .find(|e| e.label == label)
        .unwrap_or_else(|| panic!("no {label}"));
    v8::decode_payload(&e.frame[4..], &Limits::default()).expect(label)
}

#[test]
fn every_node_frame_decodes_and_encodes_back_to_the_same_bytes() {
    let Some(entries) = corpus() else { return };
    assert!(entries.len() > 150, "only {} frames", entries.len());
    let limits = Limits::default();
    for e in entries {
        let value = v8::decode_payload(&e.frame[4..], &limits)
            .unwrap_or_else(|err| panic!("{}: {err}", e.label));
        let mut again = Vec::new();
        v8::encode(&value, &mut again).unwrap_or_else(|err| panic!("{}: {err}", e.label));
        if e.reencode {
            assert!(
                again == e.frame,
                "{}: wrote {:02x?}",
                e.label,
                &again[..again.len().min(64)]
            );
        } else {
            let back = v8::decode_payload(&again[4..], &limits).expect("our own bytes");
            assert_eq!(back, value, "{}", e.label);
        }
        // Sharing large buffers with the frame gives the same value.
        let shared =
            v8::decode_payload_bytes(&bytes::Bytes::copy_from_slice(&e.frame[4..]), &limits);
        assert_eq!(shared.expect("decodes"), value, "{}", e.label);
    }
}

#[test]
fn the_corpus_as_one_stream_decodes_the_same_whatever_the_read_sizes() {
    let Some(entries) = corpus() else { return };
    let stream: Vec<u8> = entries
        .iter()
        .flat_map(|e| e.frame.iter().copied())
        .collect();
    for sizes in [&[4093][..], &[1, 2, 3, 5, 70_000], &[65_536]] {
        let mut dec = V8Decoder::new(Limits::default());
        let mut got = Vec::new();
        let (mut fed, mut i) = (0, 0);
        while fed < stream.len() {
            let end = (fed + sizes[i % sizes.len()]).min(stream.len());
            dec.extend(&stream[fed..end]);
            fed = end;
            i += 1;
            while let Some(frame) = dec.decode() {
                let frame = frame.expect("framing");
                got.push((
                    frame.offset(),
                    frame.payload().len(),
                    frame.to_value().expect("value"),
                ));
            }
        }
        dec.finish().expect("nothing left over");
        assert_eq!(got.len(), entries.len(), "{sizes:?}");
        let mut offset = 0;
        for ((at, len, v), e) in got.iter().zip(entries) {
            assert_eq!((*at, *len), (offset, e.frame.len() - 4), "{}", e.label);
            assert_eq!(
                *v,
                v8::decode_payload(&e.frame[4..], &Limits::default()).unwrap()
            );
            offset += e.frame.len() as u64;
        }
    }
}

#[test]
fn decoded_values_are_what_node_sent() {
    let Some(entries) = corpus() else { return };
    let v = |label| value_of(entries, label);

    assert_eq!(v("number 2147483647"), Value::Number(2147483647.0));
    assert!(matches!(v("number -0"), Value::Number(n) if n == 0.0 && n.is_sign_negative()));
    let nan = v("signalling NaN with a payload").as_f64().unwrap();
    assert_eq!(nan.to_bits(), 0x7ff0_0000_0000_0001);
    assert!(matches!(
        v("[1.5, 2] (double elements: 2 as N)").get("1"),
        Some(Value::Double(2.0))
    ));
    assert_eq!(
        format!("{:?}", v("[-18446744073709551616n]")),
        "[ -18446744073709551616n ]"
    );

    let lone = v("string: surrogate in the middle");
    assert_eq!(
        lone,
        Value::String(JsString::from_utf16(&[0x61, 0xd800, 0x62]))
    );
    assert_eq!(
        v("string: huge one-byte string (1 MB)")
            .as_str()
            .map(str::len),
        Some(1 << 20)
    );
    assert_eq!(v("string: ascii held two-byte"), Value::from("abc"));

    assert_eq!(
        format!("{:?}", v("keys that are not indices")),
        "{ '-1': 1, '01': 2, '1.5': 3, '': 4, '€': 5, '\\ud800': 6 }"
    );
    assert_eq!(
        format!("{:?}", v("large index keys")),
        "{ '3000000000': 1, '4294967294': 2, '4294967295': 3, b: 4 }"
    );
    assert_eq!(
        format!("{:?}", v("largest index")),
        "[ <4294967294 empty items>, 'last' ]"
    );
    assert_eq!(
        format!("{:?}", v("sparse array with extra properties")),
        "[ <1 empty item>, 1, p: 'x', q: [ 2 ] ]"
    );

    assert_eq!(
        format!("{:?}", v("circ.self = circ")),
        "<ref *1> { name: 'c', self: [Circular *1] }"
    );
    assert_eq!(
        format!("{:?}", v("Map containing itself")),
        "<ref *1> Map(1) { [Circular *1] => [Circular *1] }"
    );
    let Value::Array(same) = v("[s, s, s]") else {
        panic!()
    };
    let ptr = |i: usize| {
        same.get(i).and_then(|v| match v {
            Value::Object(o) => Some(Arc::as_ptr(o)),
            _ => None,
        })
    };
    assert!(ptr(0).is_some() && ptr(0) == ptr(1) && ptr(1) == ptr(2));

    let views = v("views into one ArrayBuffer");
    let mid = views.get("mid").and_then(Value::as_bytes).unwrap();
    assert_eq!(&mid[..], &[2, 3, 4, 5, 6, 7]);
    let Some(Value::View(dv)) = views.get("dv") else {
        panic!()
    };
    assert_eq!(
        (dv.kind(), &dv.bytes()[..]),
        (ViewKind::DataView, &[1u8, 2, 3, 4, 5][..])
    );
    assert_eq!(v("1 MiB Buffer").as_bytes().map(|b| b.len()), Some(1 << 20));

    assert_eq!(
        format!("{:?}", v("error with object cause")),
        "S { [cause]: { why: [ 1 ] } }"
    );
    assert_eq!(format!("{:?}", v("name picks the prototype")), "s");
    let Value::Error(e) = v("name picks the prototype") else {
        panic!()
    };
    assert_eq!(e.name.as_str(), "TypeError");
    assert_eq!(
        format!("{:?}", v("MessagePort (kind 1 host object)")),
        "[ {} ]"
    );
}
