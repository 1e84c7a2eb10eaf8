//! rdkafka record headers (feature `kafka`): `OwnedHeaders` to write and read, and the
//! `BorrowedHeaders` of a received message to read. Kafka header keys are case-sensitive and
//! may repeat; the **last** value wins, as with the Kafka clients' `lastHeader`. Headers
//! without a value read as absent.
//!
//! A whole received message (`BorrowedMessage`, `OwnedMessage`) is a carrier too: its headers,
//! and the Kafka attributes of semantic conventions v1.44: `messaging.destination.name` (the
//! topic), `messaging.destination.partition.id`, `messaging.kafka.offset`,
//! `messaging.kafka.message.key` (when it is UTF-8) and `messaging.kafka.message.tombstone`.

use super::{Extract, Inject, readable};
use opentelemetry::KeyValue;
use rdkafka::Message;
use rdkafka::message::{
    BorrowedHeaders, BorrowedMessage, Header, Headers, OwnedHeaders, OwnedMessage,
};

fn all<'a, H: Headers>(headers: &'a H, key: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|h| h.key == key)
        .filter_map(|h| h.value.and_then(readable))
        .collect()
}

macro_rules! extract {
    ($t:ty) => {
        impl Extract for $t {
            fn get(&self, key: &str) -> Option<&str> {
                all(self, key).pop()
            }
            fn keys(&self) -> Vec<&str> {
                self.iter().map(|h| h.key).collect()
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                all(self, key)
            }
        }
    };
}

extract!(OwnedHeaders);
extract!(BorrowedHeaders);

fn kafka_attributes<M: Message>(message: &M, attributes: &mut Vec<KeyValue>) {
    attributes.push(KeyValue::new("messaging.system", "kafka"));
    attributes.push(KeyValue::new(
        "messaging.destination.name",
        message.topic().to_owned(),
    ));
    attributes.push(KeyValue::new(
        "messaging.destination.partition.id",
        message.partition().to_string(),
    ));
    attributes.push(KeyValue::new("messaging.kafka.offset", message.offset()));
    if let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) {
        attributes.push(KeyValue::new("messaging.kafka.message.key", key.to_owned()));
    }
    if message.payload().is_none() {
        attributes.push(KeyValue::new("messaging.kafka.message.tombstone", true));
    }
}

/// `Extract` for a received message: its headers, and its attributes.
macro_rules! extract_message {
    ($t:ty) => {
        impl Extract for $t {
            fn get(&self, key: &str) -> Option<&str> {
                Extract::get(self.headers()?, key)
            }
            fn keys(&self) -> Vec<&str> {
                self.headers().map(Extract::keys).unwrap_or_default()
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                self.headers()
                    .map(|h| Extract::get_all(h, key))
                    .unwrap_or_default()
            }
            fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
                kafka_attributes(self, attributes);
            }
        }
    };
}

extract_message!(BorrowedMessage<'_>);
extract_message!(OwnedMessage);

impl Inject for OwnedHeaders {
    fn set(&mut self, key: &str, value: String) {
        // librdkafka appends; rebuild without the earlier values of `key` so there is one.
        let mut rebuilt = OwnedHeaders::new_with_capacity(self.count() + 1);
        for header in self.iter().filter(|h| h.key != key) {
            rebuilt = rebuilt.insert(header);
        }
        *self = rebuilt.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::Timestamp;

    fn attributes(message: &OwnedMessage) -> Vec<(String, String)> {
        let mut found = Vec::new();
        message.message_attributes(&mut found);
        found
            .into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    }

    #[test]
    fn a_message_knows_its_topic_partition_offset_and_key() {
        let headers = OwnedHeaders::new().insert(Header {
            key: "traceparent",
            value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        });
        let message = OwnedMessage::new(
            Some(b"order".to_vec()),
            Some(b"customer-7".to_vec()),
            "orders".into(),
            Timestamp::NotAvailable,
            3,
            42,
            Some(headers),
        );
        assert_eq!(
            Extract::get(&message, "traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        let expected = [
            ("messaging.system", "kafka"),
            ("messaging.destination.name", "orders"),
            ("messaging.destination.partition.id", "3"),
            ("messaging.kafka.offset", "42"),
            ("messaging.kafka.message.key", "customer-7"),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(attributes(&message), expected);
        // A key that is not UTF-8 is left out; a message without a payload is a tombstone.
        let tombstone = OwnedMessage::new(
            None,
            Some(vec![0xff]),
            "orders".into(),
            Timestamp::NotAvailable,
            0,
            1,
            None,
        );
        let found = attributes(&tombstone);
        assert!(
            found
                .iter()
                .all(|(k, _)| k != "messaging.kafka.message.key")
        );
        assert!(found.contains(&("messaging.kafka.message.tombstone".into(), "true".into())));
        assert_eq!(Extract::get(&tombstone, "traceparent"), None);
    }

    #[test]
    fn last_value_wins_and_set_leaves_one() {
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "traceparent",
                value: Some("first"),
            })
            .insert(Header {
                key: "traceparent",
                value: None::<&[u8]>,
            })
            .insert(Header {
                key: "traceparent",
                value: Some("last"),
            })
            .insert(Header {
                key: "baggage",
                value: Some(&[0xffu8][..]),
            });
        assert_eq!(Extract::get(&headers, "traceparent"), Some("last"));
        assert_eq!(Extract::get_all(&headers, "traceparent"), ["first", "last"]);
        assert_eq!(Extract::get(&headers, "baggage"), None);
        headers.set("traceparent", "new".into());
        assert_eq!(Extract::get_all(&headers, "traceparent"), ["new"]);
        assert_eq!(headers.count(), 2);
    }
}
