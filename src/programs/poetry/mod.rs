//! The poetry programs of Peticolas's series, sans-IO.
//!
//! The poetry protocol: on connect the server sends the poem and closes; the client
//! sends nothing, and the close is the only end marker.
//!
//! - [`poems`]: [`Poem`] and weft's built-in poems, sized like the text's (3,003, 623
//!   and 653 bytes).
//! - [`server`]: the fast server (whole poem, then close) and the slow server
//!   (`num_bytes` every `delay`, each client on its own timer), as protocols.
//! - [`serial`]: the blocking slow server of Part 2, one client at a time.
//! - [`client`]: the client protocol, which keeps the close reason with the poem.
//! - [`fanin`]: [`FanIn`], results in input order (Twisted's `DeferredList`).
//! - [`get_poetry`]: the get-poetry clients as one program, with the transform stage of
//!   clients 6.0 to 8.0, and each client of the series as a named version of it
//!   ([`ClientVersion`]).
//! - [`get_poetry_async`]: clients 7.0 and 8.0 as `async fn`s, held to the same
//!   transcripts.
//! - [`sender`]: [`PoemSender`], a shared poem written piece by piece as the
//!   connection drains.
//! - [`proxy`]: the caching proxy with one upstream fetch in flight and cancellation,
//!   and the text's proxy 1.0 (a fetch per miss, whatever arrived cached).

pub mod client;
pub mod fanin;
pub mod get_poetry;
pub mod get_poetry_async;
pub mod poems;
pub mod proxy;
pub mod sender;
pub mod serial;
pub mod server;

pub use client::{DownloadError, Failure, PoetryClient, Received, TruncationPolicy};
pub use fanin::{FanIn, FireOn, Fired, SettleError};
pub use get_poetry::{
    ClientVersion, DEFAULT_RETRY_DELAY, DEFAULT_TRANSFORM, DEFAULT_TRANSFORM_TIMEOUT, ExitPolicy,
    GetPoetry, GetPoetryOptions, GetPoetryTimer, OnConnectFailure, ReportStyle, TaskNumbering,
    TransformStepError, VersionError,
};
pub use poems::{DEFAULT_MAX_POEM_BYTES, Poem};
pub use proxy::{
    CachePolicy, DEFAULT_EXPIRY, DEFAULT_UPSTREAM_TIMEOUT, FetchSharing, PoetryProxy, ProxyLines,
    ProxyOptions, ProxyStats, ProxyTimer,
};
pub use sender::PoemSender;
pub use serial::{SERIAL_BACKLOG, SerialPoetryServer, SerialTimer};
pub use server::{
    ChunkSender, DEFAULT_DELAY, DEFAULT_NUM_BYTES, FastPoetry, FastPoetryFactory, Pace, SlowPoetry,
    SlowPoetryFactory, SlowTimer,
};
