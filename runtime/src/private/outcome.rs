//! Recording a body's `Err` on its span, chosen by autoref specialization at the call site:
//! `(&Outcome(&output)).__tb_record(cx)` resolves to the first of these that applies.
//!
//! 1. `Result<T, E>` with `E: Display`: status and event carry `E`'s message.
//! 2. `Result<T, E>` with any other `E`: status and event carry `E`'s type name.
//! 3. anything else: nothing is recorded.

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::fmt::Display;

/// A borrowed output of a traced body, waiting to be recorded.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> Clone for Outcome<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Outcome<'_, T> {}

pub trait RecordDisplayErr {
    fn __tb_record(&self, cx: &Context);
}

impl<T, E: Display> RecordDisplayErr for Outcome<'_, Result<T, E>> {
    #[inline]
    fn __tb_record(&self, cx: &Context) {
        if let Err(error) = self.0 {
            record_error(cx, || error.to_string(), std::any::type_name::<E>());
        }
    }
}

pub trait RecordAnyErr {
    fn __tb_record(&self, cx: &Context);
}

impl<T, E> RecordAnyErr for &Outcome<'_, Result<T, E>> {
    #[inline]
    fn __tb_record(&self, cx: &Context) {
        if self.0.is_err() {
            let name = std::any::type_name::<E>();
            record_error(cx, || name.to_owned(), name);
        }
    }
}

pub trait RecordNothing {
    fn __tb_record(self, cx: &Context);
}

impl<T: ?Sized> RecordNothing for Outcome<'_, T> {
    #[inline]
    fn __tb_record(self, _cx: &Context) {}
}

fn record_error(cx: &Context, message: impl FnOnce() -> String, error_type: &'static str) {
    let span = cx.span();
    if !span.is_recording() {
        return;
    }
    let message = message();
    span.set_attribute(KeyValue::new("error.type", error_type));
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", error_type),
            KeyValue::new("exception.message", message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}
