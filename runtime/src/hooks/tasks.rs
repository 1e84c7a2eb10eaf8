//! The four hooks: what a spawn records, what each poll attaches, and the table between them.

use super::SpawnSite;
use crate::__private::carries_nothing;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::runtime::{Builder, TaskMeta};
use tokio::task::Id;

/// Adds task hooks to `builder` so that every task spawned onto the runtimes it builds runs
/// each poll with the context that was current where it was spawned; see the
/// [module](super) docs for which tasks, which context, and what it costs.
///
/// It sets the builder's four task hooks (`on_task_spawn`, `on_before_task_poll`,
/// `on_after_task_poll`, `on_task_terminate`), replacing any set before; [`carry_with`] runs
/// your own callbacks too.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use opentelemetry::{Context, KeyValue, baggage::BaggageExt};
///
/// let runtime = tracebound::hooks::carry(&mut tokio::runtime::Builder::new_current_thread())
///     .build()?;
/// let task = {
///     let _token = tracebound::attach(Context::new().with_baggage([KeyValue::new("k", "v")]));
///     runtime.spawn(async { Context::current().baggage().len() })
/// };
/// // Polled where that context is no longer current: the hooks attach it.
/// assert_eq!(runtime.block_on(task).unwrap(), 1);
/// # Ok(()) }
/// ```
pub fn carry(builder: &mut Builder) -> &mut Builder {
    carry_with(builder, Callbacks::new())
}

/// [`carry`], with `callbacks` run in tracebound's hooks: tokio keeps one callback per hook,
/// so yours go through here.
///
/// Yours run inside tracebound's: after its spawn and before-poll hooks, before its after-poll
/// hook, so a poll callback runs with the task's carried context current.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use tracebound::hooks::{Callbacks, carry_with};
///
/// let polls = Arc::new(AtomicUsize::new(0));
/// let counted = polls.clone();
/// let callbacks = Callbacks::new().on_before_task_poll(move |_| {
///     counted.fetch_add(1, Ordering::Relaxed);
/// });
/// let runtime = carry_with(&mut tokio::runtime::Builder::new_current_thread(), callbacks)
///     .build()?;
/// runtime.block_on(runtime.spawn(async {})).unwrap();
/// assert_eq!(polls.load(Ordering::Relaxed), 1);
/// # Ok(()) }
/// ```
pub fn carry_with(builder: &mut Builder, callbacks: Callbacks) -> &mut Builder {
    let hooks = Arc::new(Hooks::new());
    let (on_spawn, before_poll) = (hooks.clone(), hooks.clone());
    let Callbacks {
        spawn,
        before,
        after,
        terminate,
    } = callbacks;
    builder
        .on_task_spawn(move |meta| {
            on_spawn.table.spawned(meta);
            if let Some(f) = &spawn {
                f(meta);
            }
        })
        .on_before_task_poll(move |meta| {
            before_poll.table.before_poll(meta);
            if let Some(f) = &before {
                f(meta);
            }
        })
        .on_after_task_poll(move |meta| {
            // Popped even if the callback panics: the guard would stay on this thread.
            let _pop = Pop(meta.id());
            if let Some(f) = &after {
                f(meta);
            }
        })
        .on_task_terminate(move |meta| {
            // Removed even if the callback panics (tokio catches that panic).
            let _end = End(&hooks.table, meta.id());
            if let Some(f) = &terminate {
                f(meta);
            }
        })
}

/// Detaches what [`Table::before_poll`] attached for a task, when dropped.
struct Pop(Id);

impl Drop for Pop {
    fn drop(&mut self) {
        after_poll(self.0);
    }
}

/// Removes a task's entry, when dropped.
struct End<'a>(&'a Table, Id);

impl Drop for End<'_> {
    fn drop(&mut self) {
        self.0.terminated(self.1);
    }
}

type Callback = Arc<dyn Fn(&TaskMeta<'_>) + Send + Sync>;

/// Task hooks of your own, for [`carry_with`] to run together with tracebound's.
///
/// ```
/// let callbacks = tracebound::hooks::Callbacks::new()
///     .on_task_spawn(|meta| println!("task {} spawned at {}", meta.id(), meta.spawned_at()));
/// ```
#[derive(Clone, Default)]
pub struct Callbacks {
    spawn: Option<Callback>,
    before: Option<Callback>,
    after: Option<Callback>,
    terminate: Option<Callback>,
}

impl Callbacks {
    /// No callbacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Like tokio's `Builder::on_task_spawn`: `f` runs when a task is spawned, on the
    /// spawner's thread.
    #[must_use]
    pub fn on_task_spawn(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Self {
        self.spawn = Some(Arc::new(f));
        self
    }

    /// Like tokio's `Builder::on_before_task_poll`: `f` runs before each poll of a task, with
    /// the task's carried context attached.
    #[must_use]
    pub fn on_before_task_poll(
        mut self,
        f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.before = Some(Arc::new(f));
        self
    }

    /// Like tokio's `Builder::on_after_task_poll`: `f` runs after each poll of a task, with
    /// the task's carried context still attached.
    #[must_use]
    pub fn on_after_task_poll(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Self {
        self.after = Some(Arc::new(f));
        self
    }

    /// Like tokio's `Builder::on_task_terminate`: `f` runs when a task has ended.
    #[must_use]
    pub fn on_task_terminate(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Self {
        self.terminate = Some(Arc::new(f));
        self
    }
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("on_task_spawn", &self.spawn.is_some())
            .field("on_before_task_poll", &self.before.is_some())
            .field("on_after_task_poll", &self.after.is_some())
            .field("on_task_terminate", &self.terminate.is_some())
            .finish()
    }
}

thread_local! {
    /// The contexts attached by the hooks for the polls running on this thread, innermost
    /// last: a poll runs inside another when a task calls another runtime's `block_on` from
    /// `block_in_place`.
    static POLLS: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
    /// Set by tracebound's spawn functions around tokio's, to their caller's location: the task
    /// spawned there carries its own context. A spawn from elsewhere meanwhile (a future's
    /// `Drop` run by the spawn) has another location, and is not taken for it.
    static OWN: Cell<Option<&'static Location<'static>>> = const { Cell::new(None) };
    /// The last task whose end this thread reported: tokio reports the end of a task spawned
    /// onto a runtime that is shutting down before its spawn, which must then record nothing.
    static ENDED: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Held around a tokio spawn of a future that carries its own context, so that the hooks
/// leave its task alone: tokio calls `on_task_spawn` from within the spawn, with the same
/// caller location (both are `#[track_caller]`).
pub(crate) struct Own(Option<&'static Location<'static>>);

impl Own {
    #[track_caller]
    pub(crate) fn mark() -> Self {
        let here = Location::caller();
        Own(OWN.try_with(|own| own.replace(Some(here))).unwrap_or(None))
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        let _ = OWN.try_with(|own| own.set(self.0));
    }
}

/// After a poll: detaches what [`Table::before_poll`] attached for this task, if anything.
fn after_poll(id: Id) {
    let guard = POLLS.try_with(|polls| {
        let mut polls = polls.borrow_mut();
        match polls.last() {
            Some((top, _)) if *top == id => polls.pop(),
            _ => None,
        }
    });
    // Dropped once the borrow is over: the context may hold the last reference to a span,
    // whose end runs the span processors.
    drop(guard);
}

/// The closures' shared state: when the last of them is dropped (the builder and the runtimes
/// it built are gone), its counts move to the report's retired sites.
struct Hooks {
    table: Arc<Table>,
}

impl Hooks {
    fn new() -> Self {
        let table = Arc::new(Table {
            live: AtomicUsize::new(0),
            shards: std::array::from_fn(|_| Padded::default()),
        });
        lock(&BOOK).tables.push(table.clone());
        Hooks { table }
    }
}

impl Drop for Hooks {
    fn drop(&mut self) {
        let mut book = lock(&BOOK);
        book.tables.retain(|t| !Arc::ptr_eq(t, &self.table));
        let mut left = Vec::new();
        for shard in &self.table.shards {
            let mut shard = lock(&shard.0);
            for counts in shard.sites.values() {
                let site = site_in(&mut book.retired, counts.site);
                site.carried += counts.carried;
                site.own += counts.own;
            }
            // Tasks whose end tokio reported before their spawn (spawned onto a runtime
            // already shutting down): their contexts go now.
            left.extend(shard.tasks.drain().map(|(_, task)| task));
        }
        drop(book);
        drop(left);
    }
}

const SHARDS: usize = 64;

/// The contexts of one builder's carried tasks that have not ended, by task id (in shards, so
/// that workers polling different tasks rarely wait for each other), and its counts per site.
struct Table {
    /// Entries in all shards: while there are none, a poll looks no further.
    live: AtomicUsize,
    shards: [Padded; SHARDS],
}

/// A shard on cache lines of its own.
#[derive(Default)]
#[repr(align(128))]
struct Padded(Mutex<Shard>);

#[derive(Default)]
struct Shard {
    tasks: HashMap<Id, Carried, BuildHasherDefault<IdHasher>>,
    /// By the address of the `Location`: one site may have several, merged by [`sites`].
    sites: HashMap<usize, Counts, BuildHasherDefault<IdHasher>>,
}

struct Carried {
    cx: Context,
    site: &'static Location<'static>,
}

struct Counts {
    site: &'static Location<'static>,
    carried: u64,
    own: u64,
}

impl Table {
    fn shard(&self, id: Id) -> MutexGuard<'_, Shard> {
        let mut hasher = IdHasher::default();
        id.hash(&mut hasher);
        // Task ids are sequential: their low bits take the shards in turn.
        lock(&self.shards[hasher.0 as usize % SHARDS].0)
    }

    /// Tokio calls it from `spawn`, on the spawner's thread: the current context is the
    /// spawner's.
    fn spawned(&self, meta: &TaskMeta<'_>) {
        let id = meta.id();
        let site = meta.spawned_at();
        if ENDED.try_with(Cell::get).ok().flatten() == Some(id) {
            return;
        }
        let own = OWN
            .try_with(|own| own.get() == Some(site) && own.take().is_some())
            .unwrap_or(false);
        // From a thread-local destructor, OpenTelemetry's context may be gone: nothing to
        // carry then, rather than a panic inside tokio's spawn.
        let current = catch_unwind(AssertUnwindSafe(|| {
            Context::map_current(|cx| (!carries_nothing(cx)).then(|| (!own).then(|| detached(cx))))
        }));
        let Ok(Some(cx)) = current else {
            return;
        };
        let mut shard = self.shard(id);
        let counts = shard
            .sites
            .entry(std::ptr::from_ref(site).addr())
            .or_insert(Counts {
                site,
                carried: 0,
                own: 0,
            });
        let Some(cx) = cx else {
            counts.own += 1;
            return;
        };
        counts.carried += 1;
        // Counted before the entry is there: a poll that sees no count looks no further.
        self.live.fetch_add(1, Relaxed);
        let replaced = shard.tasks.insert(id, Carried { cx, site });
        drop(shard);
        drop(replaced);
    }

    fn before_poll(&self, meta: &TaskMeta<'_>) {
        drop_stale();
        if self.live.load(Relaxed) == 0 {
            return;
        }
        let id = meta.id();
        let Some(cx) = self.shard(id).tasks.get(&id).map(|task| task.cx.clone()) else {
            return;
        };
        let guard = cx.attach();
        let _ = POLLS.try_with(|polls| polls.borrow_mut().push((id, guard)));
    }

    /// Tokio calls it from the task's last poll, before [`after_poll`], or when it drops a
    /// task that will not be polled again.
    fn terminated(&self, id: Id) {
        let _ = ENDED.try_with(|ended| ended.set(Some(id)));
        if self.live.load(Relaxed) == 0 {
            return;
        }
        let ended = self.shard(id).tasks.remove(&id);
        if ended.is_some() {
            self.live.fetch_sub(1, Relaxed);
        }
        // Dropped outside the lock: the context may hold the last reference to a span.
        drop(ended);
    }
}

/// The context to carry, with the spawner's span by its ids only: a task that outlives its
/// spawner (a client's connection driver) must not keep the spawner's span from ending, which
/// an SDK span does when its last reference goes. Baggage and the rest are kept as they are.
fn detached(cx: &Context) -> Context {
    if cx.has_active_span() {
        cx.with_remote_span_context(cx.span().span_context().clone())
    } else {
        cx.clone()
    }
}

/// Before a poll that runs inside no other task's poll, this thread should hold no context
/// from the hooks: one left there (an after-poll hook set on the builder after
/// [`carry`](super::carry), which replaced tracebound's) is dropped.
fn drop_stale() {
    let stale = POLLS
        .try_with(|polls| {
            let mut polls = polls.borrow_mut();
            if polls.is_empty() || tokio::task::try_id().is_some() {
                return Vec::new();
            }
            std::mem::take(&mut *polls)
        })
        .unwrap_or_default();
    // In reverse, the order they were attached in.
    for guard in stale.into_iter().rev() {
        drop(guard);
    }
}

/// The counts of the runtimes whose hooks are gone, and the tables of the others.
struct Book {
    tables: Vec<Arc<Table>>,
    retired: BTreeMap<Key, SpawnSite>,
}

type Key = (&'static str, u32, u32);

static BOOK: Mutex<Book> = Mutex::new(Book {
    tables: Vec::new(),
    retired: BTreeMap::new(),
});

/// Every site's counts so far, in the order of their locations.
pub(super) fn sites() -> Vec<SpawnSite> {
    let book = lock(&BOOK);
    let mut sites = book.retired.clone();
    for table in &book.tables {
        for shard in &table.shards {
            let shard = lock(&shard.0);
            for counts in shard.sites.values() {
                let site = site_in(&mut sites, counts.site);
                site.carried += counts.carried;
                site.own += counts.own;
            }
            for task in shard.tasks.values() {
                site_in(&mut sites, task.site).running += 1;
            }
        }
    }
    sites.into_values().collect()
}

fn site_in<'a>(
    sites: &'a mut BTreeMap<Key, SpawnSite>,
    location: &'static Location<'static>,
) -> &'a mut SpawnSite {
    let key = (location.file(), location.line(), location.column());
    sites.entry(key).or_insert_with(|| SpawnSite::new(location))
}

/// A panic elsewhere while a lock was held leaves the counts as they were: keep counting.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Hashes a task id (or an address) as the integer it is, spread over the high bits that the
/// map's probing reads.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = n as u64;
    }

    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}
