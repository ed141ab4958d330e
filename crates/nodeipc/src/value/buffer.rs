//! ArrayBuffer, Buffer, typed arrays and DataView.

use bytes::Bytes;

/// A JS `ArrayBuffer` (resizable when it has a maximum length). Its bytes
/// are a [`Bytes`]: cloning is cheap.
#[derive(Clone, PartialEq)]
pub struct JsArrayBuffer {
    bytes: Bytes,
    max_byte_length: Option<usize>,
}

impl JsArrayBuffer {
    /// A fixed-length ArrayBuffer holding `bytes`.
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        JsArrayBuffer {
            bytes: bytes.into(),
            max_byte_length: None,
        }
    }

    /// A resizable ArrayBuffer (`new ArrayBuffer(n, { maxByteLength })`);
    /// `None` if `max_byte_length` is below the length.
    pub fn resizable(bytes: impl Into<Bytes>, max_byte_length: usize) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() <= max_byte_length).then_some(JsArrayBuffer {
            bytes,
            max_byte_length: Some(max_byte_length),
        })
    }

    /// The contents.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// `maxByteLength` of a resizable buffer.
    pub fn max_byte_length(&self) -> Option<usize> {
        self.max_byte_length
    }
}

/// Which kind of view an [`ArrayBufferView`] is. The discriminant is the
/// type index Node's serializer writes (`lib/v8.js`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ViewKind {
    /// `Int8Array`.
    Int8Array = 0,
    /// `Uint8Array`.
    Uint8Array = 1,
    /// `Uint8ClampedArray`.
    Uint8ClampedArray = 2,
    /// `Int16Array`.
    Int16Array = 3,
    /// `Uint16Array`.
    Uint16Array = 4,
    /// `Int32Array`.
    Int32Array = 5,
    /// `Uint32Array`.
    Uint32Array = 6,
    /// `Float32Array`.
    Float32Array = 7,
    /// `Float64Array`.
    Float64Array = 8,
    /// `DataView`.
    DataView = 9,
    /// Node's `Buffer` (a `Uint8Array` subclass).
    Buffer = 10,
    /// `BigInt64Array`.
    BigInt64Array = 11,
    /// `BigUint64Array`.
    BigUint64Array = 12,
    /// `Float16Array` (Node 24+; IEEE 754 binary16 elements, kept as their
    /// bits: see [`ArrayBufferView::number`]).
    Float16Array = 13,
}

const KINDS: [ViewKind; 14] = [
    ViewKind::Int8Array,
    ViewKind::Uint8Array,
    ViewKind::Uint8ClampedArray,
    ViewKind::Int16Array,
    ViewKind::Uint16Array,
    ViewKind::Int32Array,
    ViewKind::Uint32Array,
    ViewKind::Float32Array,
    ViewKind::Float64Array,
    ViewKind::DataView,
    ViewKind::Buffer,
    ViewKind::BigInt64Array,
    ViewKind::BigUint64Array,
    ViewKind::Float16Array,
];

impl ViewKind {
    /// The kind for one of Node's type indices.
    pub fn from_type_index(index: u32) -> Option<Self> {
        KINDS.get(index as usize).copied()
    }

    /// Node's type index.
    pub fn type_index(self) -> u32 {
        self as u32
    }

    /// The kind for a V8 `ArrayBufferViewTag` (the `V` form, which V8
    /// writes when views are not host objects; Node reads it).
    pub(crate) fn from_v8_subtag(tag: u32) -> Option<Self> {
        Some(match u8::try_from(tag).ok()? {
            b'b' => ViewKind::Int8Array,
            b'B' => ViewKind::Uint8Array,
            b'C' => ViewKind::Uint8ClampedArray,
            b'w' => ViewKind::Int16Array,
            b'W' => ViewKind::Uint16Array,
            b'd' => ViewKind::Int32Array,
            b'D' => ViewKind::Uint32Array,
            b'f' => ViewKind::Float32Array,
            b'F' => ViewKind::Float64Array,
            b'q' => ViewKind::BigInt64Array,
            b'Q' => ViewKind::BigUint64Array,
            b'h' => ViewKind::Float16Array,
            b'?' => ViewKind::DataView,
            _ => return None,
        })
    }

    /// Bytes per element (`BYTES_PER_ELEMENT`; 1 for DataView and Buffer).
    pub fn element_size(self) -> usize {
        match self {
            ViewKind::Int16Array | ViewKind::Uint16Array | ViewKind::Float16Array => 2,
            ViewKind::Int32Array | ViewKind::Uint32Array | ViewKind::Float32Array => 4,
            ViewKind::Float64Array | ViewKind::BigInt64Array | ViewKind::BigUint64Array => 8,
            _ => 1,
        }
    }

    /// The constructor's name (`"Float64Array"`, `"Buffer"`).
    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Int8Array => "Int8Array",
            ViewKind::Uint8Array => "Uint8Array",
            ViewKind::Uint8ClampedArray => "Uint8ClampedArray",
            ViewKind::Int16Array => "Int16Array",
            ViewKind::Uint16Array => "Uint16Array",
            ViewKind::Int32Array => "Int32Array",
            ViewKind::Uint32Array => "Uint32Array",
            ViewKind::Float32Array => "Float32Array",
            ViewKind::Float64Array => "Float64Array",
            ViewKind::DataView => "DataView",
            ViewKind::Buffer => "Buffer",
            ViewKind::BigInt64Array => "BigInt64Array",
            ViewKind::BigUint64Array => "BigUint64Array",
            ViewKind::Float16Array => "Float16Array",
        }
    }
}

/// A `Buffer`, typed array or `DataView`: its kind and the bytes it views
/// (elements in little-endian order, as Node sends them). Node sends only
/// the viewed bytes, never the rest of the underlying ArrayBuffer, so two
/// views of one ArrayBuffer arrive as independent copies.
///
/// ```
/// use nodeipc::value::{ArrayBufferView, ViewKind};
///
/// let b = ArrayBufferView::buffer(&b"hi"[..]);
/// assert_eq!(format!("{b:?}"), "<Buffer 68 69>");
/// let f = ArrayBufferView::new(ViewKind::Float64Array, 0.5f64.to_le_bytes().to_vec()).unwrap();
/// assert_eq!(format!("{f:?}"), "Float64Array(1) [ 0.5 ]");
/// assert!(ArrayBufferView::new(ViewKind::Int16Array, vec![1, 2, 3]).is_none());
/// ```
#[derive(Clone, PartialEq)]
pub struct ArrayBufferView {
    kind: ViewKind,
    bytes: Bytes,
}

impl ArrayBufferView {
    /// A view of `kind` over `bytes`; `None` unless the length is a
    /// multiple of the element size.
    pub fn new(kind: ViewKind, bytes: impl Into<Bytes>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() % kind.element_size() == 0).then_some(ArrayBufferView { kind, bytes })
    }

    /// A Node `Buffer`.
    pub fn buffer(bytes: impl Into<Bytes>) -> Self {
        ArrayBufferView {
            kind: ViewKind::Buffer,
            bytes: bytes.into(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ViewKind {
        self.kind
    }

    /// The viewed bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Number of elements (`length`; bytes for a DataView).
    pub fn len(&self) -> usize {
        self.bytes.len() / self.kind.element_size()
    }

    /// Whether it views no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Element `i` as a JS number, for the number kinds (`None` for
    /// BigInt kinds, DataView, or out of range).
    pub fn number(&self, i: usize) -> Option<f64> {
        let size = self.kind.element_size();
        let b = self.bytes.get(i * size..i * size + size)?;
        let mut w = [0u8; 8];
        w[..size].copy_from_slice(b);
        Some(match self.kind {
            ViewKind::Int8Array => f64::from(b[0] as i8),
            ViewKind::Uint8Array | ViewKind::Uint8ClampedArray | ViewKind::Buffer => {
                f64::from(b[0])
            }
            ViewKind::Int16Array => f64::from(i16::from_le_bytes([w[0], w[1]])),
            ViewKind::Uint16Array => f64::from(u16::from_le_bytes([w[0], w[1]])),
            ViewKind::Int32Array => f64::from(i32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            ViewKind::Uint32Array => f64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            ViewKind::Float16Array => f16_to_f64(u16::from_le_bytes([w[0], w[1]])),
            ViewKind::Float32Array => f64::from(f32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            ViewKind::Float64Array => f64::from_le_bytes(w),
            _ => return None,
        })
    }

    /// Element `i` of a `BigInt64Array` / `BigUint64Array`.
    pub fn bigint(&self, i: usize) -> Option<i128> {
        let b: [u8; 8] = self.bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?;
        match self.kind {
            ViewKind::BigInt64Array => Some(i128::from(i64::from_le_bytes(b))),
            ViewKind::BigUint64Array => Some(i128::from(u64::from_le_bytes(b))),
            _ => None,
        }
    }
}

/// The value of IEEE 754 binary16 `bits` (exact: every half is a double).
/// A NaN's payload is not carried over, as JS reads any NaN as NaN; the
/// view's bytes keep the bits.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        0x1f if frac == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_indices_are_nodes() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(ViewKind::from_type_index(i as u32), Some(*k));
            assert_eq!(k.type_index(), i as u32);
        }
        assert_eq!(ViewKind::from_type_index(14), None);
        assert_eq!(
            ViewKind::from_v8_subtag(u32::from(b'?')),
            Some(ViewKind::DataView)
        );
        assert_eq!(ViewKind::from_v8_subtag(0x142), None);
    }

    #[test]
    fn elements_read_little_endian() {
        let v = ArrayBufferView::new(ViewKind::Int16Array, vec![0xff, 0xff, 2, 0]).unwrap();
        assert_eq!(
            (v.number(0), v.number(1), v.number(2)),
            (Some(-1.0), Some(2.0), None)
        );
        let b =
            ArrayBufferView::new(ViewKind::BigInt64Array, (-5i64).to_le_bytes().to_vec()).unwrap();
        assert_eq!(b.bigint(0), Some(-5));
        assert!(JsArrayBuffer::resizable(vec![1, 2], 1).is_none());
    }

    #[test]
    fn float16_elements_are_exact() {
        let halves: [u16; 8] = [
            0x3c00, 0x7bff, 0x8000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e01,
        ];
        let bytes = halves
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect::<Vec<_>>();
        let v = ArrayBufferView::new(ViewKind::Float16Array, bytes.clone()).unwrap();
        let n: Vec<f64> = (0..v.len()).map(|i| v.number(i).unwrap()).collect();
        assert_eq!(
            n[..7],
            [
                1.0,
                65504.0,
                -0.0,
                2f64.powi(-24),
                1023.0 * 2f64.powi(-24),
                f64::INFINITY,
                f64::NEG_INFINITY
            ]
        );
        assert!(n[2].is_sign_negative() && n[7].is_nan());
        assert_eq!(
            v.bytes(),
            &bytes[..],
            "NaN payloads and -0 stay in the bytes"
        );
    }
}
