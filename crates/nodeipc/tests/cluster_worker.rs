//! A Rust cluster worker (`examples/cluster_worker.rs`) under a plain Node
//! primary (`tests/node/cluster_primary.js`), in both scheduling policies:
//! `online`, `listening` with the address, HTTP requests served by every
//! worker, a message each way, `worker.disconnect()` then a clean exit
//! with `exitedAfterDisconnect`, a connection a worker refuses handed to
//! another worker, UDP, and a server on a unix socket path.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

fn primary(node: &Path, policy: &str, workers: usize, requests: usize, flag: &str) -> Value {
    primary_in(node, "json", policy, workers, requests, flag)
}

fn primary_in(
    node: &Path,
    serialization: &str,
    policy: &str,
    workers: usize,
    requests: usize,
    flag: &str,
) -> Value {
    let mut cmd = Command::new(node);
    cmd.env("SERIALIZATION", serialization);
    cmd.arg(common::script("cluster_primary.js"))
        .arg(common::example("cluster_worker"))
        .args([policy, &workers.to_string(), &requests.to_string()]);
    if !flag.is_empty() {
        cmd.arg(flag);
    }
    let out = common::run_with_timeout(cmd, Duration::from_secs(60)).unwrap();
    assert!(out.status.success(), "{policy}: {}", out.describe());
    let line = out.stdout.lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {}", out.describe()))
}

/// The worker ids in `worker <id> pid <pid>` bodies.
fn served_by(seen: &Value) -> Vec<u64> {
    seen["bodies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let b = b.as_str().unwrap();
            b.strip_prefix("worker ")
                .and_then(|r| r.split(' ').next())
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("body {b:?}"))
        })
        .collect()
}

fn check_lifecycle(seen: &Value, workers: u64, policy: &str) {
    let ids: BTreeSet<u64> = (1..=workers).collect();
    let online: BTreeSet<u64> = seen["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(online, ids, "{policy}: {seen}");
    let tcp: Vec<&Value> = seen["listening"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["addressType"] != "udp4" && l["addressType"] != -1)
        .collect();
    assert_eq!(tcp.len() as u64, workers, "{policy}: {seen}");
    for l in &tcp {
        assert_eq!(l["address"], "127.0.0.1", "{policy}: {seen}");
        assert_eq!(l["addressType"], 4, "{policy}: {seen}");
        assert!(l["port"].as_u64().unwrap() > 0, "{policy}: {seen}");
    }
    let ports: BTreeSet<u64> = tcp.iter().map(|l| l["port"].as_u64().unwrap()).collect();
    assert_eq!(ports.len(), 1, "{policy}: one port for all: {seen}");
    for r in seen["replies"].as_array().unwrap() {
        let id = r["worker"].as_u64().unwrap();
        assert_eq!(r["got"]["hello"], id, "{policy}: {seen}");
        assert_eq!(r["got"]["text"], "é", "{policy}: {seen}");
    }
    assert_eq!(
        seen["exits"].as_array().unwrap().len() as u64,
        workers,
        "{policy}: {seen}"
    );
    for e in seen["exits"].as_array().unwrap() {
        assert_eq!(e["code"], 0, "{policy}: {seen}");
        assert_eq!(e["exitedAfterDisconnect"], true, "{policy}: {seen}");
    }
    assert_eq!(seen["errors"], serde_json::json!([]), "{policy}: {seen}");
}

#[test]
fn rust_workers_under_a_node_primary_round_robin() {
    let node = require_node!();
    let seen = primary(&node, "rr", 2, 20, "");
    check_lifecycle(&seen, 2, "rr");
    let by: BTreeSet<u64> = served_by(&seen).into_iter().collect();
    assert_eq!(by, BTreeSet::from([1, 2]), "every worker serves: {seen}");
}

#[test]
fn rust_workers_under_a_node_primary_sched_none() {
    let node = require_node!();
    let seen = primary(&node, "none", 2, 20, "");
    check_lifecycle(&seen, 2, "none");
    // The kernel picks the acceptor: every request served, by some worker.
    assert_eq!(served_by(&seen).len(), 20, "{seen}");
}

#[test]
fn a_connection_a_worker_refuses_is_served_by_another() {
    let node = require_node!();
    let seen = primary(&node, "rr", 2, 10, "lazy");
    check_lifecycle(&seen, 2, "rr lazy");
    let by = served_by(&seen);
    assert_eq!(by.len(), 10, "{seen}");
    // Worker 1 held one connection (its backlog) and refused the rest,
    // which Node handed to worker 2.
    assert_eq!(by.iter().filter(|id| **id == 1).count(), 1, "{seen}");
}

#[test]
fn rust_workers_speak_advanced_too() {
    let node = require_node!();
    for policy in ["rr", "none"] {
        let seen = primary_in(&node, "advanced", policy, 2, 10, "");
        check_lifecycle(&seen, 2, policy);
        assert_eq!(served_by(&seen).len(), 10, "{seen}");
    }
}

#[test]
fn worker_kill_ends_a_rust_worker_with_sigterm() {
    let node = require_node!();
    let seen = primary(&node, "rr", 2, 0, "kill");
    let exits = seen["exits"].as_array().unwrap();
    assert_eq!(exits.len(), 2, "{seen}");
    for e in exits {
        assert_eq!(e["signal"], "SIGTERM", "{seen}");
        assert_eq!(e["exitedAfterDisconnect"], false, "{seen}");
    }
}

#[test]
fn rust_workers_share_a_udp_socket_through_the_primary() {
    let node = require_node!();
    let seen = primary(&node, "rr", 2, 10, "udp");
    check_lifecycle(&seen, 2, "udp");
    let udp: Vec<&Value> = seen["listening"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["addressType"] == "udp4")
        .collect();
    assert_eq!(udp.len(), 2, "{seen}");
    assert_eq!(udp[0]["port"], udp[1]["port"], "one shared socket: {seen}");
    let answers = seen["udp"].as_array().unwrap();
    assert_eq!(answers.len(), 10, "{seen}");
    assert!(
        answers
            .iter()
            .all(|a| a.as_str().unwrap().starts_with("worker ")),
        "{seen}"
    );
}

#[test]
fn rust_workers_serve_a_unix_socket_through_the_primary() {
    let node = require_node!();
    for policy in ["rr", "none"] {
        let seen = primary(&node, policy, 2, 20, "unix");
        check_lifecycle(&seen, 2, policy);
        let unix: Vec<&Value> = seen["listening"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["addressType"] == -1)
            .collect();
        assert_eq!(unix.len(), 2, "{policy}: {seen}");
        assert_eq!(unix[0]["address"], unix[1]["address"], "{policy}: {seen}");
        assert!(
            unix[0]["address"].as_str().unwrap().ends_with("/http.sock"),
            "{policy}: {seen}"
        );
        let by = served_by(&seen);
        assert_eq!(
            by.len(),
            20,
            "{policy}: every request over the socket: {seen}"
        );
        if policy == "rr" {
            let by: BTreeSet<u64> = by.into_iter().collect();
            assert_eq!(by, BTreeSet::from([1, 2]), "every worker serves: {seen}");
        }
    }
}
