use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tracebound::traced_task;

struct Answer;

impl Future for Answer {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(42)
    }
}

#[traced_task]
const fn answer() -> impl Future<Output = u32> {
    Answer
}

fn main() {}
