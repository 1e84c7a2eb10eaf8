use super::{Client, Relation, Server};
use tower_layer::Layer;

/// Continues the caller's trace in a SERVER span around each request; see the
/// [module documentation](super).
///
/// ```
/// use tracebound::tower::{Relation, ServerLayer};
///
/// let trusted = ServerLayer::new();
/// let public = ServerLayer::new().relation(Relation::Link);
/// # let _ = (trusted, public);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ServerLayer {
    relation: Relation,
}

impl ServerLayer {
    /// The conventional server span: the caller's span is its parent.
    pub const fn new() -> Self {
        ServerLayer {
            relation: Relation::Parent,
        }
    }

    /// How the server span relates to the caller's: its child (`Relation::Parent`, the
    /// default), or a new trace linked to it (`Relation::Link`), for callers outside your
    /// trust boundary. Baggage from the headers is kept either way.
    pub const fn relation(mut self, relation: Relation) -> Self {
        self.relation = relation;
        self
    }
}

impl Default for ServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = Server<S>;

    fn layer(&self, inner: S) -> Server<S> {
        Server::new(inner, self.relation)
    }
}

/// Starts a CLIENT span around each outgoing request and writes its context into the request
/// headers; see the [module documentation](super).
///
/// ```
/// let layer = tracebound::tower::ClientLayer::new();
/// # let _ = layer;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientLayer {
    _private: (),
}

impl ClientLayer {
    /// The conventional client span.
    pub const fn new() -> Self {
        ClientLayer { _private: () }
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client::new(inner)
    }
}
