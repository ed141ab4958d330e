//! The reader and writer against Node's own bytes (docs/protocol.md §3.4) and
//! against the forms and errors §3 and §6 list.

use std::sync::Arc;

use super::*;
use crate::error::DecodeError;
use crate::value::{ArrayBufferView, JsArray, JsString, Primitive, ViewKind};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frame(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out).unwrap();
    out
}

fn read(payload: &[u8]) -> Result<Value> {
    decode_payload(payload, &Limits::default())
}

fn read_err(payload: &[u8]) -> DecodeError {
    match read(payload) {
        Err(Error::Decode { kind, .. }) => kind,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// Frames `process.send(...)` wrote on Node 20 (adv_frames.json), with how
/// the decoded value prints.
const NODE_FRAMES: &[(&str, &str)] = &[
    (
        "00000010ff0f6f22016149022201622201787b02",
        "{ a: 1, b: 'x' }",
    ),
    ("00000009ff0f220568e96c6c6f", "'héllo'"),
    ("0000000eff0f630a6800ac206c006c006f00", "'h€llo'"),
    ("00000008ff0f63043dd800de", "'\u{1F600}'"),
    (
        "0000000fff0f41034902220374776f54240003",
        "[ 1, 'two', true ]",
    ),
    (
        "0000001cff0f6f22056f757465726f2205696e6e65724101302400017b017b01",
        "{ outer: { inner: [ null ] } }",
    ),
    ("00000009ff0f5c000a03010203", "<Buffer 01 02 03>"),
    ("0000000bff0f5c000a05776f726c64", "<Buffer 77 6f 72 6c 64>"),
    ("00000009ff0f5c000103010203", "Uint8Array(3) [ 1, 2, 3 ]"),
    ("0000000aff0f5c000304ffff0200", "Int16Array(2) [ -1, 2 ]"),
    (
        "0000000eff0f5c000808000000000000e03f",
        "Float64Array(1) [ 0.5 ]",
    ),
    (
        "00000008ff0f5c0009020000",
        "DataView { byteLength: 2, byteOffset: 0, buffer: ArrayBuffer { [Uint8Contents]: <00 00>, byteLength: 2 } }",
    ),
    (
        "00000005ff0f420107",
        "ArrayBuffer { [Uint8Contents]: <07>, byteLength: 1 }",
    ),
    ("0000000aff0f3b22016b49023a02", "Map(1) { 'k' => 1 }"),
    ("0000000aff0f2749022201612c02", "Set(2) { 1, 'a' }"),
    ("0000000bff0f440000000000000000", "1970-01-01T00:00:00.000Z"),
    ("00000011ff0f41015a107b00000000000000240001", "[ 123n ]"),
    (
        "00000019ff0f41015a2100000000000000000100000000000000240001",
        "[ -18446744073709551616n ]",
    ),
    ("00000009ff0f41015a00240001", "[ 0n ]"),
    ("00000008ff0f41015f240001", "[ undefined ]"),
    ("00000003ff0f30", "null"),
    ("00000003ff0f54", "true"),
    ("0000000fff0f4102490263046100ac20240002", "[ 1, 'a€' ]"),
    ("0000000bff0f4e000000000000f87f", "NaN"),
    ("0000000bff0f4e0000000000000080", "-0"),
    ("0000000bff0f4e000000000000f83f", "1.5"),
    ("00000004ff0f4901", "-1"),
    ("0000000bff0f4e000000000000e041", "2147483648"),
    (
        "0000000fff0f61054900490249044906400205",
        "[ 1, <1 empty item>, 3, <2 empty items> ]",
    ),
    ("0000000aff0f52220461622b6303", "/ab+c/gi"),
    (
        "00000028ff0f72526d2204626f6f6d73221952616e67654572726f723a20626f6f6d0a20202020617420782e",
        "RangeError: boom\n    at x",
    ),
    (
        "00000015ff0f6f2201786f22016b49027b012201795e017b02",
        "{ x: { k: 1 }, y: { k: 1 } }",
    ),
    (
        "00000016ff0f6f22046e616d65220163220473656c665e007b02",
        "<ref *1> { name: 'c', self: [Circular *1] }",
    ),
    (
        "00000010ff0f6f49022201612201622201637b02",
        "{ '1': 'a', b: 'c' }",
    ),
    ("00000010ff0f4102490249042201704906240102", "[ 1, 2, p: 3 ]"),
    (
        "00000015ff0f4103732201736e000000000000004078240003",
        "[ [String: 's'], [Number: 2], [Boolean: false] ]",
    ),
    (
        "0000001bff0f6f2203636d64220f4e4f44455f48414e444c455f41434b7b01",
        "{ cmd: 'NODE_HANDLE_ACK' }",
    ),
    ("0000000fff0f4102220178006302ac20240002", "[ 'x', '€' ]"),
    (
        "00000012ff0f6f2201615c000a01092201625e017b02",
        "{ a: <Buffer 09>, b: <Buffer 09> }",
    ),
    // Node 22+'s Error field order: stack, then cause.
    ("0000000fff0f726d220165732201536349022e", "S { [cause]: 1 }"),
    ("0000000aff0f6f22017149027b01", "{ q: 1 }"),
];

#[test]
fn node_frames_decode_and_encode_to_the_same_bytes() {
    for (wire, shown) in NODE_FRAMES {
        let bytes = hex(wire);
        let v = read(&bytes[4..]).unwrap_or_else(|e| panic!("{wire}: {e}"));
        assert_eq!(format!("{v:?}"), *shown, "{wire}");
        assert_eq!(frame(&v), bytes, "{shown}");
    }
}

#[test]
fn errors_read_in_either_field_order_and_may_be_their_own_cause() {
    // Node 20 (V8 11) writes the cause before the stack; we write Node
    // 22+'s order, which Node 20 reads too.
    let old = read(&hex("ff0f726d220165634902732201532e")).unwrap();
    assert_eq!(format!("{old:?}"), "S { [cause]: 1 }");
    assert_eq!(frame(&old), hex("0000000fff0f726d220165732201536349022e"));
    // `e.cause = e` as Node 22+ and Node 20 write it.
    for wire in [
        "ff0f726d22017873220153635e002e",
        "ff0f726d220178635e00732201532e",
    ] {
        let v = read(&hex(wire)).unwrap_or_else(|e| panic!("{wire}: {e}"));
        let Value::Error(e) = &v else { panic!("{v:?}") };
        assert_eq!(e.cause, Some(Value::Circular(0)));
        assert_eq!(frame(&v)[4..], hex("ff0f726d22017873220153635e002e"));
    }
    // A cause that refers back to the Error from inside an object.
    let v = read(&hex("ff0f726d22017873220153636f2201655e007b012e")).unwrap();
    assert_eq!(
        frame(&v)[4..],
        hex("ff0f726d22017873220153636f2201655e007b012e")
    );
    // Before its cause begins, an Error is not referable (V8 creates it
    // there): a back-reference from its message is refused.
    assert!(matches!(
        read_err(&hex("ff0f726d5e002e")),
        DecodeError::UnexpectedTag { .. } | DecodeError::BadReference { .. }
    ));
}

#[test]
fn repeated_objects_decode_as_one_shared_object() {
    let v = read(&hex("ff0f6f2201786f22016b49027b012201795e017b02")).unwrap();
    let (Some(Value::Object(x)), Some(Value::Object(y))) = (v.get("x"), v.get("y")) else {
        panic!("{v:?}")
    };
    assert!(Arc::ptr_eq(x, y));
}

#[test]
fn other_host_objects_decode_as_their_plain_copy() {
    // MessagePort: `\ 01` then `{...port}`; the host id and the copy's id
    // both name the copy.
    let v = read(&hex("ff0f 41 02 5c 01 6f 7b 00 5e 01 24 00 02")).unwrap();
    assert_eq!(format!("{v:?}"), "[ {}, {} ]");
    let v = read(&hex("ff0f 41 02 5c 01 6f 7b 00 5e 02 24 00 02")).unwrap();
    assert_eq!(format!("{v:?}"), "[ {}, {} ]");
    // Node refuses a host object that is not an object.
    assert!(matches!(
        read_err(&hex("ff0f 5c 01 49 02")),
        DecodeError::InvalidValue { at: 4, .. }
    ));
}

#[test]
fn versions_13_to_15_are_read_and_others_refused() {
    for v in [0x0d, 0x0e, 0x0f] {
        assert_eq!(read(&[0xff, v, b'T']).unwrap(), Value::Bool(true));
    }
    for bad in [&[0xff, 0x0c, b'T'][..], &[0xff, 0x10, b'T'], b"T", &[]] {
        assert!(
            matches!(read_err(bad), DecodeError::UnsupportedVersion { .. }),
            "{bad:?}"
        );
    }
}

#[test]
fn forms_node_reads_but_never_writes_are_read() {
    // U, S, ? before a value, padding before any tag, ASCII in `c`,
    // non-canonical varints, trailing bytes.
    let v = read(&hex(
        "ff0f 00 41 03 55 07 53 03 e282ac 3f 05 00 00 63 02 6100 24 00 03 ffff",
    ))
    .unwrap();
    assert_eq!(format!("{v:?}"), "[ 7, '€', 'a' ]");
    assert_eq!(read(&hex("ff0f 49 82 80 00")).unwrap(), Value::from(1));
    // The hole in a dense array (V8 writes it when an array loses an
    // element while being serialized).
    let v = read(&hex("ff0f 41 03 49 02 2d 49 06 24 00 03")).unwrap();
    assert_eq!(format!("{v:?}"), "[ 1, <1 empty item>, 3 ]");
    // Invalid UTF-8 in `S` is replaced, as V8 does.
    assert_eq!(
        read(&hex("ff0f 53 02 ff41")).unwrap(),
        Value::from("\u{fffd}A")
    );
}

#[test]
fn v8_views_after_an_array_buffer_are_read() {
    // B + V (Node reads this form; observed in docs/protocol.md §3.1).
    let v = read(&hex("ff0f 42 02 01 02 56 42 00 02 00")).unwrap();
    assert_eq!(format!("{v:?}"), "Uint8Array(2) [ 1, 2 ]");
    // A view through a reference to its buffer, and the buffer's own id.
    let v = read(&hex(
        "ff0f 41 03 42 04 01 02 03 04 5e 01 56 77 02 02 00 5e 01 24 00 03",
    ))
    .unwrap();
    assert_eq!(
        format!("{v:?}"),
        "[ ArrayBuffer { [Uint8Contents]: <01 02 03 04>, byteLength: 4 }, Int16Array(1) [ 1027 ], ArrayBuffer { [Uint8Contents]: <01 02 03 04>, byteLength: 4 } ]"
    );
    // Version 13 has no flags; a version-13 writer that did write them is
    // read on the retry V8 also makes.
    let v13 = read(&hex("ff0d 41 02 42 02 01 02 56 3f 00 02 49 02 24 00 02")).unwrap();
    assert_eq!(format!("{v13:?}").matches("DataView").count(), 1);
    let v13_flags = read(&hex("ff0d 7e 02 04 0102 56 42 00 02 02")).unwrap();
    assert_eq!(format!("{v13_flags:?}"), "Uint8Array(2) [ 1, 2 ]");
    assert!(matches!(
        read_err(&hex("ff0f 42 02 01 02 56 42 01 02 00")),
        DecodeError::InvalidValue { .. }
    ));
    assert!(matches!(
        read_err(&hex("ff0f 42 03 010203 56 77 01 02 00")),
        DecodeError::InvalidValue { .. }
    ));
}

#[test]
fn received_forms_are_written_back_as_node_wrote_them() {
    // An integer held as a double, an ASCII string held two-byte, a holey
    // array without holes, a NaN payload, a resizable ArrayBuffer.
    for wire in [
        "ff0f 41 02 4e 000000000000f83f 4e 0000000000000040 24 00 02",
        "ff0f 63 06 6100 6200 6300",
        "ff0f 61 03 49 00 49 00 49 02 49 00 49 04 49 00 40 03 03",
        "ff0f 4e 01000000 0000f07f",
        "ff0f 7e 02 08 0000",
        "ff0f 73 00 63 02 ac20",
        "ff0f 7a 10 0500000000000000",
        "ff0f 52 22 01 61 bf 01",
    ] {
        let bytes = hex(wire);
        let mut out = Vec::new();
        encode_payload(&read(&bytes).unwrap(), &mut out).unwrap();
        assert_eq!(out, bytes, "{wire}");
    }
}

#[test]
fn object_keys_follow_js_rules() {
    // `{3000000000: 1, 4294967295: 2, b: 3}`: indices ascending first,
    // written as numbers (double past int32), other keys as strings.
    let wire = hex(
        "ff0f 6f 4e 000000c00b5ae641 49 02 22 0a 34323934393637323935 49 04 22 01 62 49 06 7b 03",
    );
    let v = read(&wire).unwrap();
    assert_eq!(
        format!("{v:?}"),
        "{ '3000000000': 1, '4294967295': 2, b: 3 }"
    );
    let mut out = Vec::new();
    encode_payload(&v, &mut out).unwrap();
    assert_eq!(out, wire);
    // Keys as strings or out of order are normalized as V8 would.
    let v = read(&hex(
        "ff0f 6f 22 01 62 49 02 22 01 31 49 04 4e 000000000000f83f 30 7b 03",
    ))
    .unwrap();
    assert_eq!(format!("{v:?}"), "{ '1': 2, b: 1, '1.5': null }");
}

#[test]
fn malformed_input_gives_positioned_errors() {
    type Check = fn(&DecodeError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("ff0f 01", |e| {
            matches!(e, DecodeError::UnexpectedTag { at: 2, tag: 1 })
        }),
        ("ff0f 49 ff ff ff ff 7f", |e| {
            matches!(e, DecodeError::BadVarint { at: 3 })
        }),
        ("ff0f 49 80 80 80 80 80 01", |e| {
            matches!(e, DecodeError::BadVarint { .. })
        }),
        ("ff0f 22 05 61", |e| {
            matches!(e, DecodeError::UnexpectedEnd { .. })
        }),
        ("ff0f 22 ffffffff0f", |e| {
            matches!(e, DecodeError::UnexpectedEnd { .. })
        }),
        ("ff0f 41 ffffffff0f", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 5e 00", |e| {
            matches!(e, DecodeError::BadReference { at: 2, id: 0 })
        }),
        ("ff0f 6f 7b 01", |e| {
            matches!(
                e,
                DecodeError::CountMismatch {
                    expected: 1,
                    found: 0,
                    ..
                }
            )
        }),
        ("ff0f 41 01 30 24 00 02", |e| {
            matches!(e, DecodeError::CountMismatch { .. })
        }),
        ("ff0f 3b 30 3a 01", |e| {
            matches!(e, DecodeError::UnexpectedTag { .. })
        }),
        ("ff0f 3b 30 30 3a 01", |e| {
            matches!(
                e,
                DecodeError::CountMismatch {
                    expected: 1,
                    found: 2,
                    ..
                }
            )
        }),
        ("ff0f 6f 22 01 61 30 22 01 61 30 7b 02", |e| {
            matches!(e, DecodeError::DuplicateKey { at: 7 })
        }),
        ("ff0f 41 01 30 49 00 30 24 01 01", |e| {
            matches!(e, DecodeError::DuplicateKey { .. })
        }),
        ("ff0f 61 00 22 06 6c656e677468 30 40 01 00", |e| {
            matches!(e, DecodeError::DuplicateKey { .. })
        }),
        ("ff0f 6f 6f 7b 00 30 7b 01", |e| {
            matches!(e, DecodeError::UnexpectedTag { tag: b'o', .. })
        }),
        ("ff0f 63 03 616263", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 52 22 01 61 40", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 52 22 01 61 90 02", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 5c 00 0e 00", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 2d", |e| {
            matches!(e, DecodeError::UnexpectedTag { tag: b'-', .. })
        }),
        ("ff0f 56 42 00 00", |e| {
            matches!(e, DecodeError::UnexpectedTag { tag: b'V', .. })
        }),
        ("ff0f 72 63 5e 01 2e", |e| {
            matches!(e, DecodeError::BadReference { id: 1, .. })
        }),
        ("ff0f 72 78 2e", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 7e 03 02 000000", |e| {
            matches!(e, DecodeError::InvalidValue { .. })
        }),
        ("ff0f 75 00", |e| {
            matches!(e, DecodeError::UnexpectedTag { tag: b'u', .. })
        }),
        ("ff0f 6f", |e| {
            matches!(e, DecodeError::UnexpectedEnd { at: 3 })
        }),
    ];
    for (wire, ok) in cases {
        let e = read_err(&hex(wire));
        assert!(ok(&e), "{wire}: {e:?}");
    }
}

#[test]
fn a_hundred_thousand_nested_arrays_are_too_deep_not_a_stack_overflow() {
    let n = 100_000;
    let mut wire = vec![0xff, 0x0f];
    wire.extend(std::iter::repeat_n([0x41, 0x01], n).flatten());
    wire.extend([0x41, 0x00, 0x24, 0x00, 0x00]);
    wire.extend(std::iter::repeat_n([0x24, 0x00, 0x01], n).flatten());
    let e = read_err(&wire);
    assert!(
        matches!(
            e,
            DecodeError::TooDeep {
                at: 2002,
                limit: 1000
            }
        ),
        "{e:?}"
    );
    // Within the limit, it is read.
    let limits = Limits::default().with_max_depth(n + 1);
    let v = decode_payload(&wire, &limits).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    encode_payload(&v, &mut out).unwrap();
    assert_eq!(out, wire);
}

#[test]
fn element_count_is_bounded() {
    let limits = Limits::default().with_max_elements(3);
    assert!(decode_payload(&hex("ff0f 41 02 30 30 24 00 02"), &limits).is_ok());
    let e = decode_payload(&hex("ff0f 41 03 30 30 30 24 00 03"), &limits).unwrap_err();
    assert!(matches!(
        e,
        Error::Decode {
            kind: DecodeError::TooManyElements { at: 6, limit: 3 },
            ..
        }
    ));
    // A huge sparse length costs nothing.
    let v = read(&hex("ff0f 61 feffffff0f 40 00 feffffff0f")).unwrap();
    assert_eq!(format!("{v:?}"), "[ <4294967294 empty items> ]");
}

#[test]
fn cycles_and_shared_objects_are_written_with_back_references() {
    let shared = Value::object([("k", 1)]);
    let v = Value::object([("x", shared.clone()), ("y", shared)]);
    assert_eq!(
        frame(&v),
        hex("00000015ff0f6f2201786f22016b49027b012201795e017b02")
    );
    let deep = Value::array([Value::object([("up", Value::Circular(1))])]);
    assert_eq!(
        frame(&deep),
        hex("00000010ff0f 41 01 6f 22 02 7570 5e 00 7b 01 24 00 01")
    );
    assert_eq!(read(&frame(&deep)[4..]).unwrap(), deep);
    let err = encode(&Value::array([Value::Circular(1)]), &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("Circular(1)"), "{err}");
}

#[test]
fn strings_choose_one_or_two_bytes_and_pad_as_v8() {
    let cases = [
        (Value::from("héllo"), "220568e96c6c6f"),
        (
            JsString::from_utf16(&[0x61, 0xd800]).into(),
            "63 04 6100 00d8",
        ),
        (Value::array(["x", "€"]), "4102220178006302ac20240002"),
        (
            Value::array([Value::from(1), "a€".into()]),
            "4102490263046100ac20240002",
        ),
        (Primitive::String("€".into()).into(), "73 00 6302ac20"),
    ];
    for (v, wire) in cases {
        let mut out = Vec::new();
        encode_payload(&v, &mut out).unwrap();
        assert_eq!(out[2..], hex(wire), "{v:?}");
    }
}

#[test]
fn typed_arrays_are_written_as_node_host_objects() {
    let mut a = JsArray::from(vec![Value::Null]);
    a.insert_property(
        "v",
        ArrayBufferView::new(ViewKind::BigUint64Array, vec![1; 8]).unwrap(),
    );
    let mut out = Vec::new();
    encode_payload(&a.into(), &mut out).unwrap();
    assert_eq!(
        out,
        hex("ff0f 41 01 30 22 01 76 5c 00 0c 08 0101010101010101 24 01 01")
    );
}
