use std::borrow::Cow;
use std::sync::Arc;
use tracebound::traced_blocking;

#[traced_blocking]
async fn already_async(data: Vec<u8>) -> usize {
    data.len()
}

#[traced_blocking]
fn borrowed(data: &[u8]) -> usize {
    data.len()
}

#[traced_blocking]
fn not_static<'a>(name: Cow<'a, str>) -> usize {
    name.len()
}

struct Store;

impl Store {
    #[traced_blocking]
    fn by_reference(&self, key: String) -> usize {
        key.len()
    }

    // Owned `self` is fine.
    #[traced_blocking]
    fn by_value(self: Arc<Self>, key: String) -> usize {
        key.len()
    }
}

#[traced_blocking]
fn pattern_borrows(&(a, b): &(u32, u32)) -> u32 {
    a + b
}

#[traced_blocking]
fn impl_argument(name: impl AsRef<str>) -> usize {
    name.as_ref().len()
}

#[traced_blocking]
fn impl_argument_sendable(name: impl AsRef<str> + Send + 'static) -> usize {
    name.as_ref().len()
}

#[traced_blocking(executor = fiber)]
fn unknown_executor() {}

fn main() {}
