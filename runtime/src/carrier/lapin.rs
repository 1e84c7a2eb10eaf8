//! lapin's `FieldTable` (feature `lapin`): AMQP message headers. AMQP keys are case-sensitive
//! and unique. Text is read from long strings, short strings and byte arrays; other value types
//! read as absent. Values are written as long strings; a key longer than an AMQP short string
//! (255 bytes) is not written, never passed to a constructor that would panic.
//!
//! A whole `Delivery` (or a `BasicGetMessage`) is a carrier too: its headers, and the messaging
//! attributes of semantic conventions v1.44 for RabbitMQ (`messaging.destination.name` as
//! `{exchange}:{routing key}`, the routing key, the delivery tag, the message and correlation
//! ids).

use super::{Extract, Inject, readable};
use lapin::message::{BasicGetMessage, Delivery};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::KeyValue;

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

impl Extract for Delivery {
    fn get(&self, key: &str) -> Option<&str> {
        self.properties.headers().as_ref()?.get(key)
    }
    fn keys(&self) -> Vec<&str> {
        self.properties
            .headers()
            .as_ref()
            .map(Extract::keys)
            .unwrap_or_default()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        let (exchange, key) = (self.exchange.as_str(), self.routing_key.as_str());
        // § RabbitMQ, `messaging.destination.name`: `{exchange}:{routing key}`, the one that is
        // not empty, or `amq.default`.
        let destination = match (exchange.is_empty(), key.is_empty()) {
            (false, false) => format!("{exchange}:{key}"),
            (false, true) => exchange.to_owned(),
            (true, false) => key.to_owned(),
            (true, true) => "amq.default".to_owned(),
        };
        attributes.push(KeyValue::new("messaging.system", "rabbitmq"));
        attributes.push(KeyValue::new("messaging.destination.name", destination));
        if !key.is_empty() {
            attributes.push(KeyValue::new(
                "messaging.rabbitmq.destination.routing_key",
                key.to_owned(),
            ));
        }
        if let Ok(tag) = i64::try_from(self.delivery_tag) {
            attributes.push(KeyValue::new(
                "messaging.rabbitmq.message.delivery_tag",
                tag,
            ));
        }
        if let Some(id) = self.properties.message_id() {
            attributes.push(KeyValue::new("messaging.message.id", id.to_string()));
        }
        if let Some(id) = self.properties.correlation_id() {
            attributes.push(KeyValue::new(
                "messaging.message.conversation_id",
                id.to_string(),
            ));
        }
    }
}

impl Extract for BasicGetMessage {
    fn get(&self, key: &str) -> Option<&str> {
        self.delivery.get(key)
    }
    fn keys(&self) -> Vec<&str> {
        self.delivery.keys()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        self.delivery.message_attributes(attributes);
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
    use lapin::BasicProperties;
    use lapin::types::ByteArray;

    fn destination(exchange: &str, routing_key: &str) -> String {
        let delivery = Delivery::mock(1, exchange.into(), routing_key.into(), false, Vec::new());
        let mut found = Vec::new();
        delivery.message_attributes(&mut found);
        found
            .iter()
            .find(|kv| kv.key.as_str() == "messaging.destination.name")
            .map(|kv| kv.value.to_string())
            .unwrap()
    }

    #[test]
    fn a_delivery_names_its_destination_as_the_conventions_say() {
        // Semantic conventions v1.44, RabbitMQ, `messaging.destination.name`.
        assert_eq!(destination("logs", "warning"), "logs:warning");
        assert_eq!(destination("logs", ""), "logs");
        assert_eq!(destination("", "orders"), "orders");
        assert_eq!(destination("", ""), "amq.default");
    }

    #[test]
    fn a_delivery_reads_its_headers_and_knows_its_ids() {
        let mut headers = FieldTable::default();
        headers.insert("traceparent".into(), AMQPValue::LongString("tp".into()));
        let mut delivery = Delivery::mock(7, "".into(), "orders".into(), false, Vec::new());
        delivery.properties = BasicProperties::default()
            .with_headers(headers)
            .with_message_id("m-1".into())
            .with_correlation_id("c-1".into());
        assert_eq!(Extract::get(&delivery, "traceparent"), Some("tp"));
        let mut found = Vec::new();
        delivery.message_attributes(&mut found);
        let found: Vec<(String, String)> = found
            .into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        for expected in [
            ("messaging.system", "rabbitmq"),
            ("messaging.rabbitmq.destination.routing_key", "orders"),
            ("messaging.rabbitmq.message.delivery_tag", "7"),
            ("messaging.message.id", "m-1"),
            ("messaging.message.conversation_id", "c-1"),
        ] {
            assert!(
                found.contains(&(expected.0.into(), expected.1.into())),
                "{expected:?} in {found:?}"
            );
        }
        // A delivery without headers holds no context and says so without panicking.
        let bare = Delivery::mock(8, "x".into(), "".into(), false, Vec::new());
        assert_eq!(Extract::get(&bare, "traceparent"), None);
        assert!(Extract::keys(&bare).is_empty());
    }

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
