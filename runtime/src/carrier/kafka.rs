//! rdkafka record headers (feature `kafka`): `OwnedHeaders` to write and read, and the
//! `BorrowedHeaders` of a received message to read. Kafka header keys are case-sensitive and
//! may repeat; the **last** value wins, as with the Kafka clients' `lastHeader`. Headers
//! without a value read as absent.

use super::{Extract, Inject, readable};
use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};

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
