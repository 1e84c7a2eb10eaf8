//! Where tasks were spawned under a context, and what the hooks did with them.

use std::fmt;
use std::panic::Location;

/// Per spawn site, the tasks spawned there under a context on runtimes built with
/// [`carry`](super::carry), since the program started (the counts outlive the runtimes).
///
/// Sites are in the order of their locations (file, line, column). A site's row counts the
/// tasks the hooks carried the spawner's context into, the ones among them still running, and
/// the ones spawned there under a context that carried their own ([`spawn`](crate::spawn),
/// [`spawn_local`](crate::spawn_local)). Spawns with no context current are not counted.
/// Built without `--cfg tokio_unstable`, the report is empty.
///
/// A site with carried tasks is one where the trace relies on the hooks: a library's spawn,
/// or one of yours that `cargo tracebound audit` would flag. A `#[traced_task]` future or one
/// wrapped with `with_context` is counted as carried when spawned with a bare `tokio::spawn`,
/// though its own context is the one its body sees.
///
/// ```
/// let report = tracebound::hooks::report();
/// for site in report.sites() {
///     println!("{}: {} carried", site.location, site.carried);
/// }
/// print!("{report}");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    sites: Vec<SpawnSite>,
}

/// One row of a [`Report`]: the tasks spawned at `location` under a context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpawnSite {
    /// Where: the caller of `tokio::spawn`, or of the `#[track_caller]` function around it
    /// (`JoinSet::spawn`, `Handle::spawn`, [`spawn`](crate::spawn)).
    pub location: &'static Location<'static>,
    /// Tasks whose spawner's context the hooks carried.
    pub carried: u64,
    /// Of those, the ones that have not ended yet, on runtimes that still exist.
    pub running: u64,
    /// Tasks that carried their own context, which the hooks left alone.
    pub own: u64,
}

impl SpawnSite {
    #[cfg_attr(not(tokio_unstable), allow(dead_code))]
    pub(super) fn new(location: &'static Location<'static>) -> Self {
        SpawnSite {
            location,
            carried: 0,
            running: 0,
            own: 0,
        }
    }
}

/// What the hooks have done so far, per spawn site; see [`Report`].
///
/// ```
/// let report = tracebound::hooks::report();
/// assert!(report.sites().iter().all(|site| site.running <= site.carried));
/// ```
pub fn report() -> Report {
    #[cfg(tokio_unstable)]
    let sites = super::tasks::sites();
    #[cfg(not(tokio_unstable))]
    let sites = Vec::new();
    Report { sites }
}

impl Report {
    /// Every site, in the order of their locations.
    pub fn sites(&self) -> &[SpawnSite] {
        &self.sites
    }

    /// The first site (by column) on line `line` of `file`, a path as `file!()` writes it.
    ///
    /// ```
    /// let report = tracebound::hooks::report();
    /// assert!(report.site(file!(), line!()).is_none());
    /// ```
    pub fn site(&self, file: &str, line: u32) -> Option<&SpawnSite> {
        self.sites
            .iter()
            .find(|site| site.location.file() == file && site.location.line() == line)
    }

    /// Whether no task was spawned under a context on a runtime with the hooks.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }
}

impl<'a> IntoIterator for &'a Report {
    type Item = &'a SpawnSite;
    type IntoIter = std::slice::Iter<'a, SpawnSite>;

    fn into_iter(self) -> Self::IntoIter {
        self.sites.iter()
    }
}

/// A table, one site per line:
///
/// ```text
/// spawn site          carried  running    own
/// src/orders.rs:41:9        0        0     35
/// src/pool.rs:88:13       120        2      0
/// ```
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sites.is_empty() {
            return writeln!(
                f,
                "no task spawned under a context on a runtime with the hooks"
            );
        }
        let locations: Vec<String> = self.sites.iter().map(|s| s.location.to_string()).collect();
        let width = locations.iter().map(String::len).max().unwrap_or(0).max(10);
        writeln!(f, "{:width$}  carried  running    own", "spawn site")?;
        for (site, location) in self.sites.iter().zip(&locations) {
            writeln!(
                f,
                "{location:width$}  {:>7}  {:>7}  {:>5}",
                site.carried, site.running, site.own
            )?;
        }
        Ok(())
    }
}
