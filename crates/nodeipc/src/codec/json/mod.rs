//! The `json` serialization: `JSON.stringify(message)` as UTF-8, then `\n`
//! (PROTOCOL.md §2).
//!
//! Parsing uses `serde_json` straight from the read buffer. `simd-json` was
//! measured against it on our workloads and lost on small messages, which is
//! where IPC time goes; see `docs/parser-choice.md` and the `codec` bench.

mod decode;
mod encode;

pub use decode::{Frame, JsonDecoder, READ_CHUNK};
pub use encode::{SendBuf, encode};
