#![deny(unused_must_use)]
use opentelemetry::Context;

fn main() {
    tracebound::attach(Context::current());
}
