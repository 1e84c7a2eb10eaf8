//! Where trace headers travel: the [`Extract`] and [`Inject`] traits and their implementations
//! for the message and request types of each integration.
//!
//! Every implementation follows the same rules, so that a header written by a stranger can
//! never crash a consumer or corrupt a message:
//!
//! - A value is read only if it is non-empty, at most [`MAX_VALUE_LEN`] bytes, valid UTF-8 and
//!   free of control characters; anything else reads as absent, and the context starts fresh.
//! - A value is written only if the carrier can hold it as is; nothing that could split a
//!   header line (CR, LF) or that the broker would reject is ever written.
//! - Where a protocol matches keys case-insensitively (HTTP, NATS), so does the carrier; where
//!   it allows a key more than once, the carrier documents which value wins.

mod map;

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "kafka")]
pub(crate) mod kafka;
#[cfg(feature = "lapin")]
mod lapin;
#[cfg(feature = "mqtt")]
mod mqtt;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "tonic")]
mod tonic;

use opentelemetry::KeyValue;
use opentelemetry::propagation::{Extractor, Injector};

/// The longest header value tracebound reads or writes, in bytes: W3C `baggage`'s limit, and
/// far above what a `traceparent` (55 bytes) or a `tracestate` (at most 512) needs.
pub const MAX_VALUE_LEN: usize = 8192;

/// A carrier that incoming trace context can be read from: message headers, request headers,
/// the process environment.
///
/// `&C`, `&mut C`, `Box<C>` and `Option<C>` are carriers whenever `C` is; `None` holds no
/// context.
///
/// ```
/// use std::collections::HashMap;
/// use tracebound::Extract;
///
/// let headers = HashMap::from([(
///     "traceparent".to_owned(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
/// )]);
/// assert!(headers.get("traceparent").is_some());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a carrier tracebound can read trace headers from",
    label = "this must implement `tracebound::Extract`",
    note = "carriers: HashMap<String, String>, HashMap<String, Vec<u8>>, Vec<(String, Vec<u8>)>, \
            http::HeaderMap (feature `http`), tonic's MetadataMap (feature `tonic`), lapin's \
            FieldTable (feature `lapin`), async_nats::HeaderMap (feature `nats`), rdkafka \
            headers (feature `kafka`), redis stream entries (feature `redis`), MQTT 5 \
            PublishProperties (feature `mqtt`), \
            those crates' whole messages (lapin's Delivery, async_nats::Message, rdkafka's \
            BorrowedMessage, rumqttc's v5 Publish), and `&C` / `Option<C>` of these"
)]
pub trait Extract {
    /// The value under `key`, if present and readable as a header value.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every key present, readable or not.
    fn keys(&self) -> Vec<&str>;

    /// Every readable value under `key`, in the carrier's order, for carriers that can repeat a
    /// key. The default is the one value of [`get`](Extract::get).
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }

    /// The messaging attributes a whole message knows about itself (its destination, message id,
    /// partition and offset…), added by `#[traced_consumer]` to the span it starts, after the
    /// attributes the macro's options set (which win). Header maps know none; the message types
    /// of lapin, async-nats and rdkafka do.
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        let _ = attributes;
    }
}

/// A carrier that outgoing trace context can be written to.
///
/// ```
/// use std::collections::HashMap;
/// use tracebound::Inject;
///
/// let mut headers = HashMap::<String, String>::new();
/// headers.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
/// assert_eq!(headers.len(), 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a carrier tracebound can write trace headers to",
    label = "this must implement `tracebound::Inject`",
    note = "carriers: HashMap<String, String>, HashMap<String, Vec<u8>>, Vec<(String, Vec<u8>)>, \
            http::HeaderMap (feature `http`), tonic's MetadataMap (feature `tonic`), lapin's \
            FieldTable (feature `lapin`), async_nats::HeaderMap (feature `nats`), rdkafka's \
            OwnedHeaders (feature `kafka`), MQTT 5 PublishProperties (feature `mqtt`)"
)]
pub trait Inject {
    /// Stores `value` under `key`, replacing earlier values of `key`. A value the carrier cannot
    /// hold safely is not written.
    fn set(&mut self, key: &str, value: String);
}

/// `Extract` for a pointer to a carrier: the pointee's.
macro_rules! delegate {
    ($($pointer:ty),*) => {$(
        impl<C: Extract + ?Sized> Extract for $pointer {
            fn get(&self, key: &str) -> Option<&str> {
                (**self).get(key)
            }
            fn keys(&self) -> Vec<&str> {
                (**self).keys()
            }
            fn get_all(&self, key: &str) -> Vec<&str> {
                (**self).get_all(key)
            }
            fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
                (**self).message_attributes(attributes)
            }
        }
    )*};
}

delegate!(&C, &mut C, Box<C>);

impl<C: Extract> Extract for Option<C> {
    fn get(&self, key: &str) -> Option<&str> {
        self.as_ref()?.get(key)
    }
    fn keys(&self) -> Vec<&str> {
        self.as_ref().map(Extract::keys).unwrap_or_default()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.as_ref().map(|c| c.get_all(key)).unwrap_or_default()
    }
    fn message_attributes(&self, attributes: &mut Vec<KeyValue>) {
        if let Some(c) = self {
            c.message_attributes(attributes);
        }
    }
}

impl<C: Inject + ?Sized> Inject for &mut C {
    fn set(&mut self, key: &str, value: String) {
        (**self).set(key, value);
    }
}

/// `bytes` as a header value, if it is one tracebound reads.
pub(crate) fn readable(bytes: &[u8]) -> Option<&str> {
    if bytes.is_empty() || bytes.len() > MAX_VALUE_LEN {
        return None;
    }
    readable_str(std::str::from_utf8(bytes).ok()?)
}

/// `text` as a header value, if it is one tracebound reads: [`readable`] for a carrier whose
/// values are strings already, without checking their UTF-8 again.
pub(crate) fn readable_str(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_VALUE_LEN {
        return None;
    }
    // The common value, printable ASCII, in one pass without branches (it vectorizes).
    if bytes
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
    {
        return Some(text);
    }
    // Horizontal tabs are whitespace in an HTTP field value (RFC 9110 §5.5), and W3C
    // `tracestate` and `baggage` allow them around list members. The control characters are
    // C0 and DEL, single bytes, and C1 (U+0080 to U+009F), encoded as 0xC2 0x80 to 0xC2 0x9F.
    let control = |(i, &b): (usize, &u8)| {
        (b < 0x20 && b != b'\t')
            || b == 0x7f
            || (b == 0xc2 && bytes.get(i + 1).is_some_and(|&n| n < 0xa0))
    };
    (!bytes.iter().enumerate().any(control)).then_some(text)
}

/// Whether tracebound writes `value` into a carrier.
pub(crate) fn writable(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE_LEN
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// An [`Extract`] carrier seen through OpenTelemetry's [`Extractor`], for propagators.
pub(crate) struct AsExtractor<'a, C: ?Sized>(pub &'a C);

impl<C: Extract + ?Sized> Extractor for AsExtractor<'_, C> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values = self.0.get_all(key);
        (!values.is_empty()).then_some(values)
    }
}

/// An [`Inject`] carrier seen through OpenTelemetry's [`Injector`], for propagators.
pub(crate) struct AsInjector<'a, C: ?Sized>(pub &'a mut C);

impl<C: Inject + ?Sized> Injector for AsInjector<'_, C> {
    fn set(&mut self, key: &str, value: String) {
        if writable(&value) {
            self.0.set(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_rejects_what_a_header_cannot_be() {
        assert_eq!(readable(b"00-abc"), Some("00-abc"));
        assert_eq!(readable(b""), None);
        assert_eq!(readable(&[0xff, 0xfe]), None);
        assert_eq!(readable(b"a\r\nb"), None);
        assert_eq!(readable(b"a\0b"), None);
        assert_eq!(readable(b"a=1 \t, b=2"), Some("a=1 \t, b=2"));
        assert_eq!(readable(b"a\x7fb"), None);
        assert_eq!(readable("a\u{85}b".as_bytes()), None);
        assert_eq!(readable("a\u{9f}".as_bytes()), None);
        assert_eq!(
            readable("caf\u{e9} \u{a0}\u{100}".as_bytes()),
            Some("caf\u{e9} \u{a0}\u{100}")
        );
        assert_eq!(readable(&vec![b'a'; MAX_VALUE_LEN + 1]), None);
        assert!(readable(&vec![b'a'; MAX_VALUE_LEN]).is_some());
    }

    #[test]
    fn writable_refuses_anything_that_could_split_a_header() {
        assert!(writable(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!writable("a\r\nx-evil: 1"));
        assert!(!writable("tab\there"));
        assert!(!writable("é"));
        assert!(!writable(""));
    }
}
