//! The workspace's unpublished crate, for what must not weigh on the
//! library's build (its examples are the first thing a new user builds):
//!
//! - `benches/codec.rs`: the codec micro-benchmarks (criterion; simd-json
//!   against serde_json, `docs/parser-choice.md`),
//!   `cargo bench -p nodeipc-bench --bench codec`;
//! - the README's Rust examples, compiled as doctests
//!   (`cargo test -p nodeipc-bench --doc`), so the front page cannot drift
//!   from the API. They live here rather than in `nodeipc` because the
//!   README is outside that crate's directory, and so outside its
//!   published package.

#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct Readme;
