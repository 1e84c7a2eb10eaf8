// A generic argument must be `'static` and `Send` to move to the pool thread: the compiler
// says so at the macro.
use tracebound::traced_blocking;

#[traced_blocking]
fn length<T: AsRef<[u8]>>(data: T) -> usize {
    data.as_ref().len()
}

fn main() {}
