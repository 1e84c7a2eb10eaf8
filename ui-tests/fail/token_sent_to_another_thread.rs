use opentelemetry::Context;

fn main() {
    let token = tracebound::attach(Context::current());
    std::thread::spawn(move || drop(token));
}
