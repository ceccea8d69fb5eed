//! The proxy's options, and the few choices that make each of the text's proxies.

use std::time::Duration;

use crate::host::{DEFAULT_CONNECT_TIMEOUT, HostPort};
use crate::programs::limits::ServerLimits;

use super::super::poems::DEFAULT_MAX_POEM_BYTES;

/// How long a cached poem is served (Part 14 exercise 2).
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(2 * 60 * 60);

/// How long an upstream fetch may send nothing before it is given up: 30 s.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// How clients that miss the cache share upstream fetches.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum FetchSharing {
    /// One fetch in flight; every client that misses meanwhile waits on it (Part 14
    /// exercise 3, weft's default).
    #[default]
    OneInFlight,
    /// Every client that misses starts its own fetch, as proxies 1.0 to 3.0 do: the
    /// text's "if several client requests come in at the same time when there is no
    /// poem in the cache, the proxy will make multiple poetry requests".
    OnePerMiss,
}

/// Which fetched poems are cached.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum CachePolicy {
    /// Only a poem that arrived whole: some bytes, then a clean close, within the size
    /// limit (weft's default). A poem cut short by a reset is a failed fetch.
    #[default]
    WholePoems,
    /// Whatever the upstream sent before its connection ended, however it ended, even
    /// nothing: proxy 1.0's client hands `set_poem` its bytes on every
    /// `connectionLost`. A poem over the size limit is still a failed fetch.
    WhateverArrived,
}

/// Where the proxy's lines go.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ProxyLines {
    /// `Fetching poem from server.`, `Using cached poem.` and `Canceling poem
    /// download.` are log records (stderr, `RUST_LOG`); the start-up line is
    /// `Proxying HOST:PORT on ADDR.` on stdout (weft's default).
    #[default]
    Logged,
    /// Those lines are printed on stdout, as the text's `print` statements print them,
    /// and so is the start-up line in the text's form: `Proxying ('127.0.0.1', 10001)
    /// on IPv4Address(TCP, '127.0.0.1', 10000).`
    Printed,
}

/// The proxy's options.
///
/// [`ProxyOptions::new`] is weft's proxy: one fetch in flight, cancelled when its last
/// waiter leaves, whole poems cached for two hours. [`ProxyOptions::version_1_0`] is
/// the text's proxy 1.0: a fetch per miss, never cancelled, whatever arrived cached
/// forever; [`ProxyOptions::version_3_0`] is proxy 3.0, the same with cancellation.
///
/// ```
/// use weft::host::HostPort;
/// use weft::programs::poetry::proxy::{CachePolicy, FetchSharing};
/// use weft::programs::poetry::ProxyOptions;
///
/// let listen = HostPort::new("127.0.0.1", 10000);
/// let text = ProxyOptions::version_1_0(listen, HostPort::new("127.0.0.1", 10001));
/// assert_eq!(text.fetches, FetchSharing::OnePerMiss);
/// assert_eq!(text.caching, CachePolicy::WhateverArrived);
/// assert!(!text.cancel_abandoned && text.expiry.is_none());
/// ```
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Where to listen for clients.
    pub listen: HostPort,
    /// The poetry server to fetch from.
    pub upstream: HostPort,
    /// How long a cached poem stays fresh; `None`: forever (proxies 1.0 to 3.0).
    pub expiry: Option<Duration>,
    /// Connect timeout for the upstream.
    pub connect_timeout: Duration,
    /// Give up on an upstream fetch that sends nothing for this long (its waiting
    /// clients are closed, nothing is cached); `None`: wait forever.
    /// [`DEFAULT_UPSTREAM_TIMEOUT`] by default.
    pub upstream_timeout: Option<Duration>,
    /// The largest poem fetched; an upstream that sends more fails the fetch.
    /// [`DEFAULT_MAX_POEM_BYTES`] by default.
    pub max_poem_bytes: usize,
    /// Limits on the proxy's clients: an idle timeout (a client that takes nothing of
    /// its poem) and a connection limit.
    pub limits: ServerLimits,
    /// One fetch in flight for every client that misses, or one fetch each.
    pub fetches: FetchSharing,
    /// Whether a fetch is cancelled (`Canceling poem download.`, its upstream
    /// connection closed) once every client waiting on it has left: proxy 3.0 and
    /// weft's default. Proxies 1.0 and 2.0 let it run on and cache its poem.
    pub cancel_abandoned: bool,
    /// Which fetched poems are cached.
    pub caching: CachePolicy,
    /// Whether the text's lines are logged or printed.
    pub lines: ProxyLines,
}

impl ProxyOptions {
    /// Proxies `upstream` on `listen`, with a two-hour cache: weft's proxy.
    pub fn new(listen: HostPort, upstream: HostPort) -> Self {
        Self {
            listen,
            upstream,
            expiry: Some(DEFAULT_EXPIRY),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            upstream_timeout: Some(DEFAULT_UPSTREAM_TIMEOUT),
            max_poem_bytes: DEFAULT_MAX_POEM_BYTES,
            limits: ServerLimits::default(),
            fetches: FetchSharing::OneInFlight,
            cancel_abandoned: true,
            caching: CachePolicy::WholePoems,
            lines: ProxyLines::Logged,
        }
    }

    /// The text's proxy 1.0 (`twisted-server-1/poetry-proxy.py`, Part 14): every
    /// client that misses starts its own fetch, which runs to its end even if the
    /// client leaves; whatever a fetch got, a poem cut short included, is cached
    /// forever; its lines are printed. weft's bounds stay: the upstream timeout, the
    /// poem size limit and the client limits.
    pub fn version_1_0(listen: HostPort, upstream: HostPort) -> Self {
        Self {
            expiry: None,
            fetches: FetchSharing::OnePerMiss,
            cancel_abandoned: false,
            caching: CachePolicy::WhateverArrived,
            lines: ProxyLines::Printed,
            ..Self::new(listen, upstream)
        }
    }

    /// The text's proxy 3.0 (`twisted-server-4/poetry-proxy.py`, Part 19): proxy 1.0
    /// with cancellation. A client that leaves before its poem cancels its own fetch
    /// (`Canceling poem download.`, printed; the upstream closed cleanly, as
    /// `connector.disconnect()` closes it). Proxy 2.0 behaves as 1.0 on the wire and on
    /// stdout (its pre-fired deferred is invisible from outside).
    pub fn version_3_0(listen: HostPort, upstream: HostPort) -> Self {
        Self {
            cancel_abandoned: true,
            ..Self::version_1_0(listen, upstream)
        }
    }

    /// Sets the upstream fetch's idle timeout (`None`: never).
    pub fn upstream_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.upstream_timeout = timeout;
        self
    }

    /// Sets the largest poem fetched.
    pub fn max_poem_bytes(mut self, max: usize) -> Self {
        self.max_poem_bytes = max;
        self
    }

    /// Sets the limits on clients.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the cache expiry (`None`: never).
    pub fn expiry(mut self, expiry: Option<Duration>) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sets how clients that miss share fetches.
    pub fn fetches(mut self, fetches: FetchSharing) -> Self {
        self.fetches = fetches;
        self
    }

    /// Sets whether a fetch every waiter has left is cancelled.
    pub fn cancel_abandoned(mut self, cancel: bool) -> Self {
        self.cancel_abandoned = cancel;
        self
    }

    /// Sets which fetched poems are cached.
    pub fn caching(mut self, caching: CachePolicy) -> Self {
        self.caching = caching;
        self
    }

    /// Sets whether the text's lines are logged or printed.
    pub fn lines(mut self, lines: ProxyLines) -> Self {
        self.lines = lines;
        self
    }
}
