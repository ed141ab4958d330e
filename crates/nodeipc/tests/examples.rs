//! The handle-passing examples run as a user would run them, against real
//! Node: `supervisor` (a Rust-bound port served by Node HTTP workers) and
//! `socket_worker` (a Node front-end handing connections to Rust). Cargo
//! builds the examples before it runs tests, next to this test binary.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs an example with the `node` the tests use first on `PATH` (the
/// examples start plain `node`).
fn run(node: &Path, name: &str) -> common::Outcome {
    let mut path = std::ffi::OsString::from(node.parent().unwrap());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut cmd = Command::new(common::example(name));
    cmd.env("PATH", path);
    let out = common::run_with_timeout(cmd, TIMEOUT).unwrap();
    assert!(out.status.success(), "{name}: {}", out.describe());
    out
}

#[test]
fn supervisor_shares_its_port_with_node_http_workers() {
    let node = require_node!();
    let out = run(&node, "supervisor");
    let answers: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("GET / -> "))
        .collect();
    assert_eq!(answers.len(), 8, "{}", out.describe());
    assert!(
        answers.iter().all(|a| a.contains("hello from worker")),
        "{}",
        out.describe()
    );
}

#[test]
fn node_frontend_hands_connections_to_a_rust_worker() {
    let node = require_node!();
    let out = run(&node, "socket_worker");
    let answers: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("[client "))
        .collect();
    assert_eq!(answers.len(), 4, "{}", out.describe());
    for (i, a) in answers.iter().enumerate() {
        assert!(
            a.contains(&format!("answers connection {i} from 127.0.0.1:"))
                && a.contains(&format!("you said \"question {i}\"")),
            "{}",
            out.describe()
        );
    }
    assert!(out.stderr.is_empty(), "{}", out.describe());
}
