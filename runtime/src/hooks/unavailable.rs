//! Without `--cfg tokio_unstable`: [`carry`] as a compile error at the call, with one message.

use tokio::runtime::Builder;

/// What tokio's [`Builder`] would need for [`carry`]: task hooks, which tokio has only when
/// built with `--cfg tokio_unstable`. Nothing implements it, so a call to [`carry`] without the
/// cfg does not compile and says why.
#[diagnostic::on_unimplemented(
    message = "tracebound::hooks needs RUSTFLAGS=\"--cfg tokio_unstable\"",
    label = "tokio has task hooks only when built with `--cfg tokio_unstable`",
    note = "build with RUSTFLAGS=\"--cfg tokio_unstable\" (or `rustflags` in .cargo/config.toml), \
            or turn off tracebound's `tokio-hooks` feature"
)]
pub trait TokioUnstable<'a> {}

/// Adds task hooks to `builder` so that every task spawned onto the runtimes it builds runs
/// with the context that was current where it was spawned; see the [module](super) docs.
///
/// Built without `--cfg tokio_unstable`, as here, tokio has no task hooks and a call does not
/// compile: set `RUSTFLAGS="--cfg tokio_unstable"`. With it, the signature is
/// `carry(builder: &mut Builder) -> &mut Builder`.
///
/// ```compile_fail
/// let mut builder = tokio::runtime::Builder::new_current_thread();
/// // error: tracebound::hooks needs RUSTFLAGS="--cfg tokio_unstable"
/// let runtime = tracebound::hooks::carry(&mut builder).build();
/// ```
pub fn carry<'a>(builder: &'a mut Builder) -> &'a mut Builder
where
    // The lifetime keeps the bound from being checked here, where it is never met.
    Builder: TokioUnstable<'a>,
{
    builder
}
