//! The `advanced` serialization over a real channel with a real Node child:
//! typed Rust values through serde, and JS values Node alone can send
//! (Buffer, BigInt, Map, Date, cycles) as `nodeipc::Value`.

mod common;

use std::time::Duration;

use nodeipc::{Command, Serialization, Value};
use serde::{Deserialize, Serialize};

const LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Job {
    id: u32,
    name: String,
    tags: Vec<String>,
    weight: f64,
    parent: Option<u32>,
    big: u64,
}

fn node_child(script: &str) -> Option<(tokio::process::Child, nodeipc::Channel)> {
    let node = common::node()?;
    Some(
        Command::new(node)
            .arg("-e")
            .arg(script)
            .serialization(Serialization::Advanced)
            .spawn()
            .expect("spawn node"),
    )
}

#[tokio::test]
async fn typed_messages_round_trip_through_a_node_child() {
    let Some((mut child, mut ch)) = node_child(
        "process.on('message', (m) => process.send({ echo: m, kinds: [typeof m.big, m.parent === undefined] }));",
    ) else {
        return;
    };
    let job = Job {
        id: 7,
        name: "héllo 😀 \u{2028}".into(),
        tags: vec!["a".into(), String::new()],
        weight: -0.5,
        parent: None,
        big: u64::MAX,
    };
    #[derive(Deserialize)]
    struct Reply {
        echo: Job,
        kinds: (String, bool),
    }
    common::timeout(LIMIT, async {
        ch.send(&job).await.unwrap();
        let reply: Reply = ch.recv().await.unwrap().expect("reply");
        assert_eq!(reply.echo, job);
        // u64 past 2^53 travels as a BigInt; None as undefined.
        assert_eq!(reply.kinds, ("bigint".to_string(), true));
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn js_only_values_from_node_arrive_as_values() {
    let Some((mut child, mut ch)) = node_child(
        "const o = { buf: Buffer.from([1, 2, 3]), big: 2n ** 64n, date: new Date(0), map: new Map([[1, 'a']]) };
         o.self = o;
         process.send(o);
         process.on('message', () => process.disconnect());",
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        let v: Value = ch.recv().await.unwrap().expect("message");
        assert_eq!(
            v.get("buf").and_then(Value::as_bytes).map(|b| b.to_vec()),
            Some(vec![1, 2, 3])
        );
        assert!(matches!(v.get("big"), Some(Value::BigInt(_))));
        assert!(matches!(v.get("date"), Some(Value::Date(_))));
        assert!(matches!(v.get("map"), Some(Value::Map(_))));
        assert!(matches!(v.get("self"), Some(Value::Circular(_))));
        ch.send(&"bye").await.unwrap();
        assert_eq!(ch.recv::<Value>().await.unwrap(), None);
    })
    .await;
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn many_messages_arrive_in_order_both_ways() {
    let Some((mut child, ch)) = node_child(
        "let n = 0; process.on('message', (m) => { if (m.i !== n++) throw new Error('order'); process.send(m); });",
    ) else {
        return;
    };
    #[derive(Serialize, Deserialize)]
    struct M {
        i: u32,
        s: String,
    }
    let (mut tx, mut rx) = ch.split();
    let count = 20_000;
    let sender = tokio::spawn(async move {
        for i in 0..count {
            tx.feed(&M {
                i,
                s: "x".repeat((i % 50) as usize),
            })
            .await
            .unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    common::timeout(LIMIT, async {
        for i in 0..count {
            let m: M = rx.recv().await.unwrap().expect("echo");
            assert_eq!(m.i, i);
            assert_eq!(m.s.len(), (i % 50) as usize);
        }
    })
    .await;
    drop(sender.await.unwrap());
    drop(rx);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn buffers_and_strings_from_0_bytes_to_8_mib_survive_a_node_echo() {
    let Some((mut child, mut ch)) = node_child(
        "process.on('message', (m) => process.send({ b: m.b, s: m.s, isBuf: Buffer.isBuffer(m.b) }));",
    ) else {
        return;
    };
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Blob {
        b: bytes::Bytes,
        s: String,
    }
    #[derive(Deserialize)]
    struct Reply {
        b: bytes::Bytes,
        s: String,
        #[serde(rename = "isBuf")]
        is_buf: bool,
    }
    common::timeout(LIMIT, async {
        for size in [0usize, 1, 65_535, 65_536, 1 << 20, 8 << 20] {
            let b: bytes::Bytes = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let s = common::pattern(size);
            ch.send(&Blob {
                b: b.clone(),
                s: s.clone(),
            })
            .await
            .unwrap();
            let r: Reply = ch.recv().await.unwrap().expect("reply");
            assert!(r.is_buf, "size {size}: Node did not get a Buffer");
            assert_eq!(r.b, b, "size {size}");
            assert_eq!(r.s, s, "size {size}");
        }
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn a_hundred_thousand_small_messages_from_node_arrive_in_order() {
    let Some((mut child, mut ch)) = node_child(
        "process.once('message', () => { for (let i = 0; i < 100000; i++) process.send(i); process.send('done'); });",
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        ch.send(&"go").await.unwrap();
        for i in 0..100_000u32 {
            assert_eq!(ch.recv::<u32>().await.unwrap(), Some(i));
        }
        assert_eq!(ch.recv::<String>().await.unwrap().as_deref(), Some("done"));
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}

#[tokio::test]
async fn every_value_kind_survives_a_rust_parent_echo_as_node_checks_it() {
    // The Node child sends each value; the Rust parent answers with what
    // it decoded; Node compares with util.isDeepStrictEqual.
    let Some((mut child, mut ch)) = node_child(
        r#"
const { isDeepStrictEqual } = require('util');
const circ = { name: 'c' }; circ.self = circ;
const shared = { k: 1 };
const ab = new ArrayBuffer(16);
const err = new RangeError('boom', { cause: 1 });
const values = [null, true, -0, NaN, Infinity, 2 ** 31, 2 ** 53 + 1, 1.5, [2n ** 70n, -5n],
  '', 'héllo', 'h€llo 😀', '\ud800', 'x'.repeat(70000), [1, , 3], Object.assign([1, 2], { p: 3 }),
  { 1: 'a', b: 'c' }, { x: shared, y: shared }, circ, new Date(0), /ab+c/gi,
  new Map([[1, { a: 1 }], ['k', [2]]]), new Set(['x', 1]), Buffer.from([1, 2, 3]),
  new Uint8Array([1, 2]), new Int16Array([-1, 2]), new Float64Array([0.5]),
  new BigInt64Array([-1n]), new Uint8Array(ab, 4, 8), new DataView(ab, 2, 4), ab,
  [new String('s'), new Number(2), new Boolean(false)], err, { outer: { inner: [null] } }];
const got = [];
process.on('message', (m) => {
  got.push(m);
  if (got.length < values.length) return;
  const bad = values.map((v, i) => i).filter((i) => !isDeepStrictEqual(values[i], got[i]));
  process.send({ report: true, bad: bad.map((i) => String(i)) });
});
for (const v of values) process.send(v);
"#,
    ) else {
        return;
    };
    common::timeout(LIMIT, async {
        loop {
            let v: Value = ch.recv().await.unwrap().expect("message");
            if v.get("report").and_then(Value::as_bool) == Some(true) {
                let bad = format!("{:?}", v.get("bad"));
                assert!(
                    matches!(v.get("bad"), Some(Value::Array(a)) if a.is_empty()),
                    "values Node found changed (indexes): {bad}"
                );
                break;
            }
            ch.send(&v).await.unwrap();
        }
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}
