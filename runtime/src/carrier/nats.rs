//! `async_nats::HeaderMap` (feature `nats`). The exact name first, then an ASCII
//! case-insensitive match (the Go client canonicalizes names to `Traceparent`). A repeated
//! header reads as its **first** value, as `HeaderMap::get` does. Writing replaces the values
//! of the name; a name or value NATS rejects (control characters, CR, LF, `:`) is not written.
//!
//! A whole `async_nats::Message` is a carrier too: its headers, and `messaging.system = nats`,
//! its subject as `messaging.destination.name` and its `Nats-Msg-Id` header (JetStream's
//! de-duplication id) as `messaging.message.id`.

use super::{Extract, Inject, readable_str};
use async_nats::{HeaderMap, HeaderName, HeaderValue, Message};
use opentelemetry::KeyValue;
use std::str::FromStr;

fn values<'a>(map: &'a HeaderMap, key: &str) -> Vec<&'a str> {
    let exact = map
        .iter()
        .find(|(name, _)| AsRef::<str>::as_ref(*name) == key);
    let found = exact.or_else(|| {
        map.iter()
            .find(|(name, _)| AsRef::<str>::as_ref(*name).eq_ignore_ascii_case(key))
    });
    found
        .map(|(_, values)| {
            values
                .iter()
                .filter_map(|v| readable_str(v.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

impl Extract for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        values(self, key).into_iter().next()
    }
    fn keys(&self) -> Vec<&str> {
        self.iter().map(|(name, _)| name.as_ref()).collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        values(self, key)
    }
}

impl Extract for Message {
    fn get(&self, key: &str) -> Option<&str> {
        Extract::get(self.headers.as_ref()?, key)
    }
    fn keys(&self) -> Vec<&str> {
        self.headers.as_ref().map(Extract::keys).unwrap_or_default()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.headers
            .as_ref()
            .map(|h| Extract::get_all(h, key))
            .unwrap_or_default()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        attributes.push(KeyValue::new("messaging.system", "nats"));
        attributes.push(KeyValue::new(
            "messaging.destination.name",
            self.subject.to_string(),
        ));
        if let Some(id) = self
            .headers
            .as_ref()
            .and_then(|h| Extract::get(h, "Nats-Msg-Id"))
        {
            attributes.push(KeyValue::new("messaging.message.id", id.to_owned()));
        }
    }
}

impl Inject for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_str(key), HeaderValue::from_str(&value)) {
            self.insert(name, value);
        }
    }
}

/// A JetStream message (feature `jetstream`): its headers and the attributes of its
/// `async_nats::Message`, with the durable consumer it was delivered to as
/// `messaging.consumer.group.name` (JetStream consumers share their messages between
/// subscribers as a consumer group does) and its stream sequence as `messaging.message.id`
/// when it has no `Nats-Msg-Id`.
#[cfg(feature = "jetstream")]
impl Extract for async_nats::jetstream::Message {
    fn get(&self, key: &str) -> Option<&str> {
        Extract::get(&self.message, key)
    }
    fn keys(&self) -> Vec<&str> {
        Extract::keys(&self.message)
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extract::get_all(&self.message, key)
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        self.message.message_attributes(attributes);
        if let Ok(info) = self.info() {
            attributes.push(KeyValue::new(
                "messaging.consumer.group.name",
                info.consumer.to_owned(),
            ));
            if !attributes
                .iter()
                .any(|kv| kv.key.as_str() == "messaging.message.id")
            {
                attributes.push(KeyValue::new(
                    "messaging.message.id",
                    format!("{}:{}", info.stream, info.stream_sequence),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_knows_its_subject_and_dedup_id() {
        let mut headers = HeaderMap::new();
        headers.insert("Traceparent", "tp");
        headers.insert("Nats-Msg-Id", "order-9");
        let message = Message {
            subject: String::from("orders.eu").into(),
            reply: None,
            payload: "x".into(),
            headers: Some(headers),
            status: None,
            description: None,
            length: 1,
        };
        assert_eq!(Extract::get(&message, "traceparent"), Some("tp"));
        let mut found = Vec::new();
        message.message_attributes(&mut found);
        let found: Vec<(String, String)> = found
            .into_iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        assert_eq!(
            found,
            [
                ("messaging.system".into(), "nats".into()),
                ("messaging.destination.name".into(), "orders.eu".into()),
                ("messaging.message.id".into(), "order-9".into()),
            ]
        );
        let bare = Message {
            headers: None,
            ..message
        };
        assert_eq!(Extract::get(&bare, "traceparent"), None);
    }

    #[test]
    fn canonicalized_names_are_found_and_bad_values_not_written() {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_str("Traceparent").unwrap(),
            HeaderValue::from_str("v").unwrap(),
        );
        assert_eq!(Extract::get(&map, "traceparent"), Some("v"));
        map.set("tracestate", "a\r\nb".into());
        map.set("bad:name", "x".into());
        assert_eq!(map.len(), 1);
        map.set("baggage", "k=v".into());
        assert_eq!(Extract::get(&map, "baggage"), Some("k=v"));
    }
}
