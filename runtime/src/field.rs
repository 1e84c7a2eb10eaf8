//! Values that `fields(key = expr)` records as span attributes.

use opentelemetry::{Array, StringValue, Value};
use std::borrow::Cow;

/// A value that can be recorded as a span attribute by `fields(key = expr)`.
///
/// Implemented for booleans, integers, floats, strings and OpenTelemetry [`Value`]s, for
/// references to those, and for `Option`s of them (`None` records nothing). Implement it for
/// your own types to record them without a `.to_string()` at every call site.
///
/// ```
/// use tracebound::FieldValue;
/// use opentelemetry::Value;
///
/// struct OrderId(u64);
///
/// impl FieldValue for OrderId {
///     fn to_value(&self) -> Option<Value> {
///         self.0.to_value()
///     }
/// }
///
/// assert_eq!(OrderId(7).to_value(), Some(Value::I64(7)));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be recorded as a span attribute",
    label = "not a bool, integer, float or string",
    note = "record a string with `.to_string()`, or implement `tracebound::FieldValue` for `{Self}`"
)]
pub trait FieldValue {
    /// The attribute value, or `None` to record no attribute.
    fn to_value(&self) -> Option<Value>;
}

impl<T: FieldValue + ?Sized> FieldValue for &T {
    fn to_value(&self) -> Option<Value> {
        (**self).to_value()
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    fn to_value(&self) -> Option<Value> {
        self.as_ref().and_then(FieldValue::to_value)
    }
}

impl FieldValue for bool {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

macro_rules! lossless_int {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn to_value(&self) -> Option<Value> {
                Some(Value::I64(i64::from(*self)))
            }
        }
    )*};
}
lossless_int!(i8, i16, i32, i64, u8, u16, u32);

// Integers that may not fit an i64 are recorded as their decimal string rather than wrapped.
macro_rules! wide_int {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn to_value(&self) -> Option<Value> {
                Some(match i64::try_from(*self) {
                    Ok(v) => Value::I64(v),
                    Err(_) => Value::String(self.to_string().into()),
                })
            }
        }
    )*};
}
wide_int!(u64, usize, isize, i128, u128);

impl FieldValue for f32 {
    fn to_value(&self) -> Option<Value> {
        Some(Value::F64(f64::from(*self)))
    }
}

impl FieldValue for f64 {
    fn to_value(&self) -> Option<Value> {
        Some(Value::F64(*self))
    }
}

impl FieldValue for str {
    fn to_value(&self) -> Option<Value> {
        Some(Value::String(self.to_owned().into()))
    }
}

impl FieldValue for String {
    fn to_value(&self) -> Option<Value> {
        self.as_str().to_value()
    }
}

impl FieldValue for Cow<'_, str> {
    fn to_value(&self) -> Option<Value> {
        (**self).to_value()
    }
}

impl FieldValue for StringValue {
    fn to_value(&self) -> Option<Value> {
        Some(Value::String(self.clone()))
    }
}

impl FieldValue for Value {
    fn to_value(&self) -> Option<Value> {
        Some(self.clone())
    }
}

impl FieldValue for Array {
    fn to_value(&self) -> Option<Value> {
        Some(Value::Array(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_that_overflow_i64_become_strings() {
        assert_eq!(
            u64::MAX.to_value(),
            Some(Value::String(u64::MAX.to_string().into()))
        );
        assert_eq!(42u64.to_value(), Some(Value::I64(42)));
        assert_eq!((-3i128).to_value(), Some(Value::I64(-3)));
    }

    #[test]
    fn none_records_nothing() {
        assert_eq!(None::<u32>.to_value(), None);
        assert_eq!(Some("a").to_value(), Some(Value::String("a".into())));
    }
}
