//! The workspace's benchmarks that need more than the library does:
//! `benches/codec.rs` (criterion; simd-json against serde_json, see
//! `docs/parser-choice.md`). Not published; it exists so that criterion
//! and simd-json are not dev-dependencies of `nodeipc`, whose examples a
//! new user builds first.
//!
//! ```sh
//! cargo bench -p nodeipc-bench --bench codec
//! ```
