//! A `tracing` event as an OpenTelemetry span event, mapped as tracing-opentelemetry 0.34 maps
//! them with its defaults: the `message` field names the event (else the event's own name,
//! `event file:line`); `level` and `target` come first among the attributes; an `error` field
//! on an event with no message yet makes an `exception` event with `exception.message` and sets
//! the span's status to that error; an error value (`record_error`) adds `exception.message`
//! and `exception.stacktrace` (the source chain) to the event and the span; an `ERROR` event
//! sets the span's status to error.

use opentelemetry::trace::{SpanRef, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use std::borrow::Cow;
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level};

const EXCEPTION: &str = "exception";
const EXCEPTION_MESSAGE: &str = "exception.message";
const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

/// Records `event` on `span`, which is recording.
pub(super) fn record(event: &Event<'_>, span: &SpanRef<'_>) {
    let meta = event.metadata();
    let mut visitor = Visitor {
        name: None,
        attributes: Vec::with_capacity(meta.fields().len() + 2),
        status: None,
        span_attributes: Vec::new(),
    };
    visitor
        .attributes
        .push(KeyValue::new("level", meta.level().as_str()));
    visitor
        .attributes
        .push(KeyValue::new("target", meta.target()));
    event.record(&mut visitor);
    let status = match visitor.status {
        Some(status) => Some(status),
        None if *meta.level() == Level::ERROR => Some(Status::error("")),
        None => None,
    };
    if let Some(status) = status {
        span.set_status(status);
    }
    if !visitor.span_attributes.is_empty() {
        span.set_attributes(visitor.span_attributes);
    }
    let name = match visitor.name {
        Some(name) if !name.is_empty() => name,
        _ => Cow::Borrowed(meta.name()),
    };
    span.add_event(name, visitor.attributes);
}

struct Visitor {
    name: Option<Cow<'static, str>>,
    attributes: Vec<KeyValue>,
    status: Option<Status>,
    span_attributes: Vec<KeyValue>,
}

impl Visitor {
    /// A field other than the message or an error's text.
    fn attribute(&mut self, field: &Field, value: impl Into<Value>) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    /// A field given as text: the message, an `error` field (`%e` or `?e`, as
    /// `#[instrument(err)]` records it) on an event with no message yet, or an attribute.
    fn text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.name = Some(text.into()),
            "error" if self.name.as_ref().is_none_or(|n| n.is_empty()) => {
                self.status = Some(Status::error(text.clone()));
                self.name = Some(Cow::Borrowed(EXCEPTION));
                self.attributes.push(KeyValue::new(EXCEPTION_MESSAGE, text));
            }
            name => self.attributes.push(KeyValue::new(name, text)),
        }
    }
}

impl Visit for Visitor {
    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "message" => self.name = Some(value.to_string().into()),
            _ => self.attribute(field, value),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match field.name() {
            "message" => self.name = Some(value.to_string().into()),
            _ => self.attribute(field, value),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match field.name() {
            "message" => self.name = Some(value.to_string().into()),
            _ => self.attribute(field, value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match (field.name(), i64::try_from(value)) {
            ("message", _) | (_, Err(_)) => self.text(field, value.to_string()),
            (_, Ok(value)) => self.attribute(field, value),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // As tracing-opentelemetry does: an error's text is quoted, other text is not.
        let error = field.name() == "error" && self.name.as_ref().is_none_or(|n| n.is_empty());
        self.text(
            field,
            if error {
                format!("{value:?}")
            } else {
                value.to_owned()
            },
        );
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let mut chain: Vec<StringValue> = Vec::new();
        let mut next = value.source();
        while let Some(e) = next {
            chain.push(e.to_string().into());
            next = e.source();
        }
        let message = value.to_string();
        let exception = [
            KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
            KeyValue::new(
                EXCEPTION_STACKTRACE,
                Value::Array(Array::String(chain.clone())),
            ),
        ];
        self.attributes.extend(exception.iter().cloned());
        self.span_attributes.extend(exception);
        self.attributes.push(KeyValue::new(field.name(), message));
        self.attributes.push(KeyValue::new(
            format!("{}.chain", field.name()),
            Value::Array(Array::String(chain)),
        ));
    }
}
