// `tracebound::hooks` (feature `tokio-hooks`) built without `--cfg tokio_unstable`: tokio has no
// task hooks then, and the call says, once, what to set.
fn main() {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    let _runtime = tracebound::hooks::carry(&mut builder).enable_all().build();
}
