//! MQTT 5 user properties (feature `mqtt`): rumqttc's `v5` `PublishProperties` to write and
//! read, and a received `v5` `Publish` to read.
//!
//! User properties are UTF-8 name/value pairs that MQTT 5 allows to repeat, in order, and
//! forwards unchanged to subscribers (MQTT 5, §3.3.2.3.7). Names are case-sensitive. A repeated
//! name reads as its **first** readable value, and [`get_all`](Extract::get_all) lists every
//! readable value in order, as HTTP header lines are: two different `traceparent` values are
//! then refused as a pair and the consumer starts a new trace. Writing replaces every earlier
//! property of the name.
//!
//! A whole `v5` `Publish` is a message: its user properties, and `messaging.system = mqtt` with
//! its topic as `messaging.destination.name`.
//!
//! MQTT 3.1.1 has no user properties. A `rumqttc::Publish` (the 3.1.1 client's) is a carrier
//! that holds nothing: a producer writes nothing into it and its consumer starts a new trace,
//! and tracebound says so once, as a warning under the target `tracebound`.

use super::{Extract, Inject, readable_str};
use crate::diagnostics;
use opentelemetry::KeyValue;
use rumqttc::v5::mqttbytes::v5::{Publish, PublishProperties};

fn values<'a, 'k>(
    properties: &'a PublishProperties,
    key: &'k str,
) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
    properties
        .user_properties
        .iter()
        .filter(move |(name, _)| name == key)
        .filter_map(|(_, value)| readable_str(value))
}

impl Extract for PublishProperties {
    fn get(&self, key: &str) -> Option<&str> {
        values(self, key).next()
    }
    fn keys(&self) -> Vec<&str> {
        self.user_properties
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        values(self, key).collect()
    }
}

impl Inject for PublishProperties {
    fn set(&mut self, key: &str, value: String) {
        self.user_properties.retain(|(name, _)| name != key);
        self.user_properties.push((key.to_owned(), value));
    }
}

/// A publish reads its properties through `Option<C>`'s carrier: none hold no context.
impl Extract for Publish {
    fn get(&self, key: &str) -> Option<&str> {
        Extract::get(&self.properties, key)
    }
    fn keys(&self) -> Vec<&str> {
        self.properties.keys()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        Extract::get_all(&self.properties, key)
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        attributes.push(KeyValue::new("messaging.system", "mqtt"));
        // A publish sent by topic alias has an empty topic: no destination to name.
        if let Ok(topic) = std::str::from_utf8(&self.topic).map(str::trim)
            && !topic.is_empty()
        {
            attributes.push(KeyValue::new(
                "messaging.destination.name",
                topic.to_owned(),
            ));
        }
    }
}

/// An MQTT 3.1.1 publish: no user properties, so nothing to read.
impl Extract for rumqttc::Publish {
    fn get(&self, _key: &str) -> Option<&str> {
        diagnostics::mqtt_v311_read();
        None
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        attributes.push(KeyValue::new("messaging.system", "mqtt"));
        attributes.push(KeyValue::new(
            "messaging.destination.name",
            self.topic.clone(),
        ));
    }
}

/// An MQTT 3.1.1 publish: no user properties, so nothing is written.
impl Inject for rumqttc::Publish {
    fn set(&mut self, _key: &str, _value: String) {
        diagnostics::mqtt_v311_write();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumqttc::v5::mqttbytes::QoS;

    fn properties(pairs: &[(&str, &str)]) -> PublishProperties {
        PublishProperties {
            user_properties: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn first_readable_value_wins_and_every_value_is_listed() {
        let found = properties(&[
            ("traceparent", "bad\u{7}"),
            ("traceparent", "first"),
            ("Traceparent", "other case"),
            ("traceparent", "second"),
            ("baggage", ""),
        ]);
        assert_eq!(Extract::get(&found, "traceparent"), Some("first"));
        assert_eq!(Extract::get_all(&found, "traceparent"), ["first", "second"]);
        assert_eq!(Extract::get(&found, "Traceparent"), Some("other case"));
        assert_eq!(Extract::get(&found, "baggage"), None);
        assert_eq!(found.keys().len(), 5);
    }

    #[test]
    fn set_replaces_every_earlier_value_and_keeps_other_properties() {
        let mut props = properties(&[("traceparent", "a"), ("app", "kept"), ("traceparent", "b")]);
        props.set("traceparent", "new".into());
        assert_eq!(
            props.user_properties,
            [
                ("app".to_owned(), "kept".to_owned()),
                ("traceparent".to_owned(), "new".to_owned())
            ]
        );
    }

    #[test]
    fn a_v5_publish_knows_its_topic() {
        let mut publish = Publish::new("plant/7/temperature", QoS::AtLeastOnce, "21.5", None);
        assert_eq!(Extract::get(&publish, "traceparent"), None);
        publish.properties = Some(properties(&[("traceparent", "x")]));
        assert_eq!(Extract::get(&publish, "traceparent"), Some("x"));
        let mut attributes = Vec::new();
        publish.message_attributes(&mut attributes);
        assert_eq!(
            attributes,
            [
                KeyValue::new("messaging.system", "mqtt"),
                KeyValue::new("messaging.destination.name", "plant/7/temperature"),
            ]
        );
    }

    #[test]
    fn a_v311_publish_carries_nothing() {
        let mut publish = rumqttc::Publish::new("plant/7", rumqttc::QoS::AtLeastOnce, "x");
        publish.set(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        );
        assert_eq!(Extract::get(&publish, "traceparent"), None);
        assert!(publish.keys().is_empty());
        assert_eq!(publish.payload, "x");
    }
}
