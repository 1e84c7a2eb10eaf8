//! `tonic::metadata::MetadataMap` (feature `tonic`): gRPC's request and response metadata.
//! Keys are case-insensitive, as in HTTP. Only ASCII metadata is read or written: binary
//! (`-bin`) keys are not listed, read or written. A repeated key reads as its **first** value
//! through [`Extract::get`], every value through [`Extract::get_all`]. Writing replaces all
//! values of the key; a key or value gRPC would reject is not written.

use super::{Extract, Inject, readable};
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, KeyRef, MetadataMap};

impl Extract for MetadataMap {
    fn get(&self, key: &str) -> Option<&str> {
        if key.ends_with("-bin") {
            return None;
        }
        self.get(key).and_then(|v| readable(v.as_encoded_bytes()))
    }
    fn keys(&self) -> Vec<&str> {
        self.keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        if key.ends_with("-bin") {
            return Vec::new();
        }
        self.get_all(key)
            .iter()
            .filter_map(|v| readable(v.as_encoded_bytes()))
            .collect()
    }
}

impl Inject for MetadataMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            AsciiMetadataKey::from_bytes(key.as_bytes()),
            AsciiMetadataValue::try_from(value),
        ) {
            self.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    #[test]
    fn ascii_keys_only_first_value_wins() {
        let mut map = MetadataMap::new();
        map.append("traceparent", "first".parse().unwrap());
        map.append("traceparent", "second".parse().unwrap());
        map.insert_bin("trace-bin", MetadataValue::from_bytes(b"\xff\x00"));
        assert_eq!(Extract::get(&map, "TraceParent"), Some("first"));
        assert_eq!(Extract::get_all(&map, "traceparent"), ["first", "second"]);
        assert_eq!(Extract::get(&map, "trace-bin"), None);
        assert_eq!(Extract::keys(&map), ["traceparent"]);
        map.set("traceparent", "new".into());
        assert_eq!(Extract::get_all(&map, "traceparent"), ["new"]);
        map.set("evil-bin", "x".into());
        map.set("bad key", "x".into());
        map.set("ok", "bad\nvalue".into());
        assert_eq!(map.len(), 2);
    }
}
