//! Generators for the comparison with the oracle: every call of the serde
//! data model ([`Node`]), `serde_json::Value` trees, derived types of every
//! serde shape, and strings that exercise the escaper.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant};
use serde::ser::{SerializeTupleStruct, SerializeTupleVariant};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use super::super::scalar::MAX_SAFE;
use super::super::{NUMBER_TOKEN, RAW_VALUE_TOKEN};
// ---------------------------------------------------------------------------
// Every call of the serde data model
// ---------------------------------------------------------------------------

/// Names for structs, fields and variants, including serde_json's magic
/// tokens and names that need escaping.
pub(super) const NAMES: &[&str] = &[
    "a",
    "",
    "n\"q\\",
    "\u{1}\u{1f}\n",
    "\u{2028}é\u{1F600}",
    RAW_VALUE_TOKEN,
    NUMBER_TOKEN,
];

/// One serde data-model call, with its children. `len` fields are the
/// length hint given, which may be wrong on purpose.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Char(char),
    Str(String),
    Bytes(Vec<u8>),
    None,
    Some(Box<Node>),
    Unit,
    UnitStruct,
    UnitVariant(usize),
    NewtypeStruct(Box<Node>),
    NewtypeVariant(usize, Box<Node>),
    Seq(Option<usize>, Vec<Node>),
    Tuple(Vec<Node>),
    TupleStruct(usize, Vec<Node>),
    TupleVariant(usize, usize, Vec<Node>),
    Map(Option<usize>, Vec<(Node, Node)>),
    Struct(usize, usize, Vec<(usize, Node)>),
    StructVariant(usize, usize, Vec<(usize, Node)>),
    CollectStr(String),
    Raw(Box<RawValue>),
    Value(Value),
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Bool(v) => s.serialize_bool(*v),
            Node::I8(v) => s.serialize_i8(*v),
            Node::I16(v) => s.serialize_i16(*v),
            Node::I32(v) => s.serialize_i32(*v),
            Node::I64(v) => s.serialize_i64(*v),
            Node::I128(v) => s.serialize_i128(*v),
            Node::U8(v) => s.serialize_u8(*v),
            Node::U16(v) => s.serialize_u16(*v),
            Node::U32(v) => s.serialize_u32(*v),
            Node::U64(v) => s.serialize_u64(*v),
            Node::U128(v) => s.serialize_u128(*v),
            Node::F32(v) => s.serialize_f32(*v),
            Node::F64(v) => s.serialize_f64(*v),
            Node::Char(v) => s.serialize_char(*v),
            Node::Str(v) => s.serialize_str(v),
            Node::Bytes(v) => s.serialize_bytes(v),
            Node::None => s.serialize_none(),
            Node::Some(v) => s.serialize_some(v),
            Node::Unit => s.serialize_unit(),
            Node::UnitStruct => s.serialize_unit_struct("U"),
            Node::UnitVariant(n) => s.serialize_unit_variant("E", 0, NAMES[*n]),
            Node::NewtypeStruct(v) => s.serialize_newtype_struct("N", v),
            Node::NewtypeVariant(n, v) => s.serialize_newtype_variant("E", 1, NAMES[*n], v),
            Node::Seq(len, items) => {
                let mut c = s.serialize_seq(*len)?;
                items.iter().try_for_each(|v| c.serialize_element(v))?;
                c.end()
            }
            Node::Tuple(items) => {
                use serde::ser::SerializeTuple;
                let mut c = s.serialize_tuple(items.len())?;
                items.iter().try_for_each(|v| c.serialize_element(v))?;
                c.end()
            }
            Node::TupleStruct(len, items) => {
                let mut c = s.serialize_tuple_struct("T", *len)?;
                items.iter().try_for_each(|v| c.serialize_field(v))?;
                c.end()
            }
            Node::TupleVariant(n, len, items) => {
                let mut c = s.serialize_tuple_variant("E", 2, NAMES[*n], *len)?;
                items.iter().try_for_each(|v| c.serialize_field(v))?;
                c.end()
            }
            Node::Map(len, entries) => {
                let mut c = s.serialize_map(*len)?;
                entries
                    .iter()
                    .try_for_each(|(k, v)| c.serialize_entry(k, v))?;
                c.end()
            }
            Node::Struct(n, len, fields) => {
                let mut c = s.serialize_struct(NAMES[*n], *len)?;
                for (k, v) in fields {
                    c.serialize_field(NAMES[*k], v)?;
                }
                c.end()
            }
            Node::StructVariant(n, len, fields) => {
                let mut c = s.serialize_struct_variant("E", 3, NAMES[*n], *len)?;
                for (k, v) in fields {
                    c.serialize_field(NAMES[*k], v)?;
                }
                c.end()
            }
            Node::CollectStr(v) => s.collect_str(v),
            Node::Raw(v) => v.serialize(s),
            Node::Value(v) => v.serialize(s),
        }
    }
}

/// Characters that matter to the escaper, and some that do not.
fn arb_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        3 => prop::char::range('\0', '\u{7f}'),
        2 => prop::sample::select(vec![
            '"', '\\', '/', '\u{7f}', '\u{2028}', '\u{2029}', '\u{1F600}', 'é', '\u{ffff}',
            '\u{8}', '\u{c}', '\n', '\r', '\t', '\0', '\u{1f}',
        ]),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(arb_char(), 0..48).prop_map(String::from_iter),
        1 => arb_long_string(),
        1 => arb_dense_string(),
    ]
}

/// Strings where most characters need escaping (the escaper has a path for
/// blocks with many escapes).
fn arb_dense_string() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => prop::sample::select(vec!['"', '\\', '\n', '\u{1}', '\u{1f}', 'x', 'é']),
        1 => arb_char(),
    ];
    prop::collection::vec(c, 0..300).prop_map(String::from_iter)
}

/// 4–12 KiB of one filler, with characters inserted at random byte
/// positions and next to 32-byte block boundaries.
pub(super) fn arb_long_string() -> impl Strategy<Value = String> {
    let filler = prop::sample::select(vec!["x", "é", "ab", "\u{2028}", "\u{1F600}", "\u{7f}"]);
    let at = prop_oneof![
        any::<prop::sample::Index>().prop_map(Err),
        (
            0usize..400,
            prop::sample::select(vec![-1isize, 0, 1, 31, 32])
        )
            .prop_map(Ok),
    ];
    (
        4096usize..12288,
        filler,
        prop::collection::vec((at, arb_char()), 0..12),
    )
        .prop_map(|(len, filler, inserts)| {
            let mut s = filler.repeat(len / filler.len());
            for (at, c) in inserts {
                let mut pos = match at {
                    Err(i) => i.index(s.len() + 1),
                    Ok((block, d)) => (block as isize * 32 + d).clamp(0, s.len() as isize) as usize,
                };
                while !s.is_char_boundary(pos) {
                    pos -= 1;
                }
                s.insert(pos, c);
            }
            s
        })
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u64>().prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        (-(1i64 << 54)..(1i64 << 54)).prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        prop::sample::select(vec![0.0, -0.0, 1e21, 1e-7, 123456789.125, 5e-324, f64::MAX])
            .prop_map(|f| Number::from_f64(f).unwrap()),
    ]
}

pub(super) fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number().prop_map(Value::Number),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn arb_scalar() -> impl Strategy<Value = Node> {
    prop_oneof![
        any::<bool>().prop_map(Node::Bool),
        any::<i8>().prop_map(Node::I8),
        any::<i16>().prop_map(Node::I16),
        any::<i32>().prop_map(Node::I32),
        any::<i64>().prop_map(Node::I64),
        any::<i128>().prop_map(Node::I128),
        any::<u8>().prop_map(Node::U8),
        any::<u16>().prop_map(Node::U16),
        any::<u32>().prop_map(Node::U32),
        any::<u64>().prop_map(Node::U64),
        any::<u128>().prop_map(Node::U128),
        prop::sample::select(vec![0, 1, MAX_SAFE - 1, MAX_SAFE, MAX_SAFE + 1, u64::MAX])
            .prop_map(Node::U64),
        any::<f32>().prop_map(Node::F32),
        any::<f64>().prop_map(Node::F64),
        arb_char().prop_map(Node::Char),
        arb_string().prop_map(Node::Str),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Node::Bytes),
        Just(Node::None),
        Just(Node::Unit),
        Just(Node::UnitStruct),
        (0..NAMES.len()).prop_map(Node::UnitVariant),
        arb_string().prop_map(Node::CollectStr),
        arb_value().prop_map(|v| {
            let text = serde_json::to_string_pretty(&v).unwrap();
            Node::Raw(RawValue::from_string(text).unwrap())
        }),
        arb_value().prop_map(Node::Value),
    ]
}

pub(super) fn arb_node() -> impl Strategy<Value = Node> {
    let name = || 0..NAMES.len();
    // A wrong length hint now and then: serde_json's output for it is kept.
    let hint = |n: usize| prop_oneof![4 => Just(n), 1 => 0usize..3];
    arb_scalar().prop_recursive(4, 40, 5, move |inner| {
        let items = prop::collection::vec(inner.clone(), 0..5);
        let fields = prop::collection::vec((name(), inner.clone()), 0..5);
        prop_oneof![
            inner.clone().prop_map(|v| Node::Some(Box::new(v))),
            inner.clone().prop_map(|v| Node::NewtypeStruct(Box::new(v))),
            (name(), inner.clone()).prop_map(|(n, v)| Node::NewtypeVariant(n, Box::new(v))),
            (items.clone(), any::<bool>(), 0usize..3).prop_flat_map(move |(v, some, _)| {
                let len = v.len();
                (Just(v), hint(len)).prop_map(move |(v, h)| Node::Seq(some.then_some(h), v))
            }),
            items.clone().prop_map(Node::Tuple),
            items
                .clone()
                .prop_flat_map(move |v| (hint(v.len()), Just(v)))
                .prop_map(|(h, v)| Node::TupleStruct(h, v)),
            (
                name(),
                items.prop_flat_map(move |v| (hint(v.len()), Just(v)))
            )
                .prop_map(|(n, (h, v))| Node::TupleVariant(n, h, v)),
            (
                prop::collection::vec((inner.clone(), inner), 0..5),
                any::<bool>()
            )
                .prop_flat_map(move |(e, some)| {
                    let len = e.len();
                    (Just(e), hint(len)).prop_map(move |(e, h)| Node::Map(some.then_some(h), e))
                }),
            (
                name(),
                fields
                    .clone()
                    .prop_flat_map(move |f| (hint(f.len()), Just(f)))
            )
                .prop_map(|(n, (h, f))| Node::Struct(n, h, f)),
            (
                name(),
                fields.prop_flat_map(move |f| (hint(f.len()), Just(f)))
            )
                .prop_map(|(n, (h, f))| Node::StructVariant(n, h, f)),
        ]
    })
}

// ---------------------------------------------------------------------------
// Derived types
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
struct UnitS;

#[derive(Debug, Clone, Serialize)]
struct NewtypeS(String);

#[derive(Debug, Clone, Serialize)]
struct TupleS(u8, i128, NewtypeS);

#[derive(Debug, Clone, Serialize)]
enum Ext {
    Unit,
    Newtype(String),
    Tuple(i32, f64),
    EmptyTuple(),
    Struct { a: u64, b: Option<char> },
    EmptyStruct {},
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "t")]
enum Internal {
    A { x: f32 },
    B(BTreeMap<String, i64>),
    C,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    A(u128),
    B { s: String },
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum Untagged {
    A(Ext),
    B(Vec<Option<bool>>),
}

#[derive(Debug, Clone, Serialize)]
struct Skips {
    #[serde(skip_serializing_if = "Option::is_none")]
    a: Option<u8>,
    #[serde(skip_serializing_if = "String::is_empty")]
    b: String,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct Everything {
    unit: (),
    unit_s: UnitS,
    newtype: NewtypeS,
    tuple: TupleS,
    ext: Vec<Ext>,
    internal: Internal,
    adjacent: Adjacent,
    untagged: Untagged,
    skips: Skips,
    #[serde(flatten)]
    flat: BTreeMap<String, Value>,
    int_keys: BTreeMap<i64, ()>,
    big_keys: BTreeMap<u128, bool>,
    bool_keys: BTreeMap<bool, char>,
    char_keys: BTreeMap<char, Ext>,
    ext_keys: BTreeMap<String, Ext>,
    text: String,
}

fn arb_ext() -> impl Strategy<Value = Ext> {
    prop_oneof![
        Just(Ext::Unit),
        arb_string().prop_map(Ext::Newtype),
        (any::<i32>(), any::<f64>()).prop_map(|(a, b)| Ext::Tuple(a, b)),
        Just(Ext::EmptyTuple()),
        (any::<u64>(), any::<Option<char>>()).prop_map(|(a, b)| Ext::Struct { a, b }),
        Just(Ext::EmptyStruct {}),
    ]
}

pub(super) fn arb_everything() -> impl Strategy<Value = Everything> {
    let internal = prop_oneof![
        any::<f32>().prop_map(|x| Internal::A { x }),
        prop::collection::btree_map(arb_string(), any::<i64>(), 0..3).prop_map(Internal::B),
        Just(Internal::C),
    ];
    let adjacent = prop_oneof![
        any::<u128>().prop_map(Adjacent::A),
        arb_string().prop_map(|s| Adjacent::B { s }),
    ];
    let untagged = prop_oneof![
        arb_ext().prop_map(Untagged::A),
        any::<Vec<Option<bool>>>().prop_map(Untagged::B),
    ];
    let skips = (
        any::<Option<u8>>(),
        prop_oneof![Just(String::new()), arb_string()],
    )
        .prop_map(|(a, b)| Skips { a, b });
    let a = (
        (arb_string().prop_map(NewtypeS), any::<(u8, i128)>()),
        prop::collection::vec(arb_ext(), 0..4),
        internal,
        adjacent,
        untagged,
        skips,
    );
    let b = (
        prop::collection::btree_map(arb_string(), arb_value(), 0..3),
        prop::collection::btree_map(any::<i64>(), Just(()), 0..3),
        prop::collection::btree_map(any::<u128>(), any::<bool>(), 0..3),
        prop::collection::btree_map(any::<bool>(), arb_char(), 0..2),
        prop::collection::btree_map(arb_char(), arb_ext(), 0..3),
        prop::collection::btree_map(arb_string(), arb_ext(), 0..3),
        arb_string(),
    );
    (a, b).prop_map(|(a, b)| {
        let ((newtype, (t0, t1)), ext, internal, adjacent, untagged, skips) = a;
        let (flat, int_keys, big_keys, bool_keys, char_keys, ext_keys, text) = b;
        Everything {
            unit: (),
            unit_s: UnitS,
            tuple: TupleS(t0, t1, newtype.clone()),
            newtype,
            ext,
            internal,
            adjacent,
            untagged,
            skips,
            flat,
            int_keys,
            big_keys,
            bool_keys,
            char_keys,
            ext_keys,
            text,
        }
    })
}
