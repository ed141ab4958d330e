//! The serde `Serializer` producing a [`Value`]: see [`to_value`](crate::value::to_value)
//! for the mapping.

use std::sync::Arc;

use ::serde::ser::{self, Serialize};
use bytes::Bytes;

use super::build::{int128, map_value, uint128};
use super::value_impl::{VALUE_TOKEN, take_slot};
use crate::error::EncodeError;
use crate::value::{JsObject, Value};

type Result<T = Value> = std::result::Result<T, EncodeError>;

/// The struct name and field name with which `serde_json::value::RawValue`
/// serializes itself; its JSON text is parsed as `JSON.parse` would.
pub(crate) const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The serializer of one value.
pub(super) struct Ser;

/// `{ name: inner }`: the externally tagged form of the enum variants.
fn tagged(name: &'static str, inner: Value) -> Value {
    Value::object([(name, inner)])
}

impl ser::Serializer for Ser {
    type Ok = Value;
    type Error = EncodeError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = StructSer;
    type SerializeStructVariant = StructSer;

    fn serialize_bool(self, v: bool) -> Result {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result {
        Ok(int128(v))
    }
    fn serialize_u8(self, v: u8) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result {
        Ok(uint128(v))
    }
    fn serialize_f32(self, v: f32) -> Result {
        Ok(Value::Number(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result {
        Ok(Value::Number(v))
    }
    fn serialize_char(self, v: char) -> Result {
        let mut buf = [0; 4];
        Ok(Value::from(&*v.encode_utf8(&mut buf)))
    }
    fn serialize_str(self, v: &str) -> Result {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        Ok(Value::buffer(Bytes::copy_from_slice(v)))
    }
    fn serialize_none(self) -> Result {
        Ok(Value::Undefined)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result {
        if name == VALUE_TOKEN
            && let Some(v) = take_slot()
        {
            return Ok(v);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        Ok(tagged(variant, value.serialize(Ser)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer> {
        Ok(SeqSer::new(None, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer> {
        Ok(SeqSer::new(None, Some(len)))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer> {
        Ok(SeqSer::new(None, Some(len)))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer> {
        Ok(SeqSer::new(Some(variant), Some(len)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapSer> {
        Ok(MapSer {
            entries: Vec::with_capacity(len.unwrap_or(0).min(1024)),
            key: None,
        })
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<StructSer> {
        Ok(StructSer {
            variant: None,
            raw: name == RAW_VALUE_TOKEN,
            object: JsObject::new(),
        })
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructSer> {
        Ok(StructSer {
            variant: Some(variant),
            raw: false,
            object: JsObject::new(),
        })
    }
}

/// Sequences, tuples and tuple variants: a dense array.
pub(super) struct SeqSer {
    variant: Option<&'static str>,
    items: Vec<Value>,
}

impl SeqSer {
    fn new(variant: Option<&'static str>, len: Option<usize>) -> Self {
        SeqSer {
            variant,
            items: Vec::with_capacity(len.unwrap_or(0).min(1024)),
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.items.push(value.serialize(Ser)?);
        Ok(())
    }

    fn finish(self) -> Value {
        let array = Value::from(self.items);
        match self.variant {
            Some(name) => tagged(name, array),
            None => array,
        }
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result {
        Ok(self.finish())
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result {
        Ok(self.finish())
    }
}

impl ser::SerializeTupleVariant for SeqSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result {
        Ok(self.finish())
    }
}

/// Maps: an object when every key is a string or an integer, else a `Map`.
pub(super) struct MapSer {
    entries: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(Ser)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(|| {
            <EncodeError as ser::Error>::custom("serialize_value before serialize_key")
        })?;
        self.entries.push((key, value.serialize(Ser)?));
        Ok(())
    }
    fn end(self) -> Result {
        Ok(map_value(self.entries))
    }
}

/// Structs and struct variants: an object with the fields in order.
pub(super) struct StructSer {
    variant: Option<&'static str>,
    /// A `serde_json::value::RawValue`: one field holding JSON text.
    raw: bool,
    object: JsObject,
}

impl StructSer {
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let mut value = value.serialize(Ser)?;
        if self.raw {
            let text = value.as_str().unwrap_or_default();
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(<EncodeError as ser::Error>::custom)?;
            value = Value::from(json);
        }
        self.object.insert(key, value);
        Ok(())
    }

    fn finish(self) -> Value {
        if self.raw {
            return self
                .object
                .get(RAW_VALUE_TOKEN)
                .cloned()
                .unwrap_or_default();
        }
        let object = Value::Object(Arc::new(self.object));
        match self.variant {
            Some(name) => tagged(name, object),
            None => object,
        }
    }
}

impl ser::SerializeStruct for StructSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result {
        Ok(self.finish())
    }
}

impl ser::SerializeStructVariant for StructSer {
    type Ok = Value;
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }
    fn end(self) -> Result {
        Ok(self.finish())
    }
}
