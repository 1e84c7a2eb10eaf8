//! rdkafka record headers (feature `kafka`): `OwnedHeaders` to write and read, and the
//! `BorrowedHeaders` of a received message to read. Kafka header keys are case-sensitive and
//! may repeat. [`get`](Extract::get) reads the **last** header of a key, as the Java client's
//! `Headers.lastHeader` does and as OpenTelemetry Java's Kafka instrumentation reads
//! `traceparent`: when that last header has no value (a null header, which Kafka uses to clear
//! a key) or a value that is not readable text, the key reads as absent, even if an earlier
//! header of the same key held a valid value. [`get_all`](Extract::get_all) gives that one value
//! too: Kafka headers are not an HTTP field list whose repeats combine, so a record that a
//! forwarder re-sent with a new `traceparent` appended continues from the new one instead of
//! being refused as holding two parents. What tracebound writes replaces the key's earlier
//! headers, so it never leaves two.
//!
//! Headers are read through librdkafka itself: a header key that is not UTF-8, which any
//! producer can send and on which rdkafka's own `Headers::iter` panics, is skipped, and a key
//! with a NUL inside never matches the name before its NUL.
//!
//! A whole received message (`BorrowedMessage`, `OwnedMessage`) is a carrier too: its headers,
//! and the Kafka attributes of semantic conventions v1.44: `messaging.destination.name` (the
//! topic), `messaging.destination.partition.id`, `messaging.kafka.offset`,
//! `messaging.kafka.message.key` (when it is UTF-8) and `messaging.kafka.message.tombstone`.

use super::{Extract, Inject, readable};
use opentelemetry::KeyValue;
use rdkafka::Message;
use rdkafka::bindings;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Header, OwnedHeaders, OwnedMessage};
use std::ffi::{CStr, CString};
use std::sync::Arc;

/// The librdkafka header list behind `headers`.
///
/// rdkafka hands out `&BorrowedHeaders` as the address of librdkafka's `rd_kafka_headers_t`
/// itself (a zero-sized type at that address, as its `from_native_ptr` makes it), and reads its
/// headers through that address; `OwnedHeaders::as_borrowed` is the same. tracebound reads the
/// list through librdkafka too, because rdkafka's `Headers::iter` and `get` panic on a header
/// key that is not UTF-8, which any producer can send. The `a_hostile_key_is_skipped` test
/// checks that this address is the list (counts and values agree with rdkafka's own reading).
fn native(headers: &BorrowedHeaders) -> *const bindings::rd_kafka_headers_t {
    (headers as *const BorrowedHeaders).cast()
}

/// `key` as a C string, on the stack for the header names tracebound looks up; `None` if it
/// holds a NUL (no header name can match it).
fn with_name<T>(key: &str, f: impl FnOnce(&CStr) -> Option<T>) -> Option<T> {
    let mut buffer = [0u8; 64];
    if key.len() < buffer.len() {
        buffer[..key.len()].copy_from_slice(key.as_bytes());
        f(CStr::from_bytes_with_nul(&buffer[..=key.len()]).ok()?)
    } else {
        f(CString::new(key).ok()?.as_c_str())
    }
}

/// The value of the last header named `key`, if it is readable: an unreadable last value
/// hides the earlier ones, as `lastHeader` does.
fn last<'a>(headers: &'a BorrowedHeaders, key: &str) -> Option<&'a str> {
    with_name(key, |name| {
        let mut value = std::ptr::null();
        let mut size = 0;
        // SAFETY: `native` is the live list `headers` borrows for `'a`; librdkafka compares
        // `name` (NUL-terminated, alive for the call) by length and bytes, and on success points
        // `value` at the header's value (null for a null header) of `size` bytes, which lives
        // as long as the list.
        let found = unsafe {
            bindings::rd_kafka_header_get_last(
                native(headers),
                name.as_ptr(),
                &mut value,
                &mut size,
            )
        };
        if found != bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || value.is_null() {
            return None;
        }
        // SAFETY: as above: `size` bytes at `value`, alive for `'a`.
        readable(unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) })
    })
}

/// Every header name that is UTF-8, in order; one that is not is left out (and is never the
/// name of a header tracebound reads).
fn names(headers: &BorrowedHeaders) -> Vec<&str> {
    let mut names = Vec::new();
    for index in 0.. {
        let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0);
        // SAFETY: as in `last`; `name` is pointed at the NUL-terminated name of header `index`,
        // alive as long as the list, or the call fails past the last header.
        let found = unsafe {
            bindings::rd_kafka_header_get_all(
                native(headers),
                index,
                &mut name,
                &mut value,
                &mut size,
            )
        };
        if found != bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
            break;
        }
        // SAFETY: a NUL-terminated string alive as long as the list.
        if let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() {
            names.push(name);
        }
    }
    names
}

macro_rules! extract {
    ($t:ty, $borrowed:expr) => {
        impl Extract for $t {
            fn get(&self, key: &str) -> Option<&str> {
                last($borrowed(self), key)
            }
            fn keys(&self) -> Vec<&str> {
                names($borrowed(self))
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                last($borrowed(self), key).into_iter().collect()
            }
        }
    };
}

extract!(OwnedHeaders, OwnedHeaders::as_borrowed);
extract!(BorrowedHeaders, std::convert::identity);

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

/// The consumer group a consumer reads in, for the `messaging.consumer.group.name` attribute
/// of the messages it receives, which a Kafka record does not carry.
///
/// ```no_run
/// # async fn run() -> Result<(), rdkafka::error::KafkaError> {
/// use rdkafka::ClientConfig;
/// use rdkafka::consumer::{Consumer, StreamConsumer};
/// use rdkafka::message::BorrowedMessage;
/// use tracebound::kafka::Group;
///
/// #[tracebound::traced_consumer(carrier = group.message(message), destination = "orders")]
/// async fn handle(message: &BorrowedMessage<'_>, group: &Group) {
///     // runs in `process orders`, a child of the producer's send span, with the topic,
///     // partition, offset, key and consumer group as attributes
/// }
///
/// let consumer: StreamConsumer = ClientConfig::new()
///     .set("bootstrap.servers", "127.0.0.1:9092")
///     .set("group.id", "billing")
///     .create()?;
/// consumer.subscribe(&["orders"])?;
/// let group = Group::of(&consumer).expect("a consumer in a group");
/// loop {
///     let message = consumer.recv().await?;
///     handle(&message, &group).await;
///     consumer.commit_message(&message, rdkafka::consumer::CommitMode::Async)?;
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group(Arc<str>);

impl Group {
    /// The group named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        Group(name.into())
    }

    /// The group `consumer` was configured with (`group.id`), or `None` for a consumer without
    /// one.
    ///
    /// It waits for librdkafka's main thread to answer: call it once, when the consumer is
    /// made, and never from inside one of librdkafka's callbacks (a `ClientContext` or
    /// `ConsumerContext` method), which run on that thread.
    pub fn of<C: Consumer<X>, X: ConsumerContext>(consumer: &C) -> Option<Self> {
        let client = consumer.client().native_ptr();
        // SAFETY: `client` is the live handle of `consumer`, borrowed for this call. The
        // metadata librdkafka returns is a copy owned by the caller: its group id is read (a
        // NUL-terminated string that lives as long as the metadata) and copied before the
        // metadata is destroyed, once.
        unsafe {
            let metadata = bindings::rd_kafka_consumer_group_metadata(client);
            if metadata.is_null() {
                return None;
            }
            let id = bindings::rd_kafka_consumer_group_metadata_group_id(metadata);
            let name = (!id.is_null())
                .then(|| CStr::from_ptr(id).to_string_lossy().into_owned())
                .filter(|name| !name.is_empty());
            bindings::rd_kafka_consumer_group_metadata_destroy(metadata);
            name.map(Group::new)
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// `message` as a carrier that knows it was consumed in this group.
    pub fn message<'a, M>(&'a self, message: &'a M) -> InGroup<'a, M> {
        InGroup {
            message,
            group: self,
        }
    }
}

/// A received message and the [`Group`] it was consumed in: the message's headers and
/// attributes, and `messaging.consumer.group.name`. Made by [`Group::message`].
#[derive(Clone, Copy, Debug)]
pub struct InGroup<'a, M> {
    message: &'a M,
    group: &'a Group,
}

impl<M: Extract> Extract for InGroup<'_, M> {
    fn get(&self, key: &str) -> Option<&str> {
        self.message.get(key)
    }
    fn keys(&self) -> Vec<&str> {
        self.message.keys()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.message.get_all(key)
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        self.message.message_attributes(attributes);
        attributes.push(KeyValue::new(
            "messaging.consumer.group.name",
            self.group.name().to_owned(),
        ));
    }
}

impl Inject for OwnedHeaders {
    fn set(&mut self, key: &str, value: String) {
        // A name with a NUL is not written: librdkafka finds and removes headers by C string,
        // so it could never be read back or replaced as itself.
        if key.contains('\0') {
            return;
        }
        // librdkafka appends: remove the earlier headers of `key` first, so there is one.
        with_name(key, |name| {
            let list = native(self.as_borrowed()).cast_mut();
            // SAFETY: `self` is borrowed mutably, so nothing else reads the list while
            // librdkafka removes from it; an `OwnedHeaders` list is writable (rdkafka's own
            // `insert` adds to it the same way), and `name` is alive for the call. `NOENT` (no
            // such header) leaves it as it was.
            unsafe { bindings::rd_kafka_header_remove(list, name.as_ptr()) };
            Some(())
        });
        *self = std::mem::take(self).insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::Timestamp;
    use rdkafka::message::Headers;

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
        assert_eq!(Extract::get_all(&headers, "traceparent"), ["last"]);
        assert_eq!(Extract::get(&headers, "baggage"), None);
        headers.set("traceparent", "new".into());
        assert_eq!(Extract::get_all(&headers, "traceparent"), ["new"]);
        assert_eq!(headers.count(), 2);
    }

    #[test]
    fn an_unreadable_last_header_hides_the_earlier_ones() {
        // A valid value followed by a null or a non-UTF-8 one: the last header decides, and it
        // is unreadable, so the key is absent (lastHeader's reading, not the last readable).
        for unreadable in [None, Some(&[0xffu8, 0xfe][..]), Some(&b""[..])] {
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "traceparent",
                    value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
                })
                .insert(Header {
                    key: "traceparent",
                    value: unreadable,
                });
            assert_eq!(
                Extract::get(&headers, "traceparent"),
                None,
                "{unreadable:?}"
            );
        }
        // Keys are case-sensitive: `Traceparent` is another header.
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "traceparent",
                value: Some("kept"),
            })
            .insert(Header {
                key: "Traceparent",
                value: None::<&[u8]>,
            });
        assert_eq!(Extract::get(&headers, "traceparent"), Some("kept"));
    }

    #[test]
    fn a_group_is_read_from_its_consumer() {
        use rdkafka::consumer::BaseConsumer;
        // Creating a consumer connects to nothing yet: no broker is needed.
        let consumer = |group: Option<&str>| {
            let mut config = rdkafka::ClientConfig::new();
            config.set("bootstrap.servers", "127.0.0.1:1");
            if let Some(group) = group {
                config.set("group.id", group);
            }
            config.create::<BaseConsumer>().unwrap()
        };
        let billing = consumer(Some("billing"));
        assert_eq!(Group::of(&billing), Some(Group::new("billing")));
        assert_eq!(Group::of(&consumer(None)), None);

        let message = OwnedMessage::new(
            None,
            None,
            "orders".into(),
            Timestamp::NotAvailable,
            0,
            7,
            None,
        );
        let group = Group::new("billing");
        let mut found = Vec::new();
        group.message(&message).message_attributes(&mut found);
        assert_eq!(
            found.last(),
            Some(&KeyValue::new("messaging.consumer.group.name", "billing"))
        );
        assert_eq!(found.len(), attributes(&message).len() + 1);
    }

    #[test]
    fn a_hostile_key_is_skipped() {
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "traceparent",
                value: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            })
            .insert(Header {
                key: "baggage",
                value: Some("a=1"),
            });
        // The list tracebound reads is the one rdkafka reads.
        let list = native(headers.as_borrowed());
        assert_eq!(
            unsafe { bindings::rd_kafka_header_cnt(list) },
            headers.count()
        );
        assert_eq!(names(headers.as_borrowed()), ["traceparent", "baggage"]);
        // A producer sent a key that is not UTF-8, and one with a NUL inside
        // (`traceparent\0x`, which must not read as `traceparent`): rdkafka's own
        // iteration would panic on the first.
        for raw in [&b"\xff\xfe"[..], &b"traceparent\0x"[..]] {
            let value = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            let added = unsafe {
                bindings::rd_kafka_header_add(
                    list.cast_mut(),
                    raw.as_ptr().cast(),
                    raw.len() as isize,
                    value.as_ptr().cast(),
                    value.len() as isize,
                )
            };
            assert_eq!(
                added,
                bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            );
        }
        assert_eq!(
            Extract::get(&headers, "traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(Extract::get(&headers, "baggage"), Some("a=1"));
        // The NUL-cut name is listed as what precedes the NUL; the other is left out.
        assert_eq!(headers.keys(), ["traceparent", "baggage", "traceparent"]);
        // Injecting into such headers neither panics nor drops the stranger's header.
        headers.set("baggage", "b=2".into());
        assert_eq!(Extract::get(&headers, "baggage"), Some("b=2"));
        assert_eq!(
            unsafe { bindings::rd_kafka_header_cnt(native(headers.as_borrowed())) },
            4
        );
        // A key longer than the stack buffer, and one with a NUL.
        let long = "x".repeat(100);
        headers.set(&long, "long".into());
        assert_eq!(Extract::get(&headers, &long), Some("long"));
        assert_eq!(Extract::get(&headers, "trace\0parent"), None);
        // A baggage key set by the application can hold a NUL, and the Jaeger propagator
        // writes one header per baggage key: such a name is not written.
        let before = headers.count();
        headers.set("uberctx-a\0b", "1".into());
        assert_eq!(headers.count(), before);
    }
}
