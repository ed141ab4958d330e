//! The `json` serialization: `JSON.stringify(message)` as UTF-8, then `\n`
//! (docs/protocol.md §2).
//!
//! Parsing uses `serde_json` straight from the read buffer. `simd-json` was
//! measured against it on our workloads (tiny to 1 MiB messages) and was
//! 1.6–2.8× slower on every one, even without the copy it needs; see
//! `docs/parser-choice.md` and the `codec` bench.
//!
//! Encoding uses a serializer of our own (`ser.rs`): serde_json's data model
//! mapping, JS number formatting, and a string escaper that skips 32 bytes
//! at a time where serde_json's looks at every byte (5–6× faster on long
//! strings).

mod decode;
mod encode;
mod ser;

pub use super::buffer::READ_CHUNK;
pub(crate) use decode::Lines;
pub use decode::{Frame, JsonDecoder};
pub use encode::encode;
