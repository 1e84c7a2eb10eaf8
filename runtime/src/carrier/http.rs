//! `http::HeaderMap` (feature `http`). Names are case-insensitive by construction. A repeated
//! header reads as its **first** value through [`Extract::get`], as HTTP propagators do; every
//! value is available through [`Extract::get_all`]. Writing replaces all values of the name; a
//! name or value `http` would reject is not written.

use super::{Extract, Inject, readable};
use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The header names the propagators ask for, made once: a lookup by one of them skips parsing
/// and hashing the name from a string.
fn known(key: &str) -> Option<&'static HeaderName> {
    static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    static BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    match key {
        "traceparent" => Some(&TRACEPARENT),
        "tracestate" => Some(&TRACESTATE),
        "baggage" => Some(&BAGGAGE),
        _ => None,
    }
}

impl Extract for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match known(key) {
            Some(name) => self.get(name),
            None => self.get(key),
        };
        value.and_then(|v| readable(v.as_bytes()))
    }
    fn keys(&self) -> Vec<&str> {
        self.keys().map(HeaderName::as_str).collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        let values = match known(key) {
            Some(name) => self.get_all(name),
            None => self.get_all(key),
        };
        values
            .iter()
            .filter_map(|v| readable(v.as_bytes()))
            .collect()
    }
}

impl Inject for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(key), HeaderValue::try_from(value)) {
            // `try_insert` fails only when the map is at its maximum size: drop the header then.
            let _ = self.try_insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_all_values_are_listed() {
        let mut map = HeaderMap::new();
        map.append("traceparent", HeaderValue::from_static("first"));
        map.append("traceparent", HeaderValue::from_static("second"));
        map.append("tracestate", HeaderValue::from_bytes(&[0xff]).unwrap());
        assert_eq!(Extract::get(&map, "TraceParent"), Some("first"));
        assert_eq!(Extract::get_all(&map, "traceparent"), ["first", "second"]);
        assert_eq!(Extract::get(&map, "tracestate"), None);
        map.set("traceparent", "new".into());
        assert_eq!(Extract::get_all(&map, "traceparent"), ["new"]);
        map.set("bad name", "x".into());
        map.set("ok", "bad\nvalue".into());
        assert_eq!(map.len(), 2);
    }
}
