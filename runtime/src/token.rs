//! Attaching a [`Context`] to the current thread, with the detach tied to a value.

use opentelemetry::{Context, ContextGuard};
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;

/// Proof that a [`Context`] is attached to the current thread.
///
/// Dropping the token (or calling [`detach`](ContextToken::detach)) restores the context that was
/// current before [`attach`]. The token cannot leave its thread, cannot be detached twice, and
/// a token that is never bound to a name is a `#[must_use]` warning, because it would detach
/// on the spot.
///
/// A token attached inside a traced function (or a future passed to [`carry`](crate::carry))
/// and still alive when that function waits at an `.await` is detached while it waits and
/// attached again when it resumes, so its context never leaks into the other tasks polled on
/// the thread meanwhile. Inside a function carrying a tracebound attribute, a token visibly
/// alive at an `.await` is a compile error as well.
///
/// ```
/// use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
///
/// let cx = Context::current().with_baggage([KeyValue::new("tenant", "acme")]);
/// let token = tracebound::attach(cx);
/// assert_eq!(Context::current().baggage().len(), 1);
/// token.detach();
/// assert_eq!(Context::current().baggage().len(), 0);
/// ```
#[must_use = "a ContextToken detaches its context when dropped; bind it to a name (`let _token = …`) \
              for as long as the context should stay attached"]
#[derive(Debug)]
pub struct ContextToken {
    /// The token's entry in this thread's [`Registry`].
    id: u64,
    /// The guard itself, on a thread whose registry is gone (attached from a thread-local's
    /// destructor).
    unregistered: Option<ContextGuard>,
    _not_send: PhantomData<*const ()>,
}

impl ContextToken {
    /// Detaches the context now, restoring the one that was current before.
    ///
    /// Equivalent to dropping the token; it consumes the token, so detaching twice does not
    /// compile.
    pub fn detach(self) {
        drop(self);
    }
}

impl Drop for ContextToken {
    fn drop(&mut self) {
        if self.unregistered.is_some() {
            return;
        }
        // Detached and dropped once the registry's borrow ends: dropping a context may end a
        // span, whose processor may attach tokens of its own.
        let entry = REGISTRY.try_with(|registry| registry.borrow_mut().remove(self.id));
        if let Ok(Some(Entry { guard, cx, .. })) = entry {
            drop(guard);
            drop(cx);
        }
    }
}

/// Makes `cx` the current context of this thread until the returned token is dropped.
///
/// Tokens may be dropped in any order: detaching an outer token while an inner one is still
/// alive keeps the inner context current, and the outer one is gone once the inner detaches.
///
/// ```
/// use opentelemetry::{Context, trace::TraceContextExt};
///
/// let _token = tracebound::attach(Context::new());
/// assert!(!Context::current().has_active_span());
/// ```
pub fn attach(cx: Context) -> ContextToken {
    let id = next_seq();
    let guard = cx.clone().attach();
    let mut entry = Some(Entry {
        id,
        seq: id,
        cx,
        guard: Some(guard),
        owner: ATTACHED,
    });
    let _ = REGISTRY.try_with(|registry| registry.borrow_mut().entries.extend(entry.take()));
    ContextToken {
        id,
        unregistered: entry.and_then(|entry| entry.guard),
        _not_send: PhantomData,
    }
}

/// The tokens attached on one thread, in the order they were (re)attached.
///
/// A future that runs a body with tokens (a traced function's, [`carry`](crate::carry)'s) keeps
/// a [`Suspended`]: it notes [`mark`] before polling the body. If the body returns `Pending`
/// with tokens attached since then still alive, [`suspend_since`] detaches them, newest first,
/// and records the future's address as their owner; its next poll hands the address to
/// [`resume`], which attaches them again, oldest first, above the future's own context. A token
/// dropped meanwhile leaves the registry, and so is never attached again.
struct Registry {
    entries: Vec<Entry>,
}

struct Entry {
    id: u64,
    /// When the entry was last attached: entries are in `seq` order.
    seq: u64,
    cx: Context,
    /// `None` while suspended.
    guard: Option<ContextGuard>,
    /// [`ATTACHED`], [`ORPHANED`], or the address of the future that suspended it.
    owner: usize,
}

/// An entry whose guard is on OpenTelemetry's stack.
const ATTACHED: usize = 0;
/// A suspended entry whose future is gone: it waits for its token to be dropped.
const ORPHANED: usize = 1;

thread_local! {
    static REGISTRY: RefCell<Registry> = const { RefCell::new(Registry { entries: Vec::new() }) };
    /// The next `seq`; it moves on every attach and resume, so a future sees whether any
    /// happened during a poll by comparing it with its [`mark`].
    static SEQ: Cell<u64> = const { Cell::new(1) };
}

fn next_seq() -> u64 {
    SEQ.with(|seq| {
        let next = seq.get();
        seq.set(next + 1);
        next
    })
}

impl Registry {
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let at = self.entries.iter().rposition(|e| e.id == id)?;
        Some(self.entries.remove(at))
    }
}

/// What a future running a body with tokens keeps between polls: whether it suspended tokens
/// the body still holds.
#[derive(Debug, Default)]
pub(crate) struct Suspended(bool);

impl Suspended {
    /// At the start of a poll, once the future's own context is attached: attaches again the
    /// tokens the last poll suspended, above it. Returns the mark to pass to [`Self::pending`].
    #[inline]
    pub(crate) fn resume(&mut self, owner: usize) -> u64 {
        let mark = mark();
        // Written only when set: the store is on every poll's path.
        if self.0 {
            self.0 = false;
            resume(owner);
        }
        mark
    }

    /// The body returned `Pending`: detaches the tokens it attached since `mark` and holds.
    #[inline]
    pub(crate) fn pending(&mut self, mark: u64, owner: usize) {
        self.0 = suspend_since(mark, owner);
    }

    /// The future is dropped: the tokens it suspended stay detached.
    #[inline]
    pub(crate) fn on_drop(&self, owner: usize) {
        if self.0 {
            orphan(owner);
        }
    }
}

/// Where a pinned future lives: the owner of the tokens it suspends.
#[inline]
pub(crate) fn address<T>(pinned: &std::pin::Pin<&mut T>) -> usize {
    std::ptr::from_ref::<T>(pinned).addr()
}

/// Where the registry stood before a body's poll: pass it to [`suspend_since`] after the poll.
#[inline]
fn mark() -> u64 {
    SEQ.with(Cell::get)
}

/// Detaches the tokens (re)attached since `mark` that are still alive, as suspended by the
/// future at `owner`; returns whether there were any. The body that attached them returned
/// `Pending`: nothing it attached may stay current while it waits.
#[inline]
fn suspend_since(mark: u64, owner: usize) -> bool {
    if SEQ.with(Cell::get) == mark {
        return false;
    }
    suspend_slow(mark, owner)
}

#[cold]
fn suspend_slow(mark: u64, owner: usize) -> bool {
    let guards = REGISTRY.try_with(|registry| {
        let mut registry = registry.borrow_mut();
        let mut guards = Vec::new();
        for entry in registry.entries.iter_mut().rev() {
            if entry.seq < mark {
                break;
            }
            if entry.owner == ATTACHED
                && let Some(guard) = entry.guard.take()
            {
                entry.owner = owner;
                guards.push(guard);
            }
        }
        guards
    });
    let guards = guards.unwrap_or_default();
    let any = !guards.is_empty();
    // Newest first, so that each pops the top of OpenTelemetry's stack.
    drop(guards);
    any
}

/// Attaches again, oldest first, the tokens the future at `owner` suspended.
#[cold]
fn resume(owner: usize) {
    let _ = REGISTRY.try_with(|registry| {
        let mut registry = registry.borrow_mut();
        let (mut mine, others): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut registry.entries)
            .into_iter()
            .partition(|e| e.owner == owner);
        registry.entries = others;
        for entry in &mut mine {
            entry.seq = next_seq();
            entry.owner = ATTACHED;
            entry.guard = Some(entry.cx.clone().attach());
        }
        registry.entries.extend(mine);
    });
}

/// The future at `owner` is dropped with tokens it suspended: they stay detached until they
/// are dropped, and no future later at the same address takes them for its own.
#[cold]
fn orphan(owner: usize) {
    let _ = REGISTRY.try_with(|registry| {
        for entry in &mut registry.borrow_mut().entries {
            if entry.owner == owner {
                entry.owner = ORPHANED;
            }
        }
    });
}

/// Runs `f` with `cx` attached, detaching it afterwards, also when `f` panics.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let cx = Context::new().with_baggage([KeyValue::new("k", "v")]);
/// let n = tracebound::with_context(cx, || Context::current().baggage().len());
/// assert_eq!(n, 1);
/// assert_eq!(Context::current().baggage().len(), 0);
/// ```
pub fn with_context<R>(cx: Context, f: impl FnOnce() -> R) -> R {
    let _token = attach(cx);
    f()
}

/// The current context, captured to be attached later, on this thread or another.
///
/// A snapshot is `Send + Sync + Clone`: capture it where the work is handed off and attach it
/// where the work runs.
///
/// ```
/// use opentelemetry::{Context, baggage::BaggageExt, KeyValue};
///
/// let _outer = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
/// let snapshot = tracebound::Snapshot::capture();
/// std::thread::spawn(move || {
///     let _token = snapshot.attach();
///     assert_eq!(Context::current().baggage().len(), 1);
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    cx: Context,
}

impl Snapshot {
    /// Captures the current context.
    pub fn capture() -> Self {
        Snapshot {
            cx: Context::current(),
        }
    }

    /// Attaches the captured context to the current thread.
    pub fn attach(&self) -> ContextToken {
        attach(self.cx.clone())
    }

    /// Runs `f` with the captured context attached.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        with_context(self.cx.clone(), f)
    }

    /// The captured context.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Wraps a future so that every poll runs with the captured context attached.
    pub fn wrap<F: std::future::Future>(self, future: F) -> crate::Carried<F> {
        crate::Carried::new(self.cx, future)
    }
}

impl From<Context> for Snapshot {
    fn from(cx: Context) -> Self {
        Snapshot { cx }
    }
}

impl From<Snapshot> for Context {
    fn from(snapshot: Snapshot) -> Self {
        snapshot.cx
    }
}
