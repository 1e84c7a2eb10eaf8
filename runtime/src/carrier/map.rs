//! Plain collections as carriers.
//!
//! - `HashMap<String, String>` and `HashMap<String, Vec<u8>>`: the exact key first, then an ASCII
//!   case-insensitive match, so `Traceparent` written by a client that capitalizes header names
//!   is found. Writing replaces every case variant of the key.
//! - `Vec<(String, Vec<u8>)>`, the shape of Kafka record headers: keys are case-sensitive and may
//!   repeat; the **last** value wins, as with the Kafka clients' `lastHeader`. Writing removes
//!   earlier values of the key and appends the new one.

use super::{Extract, Inject, readable};
use std::collections::HashMap;
use std::hash::BuildHasher;

fn lookup<'a, V: 'a, S: BuildHasher>(
    map: &'a HashMap<String, V, S>,
    key: &str,
    bytes: impl Fn(&'a V) -> &'a [u8],
) -> Option<&'a str> {
    match map.get(key) {
        Some(value) => readable(bytes(value)),
        None => map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| readable(bytes(v))),
    }
}

fn replace<V, S: BuildHasher>(map: &mut HashMap<String, V, S>, key: &str, value: V) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(key));
    map.insert(key.to_owned(), value);
}

impl<S: BuildHasher> Extract for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        lookup(self, key, |v| v.as_bytes())
    }
    fn keys(&self) -> Vec<&str> {
        self.keys().map(String::as_str).collect()
    }
}

impl<S: BuildHasher> Inject for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        replace(self, key, value);
    }
}

impl<S: BuildHasher> Extract for HashMap<String, Vec<u8>, S> {
    fn get(&self, key: &str) -> Option<&str> {
        lookup(self, key, |v| v.as_slice())
    }
    fn keys(&self) -> Vec<&str> {
        self.keys().map(String::as_str).collect()
    }
}

impl<S: BuildHasher> Inject for HashMap<String, Vec<u8>, S> {
    fn set(&mut self, key: &str, value: String) {
        replace(self, key, value.into_bytes());
    }
}

impl Extract for Vec<(String, Vec<u8>)> {
    fn get(&self, key: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| readable(v))
    }
    fn keys(&self) -> Vec<&str> {
        self.iter().map(|(k, _)| k.as_str()).collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k == key)
            .filter_map(|(_, v)| readable(v))
            .collect()
    }
}

impl Inject for Vec<(String, Vec<u8>)> {
    fn set(&mut self, key: &str, value: String) {
        self.retain(|(k, _)| k != key);
        self.push((key.to_owned(), value.into_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_maps_match_keys_case_insensitively_exact_first() {
        let mut map = HashMap::from([("Traceparent".to_owned(), "upper".to_owned())]);
        assert_eq!(Extract::get(&map, "traceparent"), Some("upper"));
        map.insert("traceparent".into(), "exact".into());
        assert_eq!(Extract::get(&map, "traceparent"), Some("exact"));
        map.set("traceparent", "new".into());
        assert_eq!(map.len(), 1, "every case variant is replaced: {map:?}");
        assert_eq!(Extract::get(&map, "TRACEPARENT"), Some("new"));
    }

    #[test]
    fn byte_maps_skip_values_that_are_not_text() {
        let map = HashMap::from([
            ("traceparent".to_owned(), vec![0xc3, 0x28]),
            ("tracestate".to_owned(), b"a=b".to_vec()),
            ("baggage".to_owned(), Vec::new()),
        ]);
        assert_eq!(Extract::get(&map, "traceparent"), None);
        assert_eq!(Extract::get(&map, "tracestate"), Some("a=b"));
        assert_eq!(Extract::get(&map, "baggage"), None);
    }

    #[test]
    fn record_headers_resolve_repeats_to_the_last_value() {
        let mut headers: Vec<(String, Vec<u8>)> = vec![
            ("traceparent".into(), b"first".to_vec()),
            ("TRACEPARENT".into(), b"other-case".to_vec()),
            ("traceparent".into(), b"last".to_vec()),
        ];
        assert_eq!(Extract::get(&headers, "traceparent"), Some("last"));
        assert_eq!(headers.get_all("traceparent"), ["first", "last"]);
        headers.set("traceparent", "new".into());
        assert_eq!(headers.get_all("traceparent"), ["new"]);
        assert_eq!(headers.len(), 2);
    }
}
