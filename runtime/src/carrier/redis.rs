//! Redis stream entries (feature `redis`): the `redis` crate's `StreamId`, as `XREADGROUP`,
//! `XREAD`, `XRANGE`, `XCLAIM` and `XAUTOCLAIM` replies give them, to read.
//!
//! An entry's fields are its headers and its body at once: the producer adds `traceparent`,
//! `tracestate` and `baggage` fields beside its own. Write them into a
//! `Vec<(String, Vec<u8>)>` (a carrier of its own) and pass that as `XADD`'s items, with the
//! entry's own fields after them.
//!
//! Field names are binary-safe and case-sensitive, so `traceparent` matches only itself. The
//! redis crate gathers an entry's fields into a map in the order the server lists them, so a
//! field that `XADD` was given twice reads as the **last** value given. A value is read when it
//! is a bulk, simple or verbatim string that is readable header text; integers, nil and nested
//! values read as absent. An entry is a whole message: its id is `messaging.message.id`.

use super::{Extract, readable, readable_str};
use opentelemetry::KeyValue;
use redis::Value;
use redis::streams::StreamId;

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => readable(bytes),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => readable_str(text),
        _ => None,
    }
}

impl Extract for StreamId {
    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).and_then(text)
    }
    fn keys(&self) -> Vec<&str> {
        self.map.keys().map(String::as_str).collect()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        attributes.push(KeyValue::new("messaging.system", "redis"));
        attributes.push(KeyValue::new("messaging.message.id", self.id.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::FromRedisValue;

    fn bulk(text: &[u8]) -> Value {
        Value::BulkString(text.to_vec())
    }

    /// An entry as `XRANGE` returns it: `[id, [field, value, field, value…]]`.
    fn entry(fields: Vec<(&[u8], Value)>) -> StreamId {
        let flat = fields.into_iter().flat_map(|(k, v)| [bulk(k), v]).collect();
        let reply = Value::Array(vec![Value::Array(vec![
            bulk(b"1700000000000-0"),
            Value::Array(flat),
        ])]);
        redis::streams::StreamRangeReply::from_redis_value(reply)
            .unwrap()
            .ids
            .remove(0)
    }

    #[test]
    fn fields_are_read_as_text_and_the_last_repeat_wins() {
        let entry = entry(vec![
            (b"traceparent", bulk(b"first")),
            (b"order", bulk(b"{\"sku\":7}")),
            (b"traceparent", bulk(b"last")),
            (b"tracestate", Value::Int(7)),
            (b"baggage", bulk(&[0xff, 0xfe])),
            (b"simple", Value::SimpleString("ok".into())),
            (b"nil", Value::Nil),
            (b"Traceparent", bulk(b"other")),
        ]);
        assert_eq!(Extract::get(&entry, "traceparent"), Some("last"));
        assert_eq!(Extract::get_all(&entry, "traceparent"), ["last"]);
        assert_eq!(Extract::get(&entry, "tracestate"), None);
        assert_eq!(Extract::get(&entry, "baggage"), None);
        assert_eq!(Extract::get(&entry, "simple"), Some("ok"));
        assert_eq!(Extract::get(&entry, "nil"), None);
        assert_eq!(Extract::get(&entry, "missing"), None);
        let mut keys = entry.keys();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "Traceparent",
                "baggage",
                "nil",
                "order",
                "simple",
                "traceparent",
                "tracestate"
            ]
        );
        let mut attributes = Vec::new();
        entry.message_attributes(&mut attributes);
        assert_eq!(
            attributes,
            [
                KeyValue::new("messaging.system", "redis"),
                KeyValue::new("messaging.message.id", "1700000000000-0"),
            ]
        );
    }

    #[test]
    fn oversized_and_control_characters_read_as_absent() {
        let entry = entry(vec![
            (
                b"traceparent",
                bulk(&vec![b'a'; super::super::MAX_VALUE_LEN + 1]),
            ),
            (b"tracestate", bulk(b"a=1\r\nx: y")),
            (b"baggage", bulk(b"")),
        ]);
        for key in ["traceparent", "tracestate", "baggage"] {
            assert_eq!(Extract::get(&entry, key), None, "{key}");
        }
    }
}
