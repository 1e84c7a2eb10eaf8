//! lapin's `FieldTable` (feature `lapin`): AMQP message headers. AMQP keys are case-sensitive
//! and unique. Text is read from long strings, short strings and byte arrays; other value types
//! read as absent. Values are written as long strings; a key longer than an AMQP short string
//! (255 bytes) is not written, never passed to a constructor that would panic.

use super::{Extract, Inject, readable};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

fn text(value: &AMQPValue) -> Option<&str> {
    match value {
        AMQPValue::LongString(s) => readable(s.as_bytes()),
        AMQPValue::ShortString(s) => readable(s.as_str().as_bytes()),
        AMQPValue::ByteArray(bytes) => readable(bytes.as_slice()),
        _ => None,
    }
}

impl Extract for FieldTable {
    fn get(&self, key: &str) -> Option<&str> {
        self.inner().get(key).and_then(text)
    }
    fn keys(&self) -> Vec<&str> {
        self.inner().keys().map(ShortString::as_str).collect()
    }
}

impl Inject for FieldTable {
    fn set(&mut self, key: &str, value: String) {
        if let Ok(key) = ShortString::try_new(key) {
            self.insert(key, AMQPValue::LongString(LongString::from(value)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::types::ByteArray;

    #[test]
    fn reads_text_values_and_skips_the_rest() {
        let mut table = FieldTable::default();
        table.insert("a".into(), AMQPValue::LongString("long".into()));
        table.insert("b".into(), AMQPValue::ShortString("short".into()));
        table.insert(
            "c".into(),
            AMQPValue::ByteArray(ByteArray::from(b"bytes".to_vec())),
        );
        table.insert("d".into(), AMQPValue::LongInt(5));
        table.insert("e".into(), AMQPValue::LongString(vec![0xff, 0x00].into()));
        assert_eq!(Extract::get(&table, "a"), Some("long"));
        assert_eq!(Extract::get(&table, "b"), Some("short"));
        assert_eq!(Extract::get(&table, "c"), Some("bytes"));
        assert_eq!(Extract::get(&table, "d"), None);
        assert_eq!(Extract::get(&table, "e"), None);
        assert_eq!(
            Extract::get(&table, "A"),
            None,
            "AMQP keys are case-sensitive"
        );
    }

    #[test]
    fn an_over_long_key_is_skipped_not_a_panic() {
        let mut table = FieldTable::default();
        table.set(&"k".repeat(256), "v".into());
        assert!(table.inner().is_empty());
        table.set("traceparent", "v".into());
        assert_eq!(Extract::get(&table, "traceparent"), Some("v"));
    }
}
