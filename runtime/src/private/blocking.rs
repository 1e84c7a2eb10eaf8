//! The future of a `#[traced_blocking]` function: the body, with its span, handed to the
//! blocking pool (or a new thread) on first poll.

use super::Started;
use super::sync::enter_sync;
use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{self, Poll};
use tokio::sync::oneshot;

/// Where the body of a `#[traced_blocking]` function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Executor {
    /// `tokio::task::spawn_blocking`.
    Pool,
    /// A new `std::thread`.
    Thread,
}

type Outcome<R> = Result<R, Box<dyn Any + Send>>;

enum State<R> {
    /// Not polled yet: the span is open, the body not started.
    Ready(Started, Box<dyn FnOnce() -> R + Send>),
    Running(oneshot::Receiver<Outcome<R>>),
    Done,
}

/// A blocking body running elsewhere; resolves to its value, or resumes its panic.
#[must_use = "futures do nothing unless awaited or spawned"]
pub struct Blocking<R> {
    state: State<R>,
    executor: Executor,
    name: &'static str,
}

/// The future for a blocking body: `started` holds the span started at call time, `record`
/// sees the output before the span ends.
pub fn blocking<R, F, Rec>(
    started: Started,
    executor: Executor,
    name: &'static str,
    body: F,
    record: Rec,
) -> Blocking<R>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
    Rec: FnOnce(&R, &Context) + Send + 'static,
{
    let for_body = started.clone();
    let work = move || {
        // Attached for exactly the body's duration; a panic ends the span as failed and
        // detaches before the payload travels back to the awaiting task.
        let scope = enter_sync(for_body);
        let output = body();
        scope.finish(&output, record);
        output
    };
    Blocking {
        state: State::Ready(started, Box::new(work)),
        executor,
        name,
    }
}

impl<R: Send + 'static> Future for Blocking<R> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<R> {
        let this = &mut *self;
        if let State::Ready(..) = this.state {
            let State::Ready(_, work) = std::mem::replace(&mut this.state, State::Done) else {
                unreachable!()
            };
            let (sender, receiver) = oneshot::channel();
            let job = move || {
                let _ = sender.send(catch_unwind(AssertUnwindSafe(work)));
            };
            match this.executor {
                Executor::Pool => drop(tokio::task::spawn_blocking(job)),
                Executor::Thread => drop(std::thread::spawn(job)),
            }
            this.state = State::Running(receiver);
        }
        let State::Running(receiver) = &mut this.state else {
            panic!("`{}` polled after completion", this.name);
        };
        let outcome = match Pin::new(receiver).poll(task) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(outcome) => outcome,
        };
        this.state = State::Done;
        match outcome {
            Ok(Ok(value)) => Poll::Ready(value),
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => panic!(
                "the body of `{}` was dropped before it ran: the runtime is shutting down",
                this.name
            ),
        }
    }
}

impl<R> Drop for Blocking<R> {
    fn drop(&mut self) {
        // Never started: the span ends here. Once started, the body ends it wherever it runs.
        if let State::Ready(started, _) = &self.state
            && let Some(cx) = started.live_span()
        {
            let span = cx.span();
            span.add_event("cancelled", Vec::new());
            span.end();
        }
    }
}
