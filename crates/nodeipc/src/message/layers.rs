//! The `NODE_HANDLE` wrappers around a `json` message, taken off in two
//! passes over the line whatever their number.
//!
//! Node parses the line once (`JSON.parse`) and then unwraps one layer per
//! `'internalMessage'` event, a property access each: any depth, linear in
//! the line. Taking each layer's `msg` out as text and parsing that again
//! cost layers × size instead (120 layers around 95 MiB: 25.9 s of CPU
//! against 0.63 s for one). Here the first pass counts the layers and reads
//! the innermost `type`, skipping everything else; the second finds the
//! innermost `msg` and borrows its text from the line, which is then parsed
//! once as the message. Both passes nest one level per layer, so serde_json's
//! recursion limit caps the layers at 127 (Node's own senders wrap
//! at most twice, docs/protocol.md §4.4); a deeper line is an
//! [`Error::Decode`](crate::Error::Decode).

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The `visit_*` methods of a visitor whose value is `None` for anything
/// but an object (an array is skipped).
macro_rules! none_but_for_objects {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

/// A line with its `NODE_HANDLE` wrappers taken off.
#[derive(Debug)]
pub(crate) struct Unwrapped<'a> {
    /// How many wrappers there were (0: the line is not a `NODE_HANDLE`).
    pub(crate) layers: usize,
    /// The innermost wrapper's `type` (empty if it is not a string).
    pub(crate) name: String,
    /// The text of the innermost `msg` (`null` if it has none); the whole
    /// line when there is no wrapper.
    pub(crate) msg: Cow<'a, [u8]>,
}

/// Takes the `NODE_HANDLE` wrappers off `line`. Duplicate keys count as
/// `JSON.parse` counts them: the last one. `repaired` is `line` made
/// parseable as [`Frame::parse`](crate::codec::json::Frame::parse) makes it (invalid
/// UTF-8, lone surrogates), tried when `line` itself fails.
pub(crate) fn unwrap<'a>(
    line: &'a [u8],
    repaired: impl FnOnce() -> Option<String>,
) -> serde_json::Result<Unwrapped<'a>> {
    match unwrap_text(line) {
        Ok((layers, name, msg)) => Ok(Unwrapped {
            layers,
            name,
            msg: Cow::Borrowed(msg),
        }),
        Err(first) => {
            let Some(text) = repaired() else {
                return Err(first);
            };
            let (layers, name, msg) = unwrap_text(text.as_bytes())?;
            Ok(Unwrapped {
                layers,
                name,
                msg: Cow::Owned(msg.to_vec()),
            })
        }
    }
}

/// Both passes over one text.
fn unwrap_text(text: &[u8]) -> serde_json::Result<(usize, String, &[u8])> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let top = Probe.deserialize(&mut de)?;
    de.end()?;
    let (mut layers, mut name, mut level) = (0, String::new(), top);
    while let Some(Level {
        handle: true,
        ty,
        msg,
    }) = level
    {
        layers += 1;
        name = ty.unwrap_or_default();
        level = msg.map(|m| *m);
    }
    if layers == 0 {
        return Ok((0, name, text));
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let msg = Dig(layers).deserialize(&mut de)?;
    Ok((layers, name, msg.map_or(b"null", |m| m.get().as_bytes())))
}

/// What the first pass keeps of an object: whether it is a `NODE_HANDLE`
/// wrapper, its `type`, and the same of its `msg` if that is an object.
#[derive(Debug)]
struct Level {
    handle: bool,
    ty: Option<String>,
    msg: Option<Box<Level>>,
}

/// The first pass: an object's [`Level`], `None` for any other value.
struct Probe;

impl<'de> DeserializeSeed<'de> for Probe {
    type Value = Option<Level>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Option<Level>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut level = Level {
            handle: false,
            ty: None,
            msg: None,
        };
        // `msg` is looked into even after a `cmd` that is not NODE_HANDLE:
        // a later `cmd` can still make this object a wrapper.
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match &*key {
                "cmd" => {
                    level.handle = map.next_value::<Str>()?.0.as_deref() == Some("NODE_HANDLE");
                }
                "type" => level.ty = map.next_value::<Str>()?.0,
                "msg" => level.msg = map.next_value_seed(Probe)?.map(Box::new),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(level))
    }

    none_but_for_objects!();
}

/// A string, or `None` for any other value.
struct Str(Option<String>);

impl<'de> serde::Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Str, E> {
                Ok(Str(Some(s.to_owned())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Str, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Str, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Str(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Str, E> {
                Ok(Str(None))
            }
            fn visit_unit<E>(self) -> Result<Str, E> {
                Ok(Str(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The second pass: the text of the `msg` this many `msg`s down (the last
/// of duplicates at each level), borrowed from the line.
struct Dig(usize);

impl<'de> DeserializeSeed<'de> for Dig {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Dig {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut msg = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != "msg" {
                map.next_value::<IgnoredAny>()?;
            } else if self.0 <= 1 {
                msg = Some(map.next_value::<&'de RawValue>()?);
            } else {
                msg = map.next_value_seed(Dig(self.0 - 1))?;
            }
        }
        Ok(msg)
    }

    // Only a duplicate `msg` that is not the last can be something else
    // than an object here; it is skipped.
    none_but_for_objects!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unwrapped(line: &str) -> (usize, String, String) {
        let u = unwrap(line.as_bytes(), || None).unwrap();
        (
            u.layers,
            u.name,
            String::from_utf8(u.msg.into_owned()).unwrap(),
        )
    }

    #[test]
    fn every_layer_comes_off_and_the_innermost_text_is_kept_exactly() {
        let mut line = r#"{"x": 1.0, "s": "\u00e9"}"#.to_string();
        for i in 0..100 {
            line = format!(r#"{{"cmd":"NODE_HANDLE","type":"t{i}","msg":{line}}}"#);
        }
        assert_eq!(
            unwrapped(&line),
            (100, "t0".into(), r#"{"x": 1.0, "s": "\u00e9"}"#.into())
        );
    }

    #[test]
    fn keys_in_any_order_and_the_last_of_duplicates() {
        assert_eq!(
            unwrapped(r#"{"msg":{"msg":2,"cmd":"NODE_HANDLE"},"type":"a","cmd":"NODE_HANDLE"}"#),
            (2, String::new(), "2".into())
        );
        assert_eq!(
            unwrapped(r#"{"cmd":"NODE_HANDLE","msg":1,"msg":[3],"type":"a","type":5}"#),
            (1, String::new(), "[3]".into())
        );
        // A later cmd undoes the wrapper: the line is the message.
        let line = r#"{"cmd":"NODE_HANDLE","msg":1,"cmd":"NODE_X"}"#;
        assert_eq!(unwrapped(line), (0, String::new(), line.into()));
        // A later cmd makes it a wrapper again, and its msg is looked into.
        assert_eq!(
            unwrapped(
                r#"{"cmd":"NODE_X","msg":{"cmd":"NODE_HANDLE","msg":7},"cmd":"NODE_HANDLE"}"#
            ),
            (2, String::new(), "7".into())
        );
        // A wrapper whose msg is a non-wrapper object ends there.
        assert_eq!(
            unwrapped(r#"{"cmd":"NODE_HANDLE","msg":{"cmd":"NODE_X","msg":{}}}"#),
            (1, String::new(), r#"{"cmd":"NODE_X","msg":{}}"#.into())
        );
        assert_eq!(
            unwrapped(r#"{"cmd":"NODE_HANDLE","type":"net.Server"}"#),
            (1, "net.Server".into(), "null".into())
        );
    }

    #[test]
    fn serde_json_s_recursion_limit_caps_the_layers() {
        let deep = |n: usize| r#"{"cmd":"NODE_HANDLE","msg":"#.repeat(n) + "1" + &"}".repeat(n);
        assert_eq!(unwrapped(&deep(127)).0, 127);
        let err = unwrap(deep(128).as_bytes(), || None).unwrap_err();
        assert!(err.to_string().contains("recursion limit"), "{err}");
        assert!(unwrap(deep(100_000).as_bytes(), || None).is_err());
    }

    #[test]
    fn a_line_that_needs_repair_is_unwrapped_from_the_repaired_text() {
        let line = b"{\"cmd\":\"NODE_HANDLE\",\"msg\":\"a\xffb\"}";
        let u = unwrap(line, || Some(String::from_utf8_lossy(line).into_owned())).unwrap();
        assert_eq!(u.layers, 1);
        assert_eq!(&*u.msg, "\"a\u{fffd}b\"".as_bytes());
    }
}
