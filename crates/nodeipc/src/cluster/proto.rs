//! The `NODE_CLUSTER` message layer (Node's `lib/internal/cluster/utils.js`):
//! every cluster message is an internal message `{ cmd: 'NODE_CLUSTER',
//! ...body, seq }`, `seq` counted once per process; an answer carries the
//! `seq` it answers as `ack`. Pure: no I/O.

use serde_json::{Map, Value, json};

use super::{AddressType, ListenInfo};
use crate::InternalMessage;

/// The `cmd` of every cluster message.
pub(crate) const CMD: &str = "NODE_CLUSTER";

/// The environment variable a primary sets for each worker: its id.
pub(crate) const UNIQUE_ID_VAR: &str = "NODE_UNIQUE_ID";

/// Numbers this process's cluster messages, as `sendHelper` does.
#[derive(Debug, Default)]
pub(crate) struct Seq(u64);

impl Seq {
    /// `{ cmd: 'NODE_CLUSTER', ...body, seq }` and its `seq`.
    pub(crate) fn wrap(&mut self, body: Value) -> (u64, Value) {
        let seq = self.0;
        self.0 += 1;
        let mut msg = Map::new();
        msg.insert("cmd".into(), CMD.into());
        if let Value::Object(body) = body {
            msg.extend(body);
        }
        msg.insert("seq".into(), seq.into());
        (seq, Value::Object(msg))
    }
}

/// A cluster message from a worker.
#[derive(Debug, PartialEq)]
pub(crate) struct Incoming {
    /// `act`, if any (a request or notice from the worker).
    pub act: Option<String>,
    /// `seq`: what our answer acknowledges.
    pub seq: Option<u64>,
    /// `ack`: the `seq` of ours it answers.
    pub ack: Option<u64>,
    /// The whole message.
    pub body: Map<String, Value>,
}

impl Incoming {
    /// The cluster message in `msg`; `None` for other internal messages
    /// (Node's `internal()` ignores them too).
    pub(crate) fn parse(msg: InternalMessage) -> Option<Incoming> {
        let Value::Object(body) = msg.0 else {
            return None;
        };
        if body.get("cmd").and_then(Value::as_str) != Some(CMD) {
            return None;
        }
        let number = |k: &str| body.get(k).and_then(as_u64);
        Some(Incoming {
            act: body.get("act").and_then(Value::as_str).map(str::to_owned),
            seq: number("seq"),
            ack: number("ack"),
            body,
        })
    }
}

/// A JS number that is a non-negative integer.
fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 2f64.powi(53))
            .map(|f| f as u64)
    })
}

/// What a worker's `queryServer` asks for (`net`'s `listenInCluster` or
/// `dgram`'s `bind`, through `cluster._getServer`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerQuery {
    /// The key Node's primary files the server under.
    pub key: String,
    pub address: Option<String>,
    pub port: Option<i64>,
    pub address_type: Option<AddressType>,
    pub fd: Option<i64>,
    /// libuv bind flags (`UV_TCP_IPV6ONLY` = 1; for UDP also
    /// `UV_UDP_REUSEADDR` = 4).
    pub flags: u32,
    pub backlog: Option<i32>,
    pub readable_all: bool,
    pub writable_all: bool,
    /// `data` (TLS session ticket keys shared between workers).
    pub data: Value,
}

impl ServerQuery {
    /// Reads a `queryServer` (or `listening`) message.
    pub(crate) fn parse(body: &Map<String, Value>) -> ServerQuery {
        let int = |k: &str| body.get(k).and_then(Value::as_f64).map(|f| f as i64);
        let port = int("port");
        // Node 22+ files servers on a fixed port under one key for all
        // workers (`index` only for port 0: each listen(0) is its own
        // server); Node 20 added `index` always. The key is ours to choose
        // (the worker only echoes it), so one rule serves every version.
        let mut key = ["address", "port", "addressType", "fd"]
            .map(|k| js_string(body.get(k)))
            .join(":");
        if port == Some(0) {
            key.push(':');
            key.push_str(&js_string(body.get("index")));
        }
        ServerQuery {
            key,
            address: body
                .get("address")
                .and_then(Value::as_str)
                .map(str::to_owned),
            port,
            address_type: body.get("addressType").and_then(address_type),
            fd: int("fd").filter(|fd| *fd >= 0),
            flags: int("flags").unwrap_or(0) as u32,
            backlog: int("backlog").filter(|b| *b > 0).map(|b| b as i32),
            readable_all: body.get("readableAll") == Some(&Value::Bool(true)),
            writable_all: body.get("writableAll") == Some(&Value::Bool(true)),
            data: body.get("data").cloned().unwrap_or(Value::Null),
        }
    }

    /// The `'listening'` event's view of it.
    pub(crate) fn info(&self) -> ListenInfo {
        ListenInfo {
            address_type: self.address_type,
            address: self.address.clone(),
            port: self.port,
            fd: self.fd,
        }
    }

    /// Whether it is a `dgram` socket.
    pub(crate) fn is_udp(&self) -> bool {
        matches!(
            self.address_type,
            Some(AddressType::Udp4 | AddressType::Udp6)
        )
    }
}

/// Node's `addressType` values: 4, 6, -1 (a pipe), 'udp4', 'udp6'.
fn address_type(v: &Value) -> Option<AddressType> {
    match v {
        Value::String(s) if s == "udp4" => Some(AddressType::Udp4),
        Value::String(s) if s == "udp6" => Some(AddressType::Udp6),
        Value::Number(n) => match n.as_f64()? {
            4.0 => Some(AddressType::Ipv4),
            6.0 => Some(AddressType::Ipv6),
            -1.0 => Some(AddressType::Unix),
            _ => None,
        },
        _ => None,
    }
}

/// What a JS template string makes of a message field: `undefined` when
/// absent, `null`, numbers as JS prints them, strings as they are.
fn js_string(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

/// The answer to a `queryServer`: `{ errno, key, ack, data, ...reply }`.
pub(crate) fn query_reply(
    query: &ServerQuery,
    ack: u64,
    errno: Option<i32>,
    data: &Value,
) -> Value {
    json!({ "errno": errno, "key": query.key, "ack": ack, "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(v: Value) -> InternalMessage {
        InternalMessage(v)
    }

    #[test]
    fn wrap_puts_cmd_first_and_counts_seq() {
        let mut seq = Seq::default();
        let (s0, m0) = seq.wrap(json!({ "act": "newconn", "key": "k" }));
        let (s1, _) = seq.wrap(json!({ "ack": 7 }));
        assert_eq!((s0, s1), (0, 1));
        assert_eq!(
            m0.to_string(),
            r#"{"cmd":"NODE_CLUSTER","act":"newconn","key":"k","seq":0}"#
        );
    }

    #[test]
    fn parse_takes_cluster_messages_only() {
        let m = Incoming::parse(internal(
            json!({ "cmd": "NODE_CLUSTER", "ack": 3, "accepted": true, "seq": 9 }),
        ))
        .unwrap();
        assert_eq!((m.act, m.seq, m.ack), (None, Some(9), Some(3)));
        assert!(Incoming::parse(internal(json!({ "cmd": "NODE_HANDLE_ACK" }))).is_none());
    }

    #[test]
    fn key_is_nodes_with_index_only_for_port_zero() {
        // What Node 24's net.listen(8000) sends (fd undefined: absent in json).
        let q = ServerQuery::parse(
            json!({ "cmd": "NODE_CLUSTER", "act": "queryServer", "index": 0, "data": null,
                    "address": null, "port": 8000, "addressType": 4, "flags": null, "backlog": 511 })
            .as_object()
            .unwrap(),
        );
        assert_eq!(q.key, "null:8000:4:undefined");
        assert_eq!(
            (q.port, q.address_type, q.backlog),
            (Some(8000), Some(AddressType::Ipv4), Some(511))
        );
        let q = ServerQuery::parse(
            json!({ "address": "::", "port": 0, "addressType": "udp6", "fd": -1, "index": 2 })
                .as_object()
                .unwrap(),
        );
        assert_eq!(q.key, ":::0:udp6:-1:2");
        assert!(q.is_udp() && q.fd.is_none());
    }
}
