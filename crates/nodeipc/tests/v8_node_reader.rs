//! No value our `advanced` writer accepts is refused by the Node under
//! test: random values of every kind (the property-test strategy, minus
//! what that Node version cannot carry at all: `Float16Array` before Node
//! 24, an Error whose cause refers back to it before Node 22) are sent over
//! a real channel to a Node child, which must read each one (a frame Node
//! refuses kills it: "Unable to deserialize cloned data") and echo it
//! (as `{ m }`); our writing of that echo must come back unchanged.
//!
//! Bounded: `NODEIPC_NODE_READER_CASES` values (default 1000), one at a
//! time, under a 60 s timeout.

mod common;
mod v8_values;

use std::time::Duration;

use nodeipc::codec::v8;
use nodeipc::{Command, Serialization, Value};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use v8_values::{Caps, value_with};

/// V8's major version in the Node under test.
fn v8_major(node: &std::path::Path) -> u32 {
    let out = std::process::Command::new(node)
        .args(["-p", "process.versions.v8.split('.')[0]"])
        .output()
        .expect("run node");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a V8 major version")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `v` and returns Node's echo of it.
async fn echo(ch: &mut nodeipc::Channel, v: &Value) -> Result<Value, String> {
    ch.send(v).await.map_err(|e| format!("send: {e}"))?;
    match ch.recv::<Value>().await {
        // Wrapped: `process.send(undefined)` throws.
        Ok(Some(wrapped)) => Ok(wrapped.get("m").cloned().unwrap_or(Value::Null)),
        other => Err(format!("Node did not read it back ({other:?})")),
    }
}

#[tokio::test]
async fn node_reads_every_value_we_write() {
    let Some(node) = common::node() else { return };
    let caps = Caps::of_v8(v8_major(&node));
    let cases: usize = std::env::var("NODEIPC_NODE_READER_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    // A fixed seed: the same values on every run and every Node.
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = value_with(caps);
    let values: Vec<Value> = (0..cases)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect();

    let (mut child, mut ch) = Command::new(&node)
        .arg("-e")
        .arg("process.on('message', (m) => process.send({ m }));")
        .serialization(Serialization::Advanced)
        .spawn()
        .expect("spawn node");
    common::timeout(Duration::from_secs(60), async {
        let mut differ = Vec::new();
        let mut refused = 0;
        for (i, v) in values.iter().enumerate() {
            let mut frame = Vec::new();
            if v8::encode(v, &mut frame).is_err() {
                refused += 1; // not sent: refusing is allowed, crashing Node is not
                continue;
            }
            let what = || format!("value {i} ({caps:?}): {v:?}\nframe: {}", hex(&frame));
            // Node's reading of our value, and of our writing of that: the
            // second must be the first (a value JS cannot hold as we built
            // it, like a Set with a repeated member or a RegExp source
            // `''`, arrives in JS's form: `(?:)`; that form then survives).
            let first = echo(&mut ch, v)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", what()));
            let second = echo(&mut ch, &first)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{}", what()));
            if second != first {
                differ.push(format!("Node read {first:?}, then {second:?}\n{}", what()));
            }
        }
        assert!(refused < cases / 10, "{refused} of {cases} values refused");
        assert!(
            differ.is_empty(),
            "{} differ:\n{}",
            differ.len(),
            differ.join("\n")
        );
    })
    .await;
    drop(ch);
    assert!(child.wait().await.unwrap().success());
}
