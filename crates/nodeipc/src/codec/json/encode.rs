//! Encoder for `json` mode: what `JSON.stringify(msg) + '\n'` writes.

use serde::Serialize;

use super::ser;
use crate::error::{Error, Result};

/// Appends `msg` as one `json` message (its JSON text and `\n`) to `out`.
///
/// The bytes are those `JSON.stringify` writes for the same JS value:
/// no whitespace; `"`, `\` and C0 controls escaped (`\u00XX` lower-case);
/// DEL, U+2028, U+2029 and all other text raw UTF-8; numbers as JS prints
/// them (`1` not `1.0`, `1e+21`, `-0` as `0`, NaN and ±Infinity as
/// `null`). Integers beyond ±2^53 are written as the double a JS peer would
/// hold (`2^53 + 1` → `9007199254740992`): send such ids as strings if they
/// must stay exact. `f32` values are widened to the JS double they are.
/// Rust values map to JSON as with `serde_json` (enums externally tagged,
/// `serde_json::value::RawValue` written as is, integer, `bool` and `char`
/// map keys written as strings).
///
/// On error nothing is appended.
///
/// ```
/// let mut out = Vec::new();
/// nodeipc::codec::json::encode(&(1.0, -0.0, 1e21, f64::NAN, "\u{2028}"), &mut out).unwrap();
/// assert_eq!(out, "[1,0,1e+21,null,\"\u{2028}\"]\n".as_bytes());
/// ```
pub fn encode<T: Serialize + ?Sized>(msg: &T, out: &mut Vec<u8>) -> Result<()> {
    let len = out.len();
    if let Err(e) = ser::write(msg, out) {
        out.truncate(len);
        return Err(Error::Encode(e));
    }
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text<T: Serialize + ?Sized>(v: &T) -> String {
        let mut out = Vec::new();
        encode(v, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_like_json_stringify() {
        // docs/protocol.md §2.2
        assert_eq!(text("café"), "\"café\"\n");
        assert_eq!(text("\u{2028}\u{2029}"), "\"\u{2028}\u{2029}\"\n");
        assert_eq!(text("\u{1F600}"), "\"\u{1F600}\"\n");
        assert_eq!(text("a\nb\t\u{1}\u{7f}/"), "\"a\\nb\\t\\u0001\u{7f}/\"\n");
        assert_eq!(text("\u{8}\u{c}\r\"\\"), "\"\\b\\f\\r\\\"\\\\\"\n");
    }

    #[test]
    fn numbers_are_written_as_js_writes_them() {
        assert_eq!(text(&-0.0), "0\n");
        assert_eq!(text(&f64::NAN), "null\n");
        assert_eq!(text(&f64::NEG_INFINITY), "null\n");
        assert_eq!(text(&42.0), "42\n");
        assert_eq!(text(&1.5e-7), "1.5e-7\n");
        assert_eq!(text(&123e20), "1.23e+22\n");
        assert_eq!(text(&(1u64 << 53)), "9007199254740992\n");
        assert_eq!(text(&((1u64 << 53) + 1)), "9007199254740992\n");
        assert_eq!(text(&u64::MAX), "18446744073709552000\n");
        assert_eq!(text(&i64::MIN), "-9223372036854776000\n");
        assert_eq!(text(&u128::MAX), "3.402823669209385e+38\n");
        assert_eq!(text(&0.1f32), "0.10000000149011612\n");
    }

    #[test]
    fn objects_keep_insertion_order_without_whitespace() {
        let v: serde_json::Value = serde_json::from_str(r#"{"b":1, "a": [true,null]}"#).unwrap();
        assert_eq!(text(&v), "{\"b\":1,\"a\":[true,null]}\n");
        assert_eq!(text(&json!({})), "{}\n");
    }

    #[test]
    fn failed_encode_appends_nothing() {
        let mut out = b"x".to_vec();
        let bad: std::collections::HashMap<Vec<u8>, i32> = [(vec![1], 1)].into();
        assert!(matches!(encode(&bad, &mut out), Err(Error::Encode(_))));
        assert_eq!(out, b"x");
    }
}
