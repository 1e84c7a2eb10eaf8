//! The `tracestate` header of W3C Trace Context Level 2: its grammar, its limits and how a
//! forwarded list is written (spec/20-http_request_header_format.md, "Tracestate Header", and
//! spec/30-processing-model.md).
//!
//! OpenTelemetry's [`TraceState`] checks keys by an older grammar (one `@` at most, a short
//! vendor part), so some valid lists cannot be held by it whole. Their members are kept in the
//! context beside the span context ([`Received`]) and written back in their place, around the
//! entries a sampler added or changed.

use crate::carrier::MAX_VALUE_LEN;
use opentelemetry::Context;
use opentelemetry::trace::{TraceId, TraceState};

/// The most list members a `tracestate` holds (§ "tracestate Header Field Values").
pub(crate) const MAX_MEMBERS: usize = 32;

/// Entries longer than this are the first dropped when a list must be shortened
/// (§ "tracestate Limits").
const LONG_ENTRY: usize = 128;

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`,
/// `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn is_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.len() <= 256
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'))
}

/// `value = 0*255(chr) nblk-chr`, `chr = %x20 / nblk-chr`,
/// `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`: printable ASCII but `,` and `=`, not ending in a
/// space, 1 to 256 characters.
fn is_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    matches!(bytes.last(), Some(&last) if last != b' ')
        && bytes.len() <= 256
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// At most 32 list members, each key once, in order: what is read and what is written.
struct Members<'a> {
    list: [(&'a str, &'a str); MAX_MEMBERS],
    len: usize,
}

/// A 33rd member.
struct Full;

impl<'a> Members<'a> {
    fn new() -> Self {
        Members {
            list: [("", ""); MAX_MEMBERS],
            len: 0,
        }
    }

    /// Adds `key=value` after the others; a key already there keeps its place and value (the
    /// left one is the most recent position, § "Combined Header Value").
    fn add(&mut self, key: &'a str, value: &'a str) -> Result<(), Full> {
        if self.as_slice().iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        let slot = self.list.get_mut(self.len).ok_or(Full)?;
        *slot = (key, value);
        self.len += 1;
        Ok(())
    }

    fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.list[..self.len]
    }
}

/// The list members of the `tracestate` header fields `fields`, combined in order, or `None`
/// if the list is invalid and must be discarded whole: a member that is not `key=value` by the
/// grammar, or more than 32 members. Spaces and horizontal tabs around members are ignored;
/// empty and whitespace-only members are allowed and not counted. A key repeated further right
/// is dropped.
fn parse<'a>(fields: &[&'a str]) -> Option<Members<'a>> {
    let mut members = Members::new();
    for field in fields {
        for raw in field.split(',') {
            let raw = raw.trim_matches([' ', '\t']);
            if raw.is_empty() {
                continue;
            }
            let (key, value) = raw.split_once('=')?;
            if !is_key(key) || !is_value(value) {
                return None;
            }
            members.add(key, value).ok()?;
        }
    }
    Some(members)
}

/// The trace state for a received list, and the whole list when OpenTelemetry's [`TraceState`]
/// refuses some of its keys.
pub(crate) fn receive(fields: &[&str]) -> (TraceState, Option<Vec<(String, String)>>) {
    if fields.is_empty() {
        return (TraceState::NONE, None);
    }
    let Some(members) = parse(fields) else {
        return (TraceState::NONE, None);
    };
    let members = members.as_slice();
    if let Ok(state) = TraceState::from_key_value(members.iter().copied()) {
        return (state, None);
    }
    // Keys OpenTelemetry's older grammar refuses (`foo@@bar`, a long vendor part): its trace
    // state holds the others, and the list goes on whole beside it.
    let accepted = members
        .iter()
        .filter(|member| TraceState::from_key_value([**member]).is_ok())
        .copied();
    let state = TraceState::from_key_value(accepted).unwrap_or_default();
    let whole = members
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    (state, Some(whole))
}

/// A received `tracestate` that OpenTelemetry's [`TraceState`] could not hold whole, kept in the
/// context for the trace it arrived with.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) trace_id: TraceId,
    /// The trace state made from it: the members OpenTelemetry accepted.
    pub(crate) held: TraceState,
    /// Every member, in order.
    pub(crate) whole: Vec<(String, String)>,
}

/// The `tracestate` header value to send for `state` in `cx`, or `None` for an empty list.
///
/// Received members that `state` could not hold are written back in their place; entries that
/// a sampler added or changed come first (§ "Mutating the tracestate Field": an updated or new
/// entry moves to the left). At most 32 members and [`MAX_VALUE_LEN`] bytes are written: the
/// rightmost member goes above 32, then entries longer than 128 characters and then the
/// rightmost ones until the value fits (§ "tracestate Limits").
pub(crate) fn header(cx: &Context, trace_id: TraceId, state: &TraceState) -> Option<String> {
    let received = cx.get::<Received>().filter(|r| r.trace_id == trace_id);
    write(collect(received, state).as_slice())
}

/// The members to send, in order: `state`'s, or with `received` the merge described at
/// [`header`]; past 32, the rightmost are dropped.
fn collect<'a>(received: Option<&'a Received>, state: &'a TraceState) -> Members<'a> {
    let mut members = Members::new();
    let mut push = |(key, value): (&'a str, &'a str)| {
        let _ = members.add(key, value);
    };
    match received {
        None => state.into_iter().for_each(push),
        Some(received) => {
            // What the sampler made: entries not received as they are.
            let changed = |(k, v): &(&str, &str)| received.held.get(k) != Some(*v);
            state.into_iter().filter(changed).for_each(&mut push);
            // Then the received list in its order, but for the entries the sampler removed.
            for (key, value) in &received.whole {
                let held = received.held.get(key).is_some();
                if !held || state.get(key).is_some() {
                    push((key.as_str(), value.as_str()));
                }
            }
        }
    }
    members
}

/// `key=value,…` for `members`, shortened to fit [`MAX_VALUE_LEN`] by whole entries.
fn write(members: &[(&str, &str)]) -> Option<String> {
    let entry = |(k, v): &(&str, &str)| k.len() + 1 + v.len();
    let mut keep = [true; MAX_MEMBERS];
    let mut len = members.iter().map(entry).sum::<usize>() + members.len().saturating_sub(1);
    while len > MAX_VALUE_LEN {
        let long = (0..members.len())
            .rev()
            .find(|&i| keep[i] && entry(&members[i]) > LONG_ENTRY);
        let drop = long.or_else(|| (0..members.len()).rev().find(|&i| keep[i]))?;
        keep[drop] = false;
        len -= entry(&members[drop]) + 1;
    }
    let mut out = String::with_capacity(len);
    for (member, _) in members.iter().zip(keep).filter(|(_, keep)| *keep) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(member.0);
        out.push('=');
        out.push_str(member.1);
    }
    (!out.is_empty()).then_some(out)
}
