//! `nodeipc::cluster::Primary` with real Node workers: the events Node's
//! own primary emits, in order, and both ways a worker leaves after a
//! disconnect (the primary's `worker.disconnect()`, and the worker's own
//! `cluster.worker.disconnect()`, which waits for our answer to its
//! `exitedAfterDisconnect`). The HTTP serving itself is tested through the
//! CLI (`crates/nodeipc-cli/tests/cluster.rs`).

mod common;

use std::time::Duration;

use nodeipc::cluster::{AddressType, Event, Primary, SchedulingPolicy, WorkerId};
use serde_json::{Value, json};

async fn next(primary: &mut Primary) -> Event<Value> {
    common::timeout(Duration::from_secs(20), primary.next_event())
        .await
        .expect("an event")
}

#[tokio::test]
async fn events_follow_nodes_and_both_disconnects_end_in_exited_after_disconnect() {
    let node = require_node!();
    for policy in [SchedulingPolicy::RoundRobin, SchedulingPolicy::None] {
        let node = node.clone();
        let mut primary: Primary = Primary::new(policy, move |_| {
            let mut cmd = nodeipc::Command::new(&node);
            // A script file: Node makes a process a cluster worker only
            // when it has one (process.argv[1]; `node -e` is not).
            cmd.arg(common::script("cluster-worker.js"));
            cmd
        });
        let (a, b) = (primary.fork().unwrap(), primary.fork().unwrap());
        assert_eq!((a, b), (WorkerId(1), WorkerId(2)));

        let mut online = Vec::new();
        let mut ports = Vec::new();
        let mut hello = Vec::new();
        while hello.len() < 2 || ports.len() < 2 {
            match next(&mut primary).await {
                Event::Online(w) => online.push(w),
                Event::Listening { worker, info } => {
                    assert!(online.contains(&worker), "online before listening");
                    assert_eq!(info.address_type, Some(AddressType::Ipv4));
                    assert_eq!(info.address.as_deref(), Some("127.0.0.1"));
                    ports.push(info.port.unwrap());
                }
                Event::Message { worker, message } => {
                    assert_eq!(message, json!({ "isWorker": true, "id": worker.0 }));
                    hello.push(worker);
                }
                other => panic!("{policy:?}: unexpected {other:?}"),
            }
        }
        // (The worker's own listen callback runs before cluster's, so its
        // message may come before its 'listening'.)
        // listen(0): a port of the kernel's choice, and both workers' first
        // listen(0) share it (Node 22+'s key: address, port 0 and index).
        assert!(ports.iter().all(|p| *p > 0 && *p == ports[0]), "{ports:?}");
        assert_eq!(primary.workers().filter(|w| w.listening).count(), 2);

        // The primary's disconnect, then the worker's own.
        primary.disconnect(a).unwrap();
        primary.send(b, json!("leave")).unwrap();
        let mut exits = Vec::new();
        let mut disconnects = Vec::new();
        while exits.len() < 2 {
            match next(&mut primary).await {
                Event::Disconnect(w) => disconnects.push(w),
                Event::Exit {
                    worker,
                    status,
                    exited_after_disconnect,
                } => {
                    assert!(status.success(), "{worker}: {status}");
                    assert!(exited_after_disconnect, "{policy:?} {worker}");
                    exits.push(worker);
                }
                other => panic!("{policy:?}: unexpected {other:?}"),
            }
        }
        disconnects.sort();
        assert_eq!(disconnects, [a, b]);
        assert!(primary.is_idle());
        assert!(primary.next_event().await.is_none());
    }
}
