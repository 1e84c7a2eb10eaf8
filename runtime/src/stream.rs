//! Streams across async boundaries: [`carry`] polls a stream in the context it was made in,
//! [`per_message`] handles each item of a stream of messages under its own consumer span,
//! continued from the item's own headers.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use futures::StreamExt;
//! use std::collections::HashMap;
//!
//! struct Message {
//!     headers: HashMap<String, String>,
//!     body: u64,
//! }
//!
//! let inbound = futures::stream::iter(vec![
//!     Message { headers: HashMap::new(), body: 1 },
//!     Message { headers: HashMap::new(), body: 2 },
//! ]);
//! let mut inbound = tracebound::stream::per_message(inbound, |m| &m.headers);
//! let mut total = 0;
//! while let Some(message) = inbound.next().await {
//!     // Runs in the message's consumer span; the span ends when the future completes.
//!     total += message.process(|m| async move { m.body }).await;
//! }
//! assert_eq!(total, 3);
//! # }
//! ```

use crate::__private::{Relation, Scope, SpanKind, Started, instrument, start_remote};
use crate::carrier::Extract;
use futures_core::Stream;
use opentelemetry::{Context, KeyValue};
use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{self, Poll};

static SCOPE: Scope = Scope::new("tracebound", Some(env!("CARGO_PKG_VERSION")));

/// Wraps `stream` so that every `poll_next` runs in the context current now: a response
/// stream made under a request's span keeps producing its items under that span, however late
/// and on whatever thread the server polls it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use futures::StreamExt;
/// use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
///
/// let stream = {
///     let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
///     tracebound::stream::carry(futures::stream::poll_fn(|_| {
///         std::task::Poll::Ready(Some(Context::current().baggage().len()))
///     }))
/// };
/// assert_eq!(stream.take(2).collect::<Vec<_>>().await, [1, 1]);
/// # }
/// ```
pub fn carry<S: Stream>(stream: S) -> Carry<S> {
    Carry {
        cx: Context::current(),
        stream,
    }
}

pin_project_lite::pin_project! {
    /// A stream polled in a captured context; see [`carry`].
    #[derive(Debug)]
    #[must_use = "streams do nothing unless polled"]
    pub struct Carry<S> {
        cx: Context,
        #[pin]
        stream: S,
    }
}

impl<S: Stream> Stream for Carry<S> {
    type Item = S::Item;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        this.stream.poll_next(task)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

/// Wraps a stream of messages so that each item comes with its own CONSUMER span, continued
/// from the context in the carrier that `carrier` finds in the item (`|m| &m.headers`); see
/// [`Received`] for how the item is then handled in it.
///
/// The span is named `process {destination}` (`process` without [`PerMessage::destination`],
/// or what [`PerMessage::name`] says), with `messaging.operation.name` and
/// `messaging.operation.type` = `process`, and `messaging.system` and
/// `messaging.destination.name` when given. Its parent is the item's remote context
/// ([`PerMessage::relation`] makes it a link), the item's baggage is in its context, and an item
/// without a valid context starts a new trace. When the stream is polled under a span of its
/// own (a gRPC bidirectional call's server span), the span of each message that continues its
/// sender has two links, as the messaging conventions' structure for that case has: one to the
/// sender (its parent too) and one to that span.
///
/// For a stream of `Result`s (a tonic `Streaming`), see [`per_message_ok`].
pub fn per_message<S, F, C>(stream: S, carrier: F) -> PerMessage<S, F, C>
where
    S: Stream,
    F: FnMut(&S::Item) -> &C,
    C: Extract + ?Sized,
{
    PerMessage {
        stream,
        carrier,
        options: Options::default(),
        _carrier: PhantomData,
    }
}

/// [`per_message`] for a stream of `Result`s, such as a tonic `Streaming` of a bidirectional
/// call: each `Ok` item comes with its own consumer span, errors pass through as they are.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use futures::StreamExt;
/// use std::collections::HashMap;
///
/// let inbound = futures::stream::iter(vec![Ok(HashMap::<String, String>::new()), Err("reset")]);
/// let mut inbound = tracebound::stream::per_message_ok(inbound, |headers| headers);
/// assert!(inbound.next().await.unwrap().is_ok());
/// assert!(inbound.next().await.unwrap().is_err());
/// # }
/// ```
pub fn per_message_ok<S, T, E, F, C>(stream: S, carrier: F) -> PerMessageOk<S, F, C>
where
    S: Stream<Item = Result<T, E>>,
    F: FnMut(&T) -> &C,
    C: Extract + ?Sized,
{
    PerMessageOk {
        stream,
        carrier,
        options: Options::default(),
        _carrier: PhantomData,
    }
}

/// How the per-message spans start.
#[derive(Clone, Debug)]
struct Options {
    /// Set by `name`; else `process {destination}`, or `process`.
    name: Option<Cow<'static, str>>,
    relation: Relation,
    system: Option<Cow<'static, str>>,
    destination: Option<Cow<'static, str>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: None,
            relation: Relation::Parent,
            system: None,
            destination: None,
        }
    }
}

impl Options {
    fn receive<C: Extract + ?Sized>(&self, carrier: &C) -> Started {
        let describe = || {
            let name = match (&self.name, &self.destination) {
                (Some(name), _) => name.clone(),
                (None, Some(destination)) => Cow::Owned(format!("process {destination}")),
                (None, None) => Cow::Borrowed("process"),
            };
            let mut attributes = Vec::with_capacity(4);
            attributes.push(KeyValue::new("messaging.operation.name", "process"));
            attributes.push(KeyValue::new("messaging.operation.type", "process"));
            if let Some(system) = &self.system {
                attributes.push(KeyValue::new("messaging.system", system.clone()));
            }
            if let Some(destination) = &self.destination {
                attributes.push(KeyValue::new(
                    "messaging.destination.name",
                    destination.clone(),
                ));
            }
            (name, Some(attributes))
        };
        // Named and described only when a span is built.
        start_remote(
            &SCOPE,
            SpanKind::Consumer,
            self.relation,
            &carrier,
            describe,
            true,
        )
    }
}

/// The builder methods both per-message streams share.
macro_rules! options {
    ($stream:ident) => {
        impl<S, F, C: ?Sized> $stream<S, F, C> {
            /// Names each message's span, instead of `process {destination}` (or `process`
            /// without a destination).
            pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
                self.options.name = Some(name.into());
                self
            }

            /// `messaging.system` of each message's span (`"grpc"`, `"kafka"`…).
            pub fn system(mut self, system: impl Into<Cow<'static, str>>) -> Self {
                self.options.system = Some(system.into());
                self
            }

            /// `messaging.destination.name` of each message's span, which is then named
            /// `process {destination}`.
            pub fn destination(mut self, destination: impl Into<Cow<'static, str>>) -> Self {
                self.options.destination = Some(destination.into());
                self
            }

            /// How each message's span relates to the context in its carrier: its child
            /// (`Relation::Parent`, the default) or a new trace linked to it
            /// (`Relation::Link`).
            pub fn relation(mut self, relation: Relation) -> Self {
                self.options.relation = relation;
                self
            }
        }
    };
}

pin_project_lite::pin_project! {
    /// A stream whose items each come with their own consumer span; see [`per_message`].
    #[must_use = "streams do nothing unless polled"]
    pub struct PerMessage<S, F, C: ?Sized> {
        #[pin]
        stream: S,
        carrier: F,
        options: Options,
        _carrier: PhantomData<fn(&C)>,
    }
}

pin_project_lite::pin_project! {
    /// A stream of `Result`s whose `Ok` items each come with their own consumer span; see
    /// [`per_message_ok`].
    #[must_use = "streams do nothing unless polled"]
    pub struct PerMessageOk<S, F, C: ?Sized> {
        #[pin]
        stream: S,
        carrier: F,
        options: Options,
        _carrier: PhantomData<fn(&C)>,
    }
}

options!(PerMessage);
options!(PerMessageOk);

impl<S, F, C> Stream for PerMessage<S, F, C>
where
    S: Stream,
    F: FnMut(&S::Item) -> &C,
    C: Extract + ?Sized,
{
    type Item = Received<S::Item>;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.stream.poll_next(task).map(|item| {
            item.map(|item| {
                let started = this.options.receive((this.carrier)(&item));
                Received::new(item, started)
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

impl<S, T, E, F, C> Stream for PerMessageOk<S, F, C>
where
    S: Stream<Item = Result<T, E>>,
    F: FnMut(&T) -> &C,
    C: Extract + ?Sized,
{
    type Item = Result<Received<T>, E>;

    fn poll_next(self: Pin<&mut Self>, task: &mut task::Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.stream.poll_next(task).map(|item| {
            item.map(|item| {
                item.map(|item| {
                    let started = this.options.receive((this.carrier)(&item));
                    Received::new(item, started)
                })
            })
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

/// A message with its consumer span, started when the stream yielded it.
///
/// Handle it with [`process`](Received::process) (an async handler) or
/// [`in_span`](Received::in_span) (a synchronous one): the handler runs in the span, and the
/// span ends when it returns. Dropped unhandled, the span ends then. It derefs to the message.
#[derive(Debug)]
pub struct Received<T> {
    item: Option<T>,
    started: Started,
}

impl<T> Received<T> {
    fn new(item: T, started: Started) -> Self {
        Received {
            item: Some(item),
            started,
        }
    }

    /// The message's context: its span and baggage. `None` when there is nothing to carry (no
    /// provider installed and no context in the message).
    pub fn context(&self) -> Option<&Context> {
        self.started.cx.as_ref()
    }

    /// Runs `handler`'s future in the message's span, which ends when the future completes
    /// (with a `cancelled` event if it is dropped first, status ERROR if it panics).
    pub fn process<H, Fut>(mut self, handler: H) -> impl Future<Output = Fut::Output>
    where
        H: FnOnce(T) -> Fut,
        Fut: Future,
    {
        let started = std::mem::replace(&mut self.started, Started::NOTHING);
        let item = self.item.take().expect("a message is handled once");
        let future = {
            let _attached = started.attach();
            handler(item)
        };
        instrument(started, future, |_: &Fut::Output, _: &Context| {})
    }

    /// Runs `handler` in the message's span, which ends when it returns (status ERROR if it
    /// panics).
    pub fn in_span<R>(mut self, handler: impl FnOnce(T) -> R) -> R {
        let started = std::mem::replace(&mut self.started, Started::NOTHING);
        let item = self.item.take().expect("a message is handled once");
        crate::__private::run_sync(started, || handler(item), |_, _| {})
    }

    /// The message, ending its span.
    pub fn into_inner(mut self) -> T {
        self.item.take().expect("a message is handled once")
    }
}

impl<T> std::ops::Deref for Received<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.item.as_ref().expect("a message is handled once")
    }
}

impl<T> std::ops::DerefMut for Received<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("a message is handled once")
    }
}

impl<T> Drop for Received<T> {
    fn drop(&mut self) {
        if let Some(cx) = self.started.live_span() {
            use opentelemetry::trace::TraceContextExt;
            cx.span().end();
        }
    }
}
