//! The blocking channel with a real Node child, in both serializations:
//! the part of the crate that builds without the `tokio` feature. CI runs
//! this file under `--no-default-features` too.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};

use nodeipc::{Command, Serialization};
use serde_json::{Value, json};

#[test]
fn a_blocking_parent_talks_and_passes_a_server_in_both_serializations() {
    let node = require_node!();
    for serialization in [Serialization::Json, Serialization::Advanced] {
        let (mut child, mut channel) = Command::new(&node)
            .arg(common::script("handles.js"))
            .arg("child")
            .serialization(serialization)
            .blocking_spawn()
            .unwrap();
        channel.send(&json!({"hello": "é", "n": [1, 2.5]})).unwrap();
        let got: Value = channel.recv().unwrap().expect("an answer");
        assert_eq!(
            got["got"],
            json!({"hello": "é", "n": [1, 2.5]}),
            "{serialization}"
        );

        // A server handed over: Node answers on it, and the message after
        // the handle waits for the ACK, which the unsplit channel reads.
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        channel
            .send_with_handle(&json!({"tag": "s"}), &server)
            .unwrap();
        channel.send(&json!({"after": true})).unwrap();
        drop(server);
        let first: Value = channel.recv().unwrap().expect("an answer");
        assert_eq!(first["kind"], "net.Server", "{serialization}: {first}");
        let mut hello = String::new();
        TcpStream::connect(addr)
            .unwrap()
            .read_to_string(&mut hello)
            .unwrap();
        assert_eq!(hello, "hello s", "{serialization}");
        let after: Value = channel.recv().unwrap().expect("an answer");
        assert_eq!(after["got"], json!({"after": true}), "{serialization}");

        channel.disconnect().unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{serialization}: {status}");
    }
}
