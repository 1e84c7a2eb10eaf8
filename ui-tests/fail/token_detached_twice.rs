use opentelemetry::Context;

fn main() {
    let token = tracebound::attach(Context::current());
    token.detach();
    token.detach();
}
