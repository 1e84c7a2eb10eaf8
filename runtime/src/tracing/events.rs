//! A `tracing` event as an OpenTelemetry span event, mapped as tracing-opentelemetry 0.34 maps
//! them with its defaults: the `message` field names the event (else the event's own name,
//! `event file:line`); `level` and `target` come first among the attributes; an `error` field
//! on an event with no message yet makes an `exception` event with `exception.message` and sets
//! the span's status to that error; an error value (`record_error`) adds `exception.message`
//! and `exception.stacktrace` (the source chain) to the event and the span; an `ERROR` event
//! sets the span's status to error; the event's place in the code is `code.file.path`,
//! `code.module.name` and `code.line.number`. A record of the `log` crate (through
//! `tracing-log`) gives its own target and place; its `log.*` fields are not attributes.

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
        attributes: Vec::with_capacity(meta.fields().len() + 5),
        status: None,
        span_attributes: Vec::new(),
        log: None,
    };
    visitor
        .attributes
        .push(KeyValue::new("level", meta.level().as_str()));
    visitor
        .attributes
        .push(KeyValue::new("target", meta.target()));
    event.record(&mut visitor);
    match visitor.log.take() {
        Some(log) => {
            if let Some(target) = log.target {
                visitor.attributes[1] = KeyValue::new("target", target);
            }
            visitor.place(
                log.file.map(Value::from),
                log.module.map(Value::from),
                log.line,
            );
        }
        None => visitor.place(
            meta.file().map(Value::from),
            meta.module_path().map(Value::from),
            meta.line().map(i64::from),
        ),
    }
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
    /// What a record of the `log` crate says of itself.
    log: Option<LogRecord>,
}

#[derive(Default)]
struct LogRecord {
    target: Option<String>,
    file: Option<String>,
    module: Option<String>,
    line: Option<i64>,
}

impl Visitor {
    /// The event's place in the code.
    fn place(&mut self, file: Option<Value>, module: Option<Value>, line: Option<i64>) {
        if let Some(file) = file {
            self.attributes.push(KeyValue::new("code.file.path", file));
        }
        if let Some(module) = module {
            self.attributes
                .push(KeyValue::new("code.module.name", module));
        }
        if let Some(line) = line {
            self.attributes
                .push(KeyValue::new("code.line.number", line));
        }
    }

    /// A `log.*` field of a record of the `log` crate; false for any other field.
    fn log_field(
        &mut self,
        field: &Field,
        text: impl FnOnce() -> String,
        line: Option<i64>,
    ) -> bool {
        let Some(key) = field.name().strip_prefix("log.") else {
            return false;
        };
        let log = self.log.get_or_insert_with(LogRecord::default);
        match key {
            "target" => log.target = Some(text()),
            "file" => log.file = Some(text()),
            "module_path" => log.module = Some(text()),
            "line" => log.line = line,
            _ => {}
        }
        true
    }

    /// Whether the event has no message yet (an `error` field then names it).
    fn unnamed(&self) -> bool {
        self.name.as_ref().is_none_or(|n| n.is_empty())
    }

    /// A field given as a number or a boolean: the message, or an attribute.
    fn scalar(&mut self, field: &Field, value: impl Into<Value> + ToString) {
        match field.name() {
            "message" => self.name = Some(value.to_string().into()),
            name => self.attributes.push(KeyValue::new(name, value)),
        }
    }

    /// A field given as text: the message, an `error` field (`%e` or `?e`, as
    /// `#[instrument(err)]` records it) on an event with no message yet, or an attribute.
    fn text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.name = Some(text.into()),
            "error" if self.unnamed() => {
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
        self.scalar(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.scalar(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.log_field(field, || value.to_string(), Some(value)) {
            self.scalar(field, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.log_field(field, || value.to_string(), i64::try_from(value).ok()) {
            return;
        }
        match i64::try_from(value) {
            Ok(value) => self.scalar(field, value),
            Err(_) => self.text(field, value.to_string()),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.log_field(field, || value.to_owned(), None) {
            return;
        }
        // As tracing-opentelemetry does: an error's text is quoted, other text is not.
        let error = field.name() == "error" && self.unnamed();
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
        if self.log_field(field, || format!("{value:?}"), None) {
            return;
        }
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
