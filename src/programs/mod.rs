//! The seed programs, as sans-IO protocols and programs.
//!
//! - [`limits`]: an idle timeout and a connection limit for any server's factory.
//! - [`pingpong`]: both sides write `*` on connect and answer every read with one `*`
//!   until one has received its maximum ("Expert Twisted", chapter 1).
//! - [`pingpong_async`]: the same game as `async fn`s on a [`TaskProgram`](crate::task::TaskProgram).
//! - [`heartbeat`]: a byte every 30 seconds through a [`LoopingCall`](crate::clock::LoopingCall).
//! - [`streaming`]: a push producer doubling its writes every millisecond, and the
//!   server that receives them: flow control made visible.
//! - [`poetry`]: the poetry servers, the get-poetry client and the caching proxy
//!   (Peticolas, Parts 2 to 19).
//! - [`raw`]: a client that sends fixed bytes and prints the answer (a bad peer for
//!   scenarios).
//! - [`transform`]: the netstring poetry transformation server and its one-request
//!   client (the poetry series, Parts 12 and 13).
//!
//! [`catalogue()`] registers them all for scenario files, through the same public
//! [`Catalogue`](crate::scenario::Catalogue) API a user's crate uses.

mod catalogue;
pub mod heartbeat;
pub mod limits;
pub mod pingpong;
pub mod pingpong_async;
pub mod poetry;
pub mod raw;
pub mod streaming;
pub mod transform;

pub use catalogue::catalogue;

/// The `tracing` target of the lines the texts' programs print on stdout and a protocol
/// has no output of its own for: the slow servers' `Sending 10 bytes` and `Somebody at
/// ... wants poetry!`, ping-pong's `Server wrote a byte`. Each keeps its log level, so
/// a simulation's transcript records it as before (at that level); weft's commands
/// print every such line on stdout, bare, at any `RUST_LOG` level, as the originals
/// print it, and keep it off stderr ([`net::init_logging`](crate::net::init_logging)).
///
/// ```
/// tracing::debug!(target: weft::programs::STDOUT_TARGET, "Sending {} bytes", 10);
/// ```
pub const STDOUT_TARGET: &str = "weft::stdout";
