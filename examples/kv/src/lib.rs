//! A line-based key-value service and a client that retries, written against weft's
//! public API only, as a user's crate would be: the worked example of weft's guide
//! "Testing your own protocol".
//!
//! - [`KvSession`] serves one connection: `SET key value` → `OK`, `GET key` →
//!   `VALUE value` or `NOT_FOUND`, one `\r\n` line each way ([`weft::codec::line`]),
//!   with an optional idle timeout. [`KvFactory`] builds one per connection, all sharing
//!   a [`Store`].
//! - [`KvClient`] sends its commands one at a time, each with a reply timeout, and
//!   retries a failed attempt with a [`RetryPolicy`](weft::host::RetryPolicy) on a new
//!   connection. [`kv_client_async`] is the same client as an `async fn`.
//! - [`catalogue`] registers them for scenario files; `src/main.rs` is the binary
//!   `kvsim` with weft's `sim run | sweep | shrink | programs` commands.

mod client;
mod client_async;
mod server;

pub use client::{ClientOptions, ClientTimer, KvClient};
pub use client_async::kv_client_async;
pub use server::{KvFactory, KvSession, MAX_LINE, ServerOptions, SessionTimer, Store, line_format};

use weft::host::HostPort;
use weft::scenario::Catalogue;

/// The programs a scenario file can name: `kv-server`, `kv-client`, `kv-client-async`.
pub fn catalogue() -> Catalogue {
    Catalogue::new()
        .listening(
            "kv-server",
            "the key-value service: SET key value, GET key",
            |o: &ServerOptions| {
                (
                    HostPort::new("0.0.0.0", o.port),
                    KvFactory::new(o.idle_timeout),
                )
            },
        )
        .program(
            "kv-client",
            "sends its commands with a reply timeout, retrying on failure",
            |o: &ClientOptions| KvClient::new(o.clone()),
        )
        .program(
            "kv-client-async",
            "kv-client as an async program",
            |o: &ClientOptions| kv_client_async(o.clone()),
        )
}
