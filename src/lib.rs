//! # weft
//!
//! A deterministic simulation test harness for network protocols. Write a protocol once,
//! as a sans-IO state machine (or an `async fn`), and test it under Twisted-style doubles,
//! an in-memory pump, a seeded simulated network with faults, real TCP and turmoil —
//! every simulated run reproducible byte for byte from its seed.
//!
//! ## Testing your own protocol
//!
//! A protocol reacts to events through a [`protocol::Context`] and never touches a
//! socket or a clock, so a test can drive it by hand:
//!
//! ```
//! use weft::codec::line::{LineDecoder, LineFormat};
//! use weft::protocol::{Context, NoTimer, Protocol};
//! use weft::testing::StringTransport;
//!
//! /// Answers every line with its length; a line past the maximum ends the connection.
//! struct Lengths(LineDecoder);
//!
//! impl Protocol for Lengths {
//!     type Timer = NoTimer;
//!
//!     fn data_received(&mut self, cx: &mut Context<'_, NoTimer>, data: &[u8]) {
//!         let mut replies = Vec::new();
//!         let decoded = self.0.decode(data, |line| {
//!             replies.extend_from_slice(format!("{}\r\n", line.len()).as_bytes())
//!         });
//!         cx.write(&replies);
//!         if decoded.is_err() {
//!             cx.lose_connection();
//!         }
//!     }
//! }
//!
//! let decoder = LineDecoder::new(LineFormat::new().with_max_length(64));
//! let mut conn = StringTransport::new().make_connection(Lengths(decoder));
//! conn.data_received(b"SET k v\r\nGE"); // a read may end anywhere
//! conn.data_received(b"T k\r\n");
//! assert_eq!(conn.value(), b"7\r\n5\r\n");
//! ```
//!
//! The same value runs unchanged at every other layer: two protocols joined by a
//! [`testing::Pump`] with a transcript for an insta snapshot; a [`host::Program`] (many
//! connections, timers, retries with a [`host::RetryPolicy`]) against a
//! [`testing::MemoryReactor`]; hosts on a seeded [`simnet::SimNet`] with faults
//! ([`simnet::Fault::at`]) and proptest fault schedules
//! (`testing::strategies`, cargo feature `proptest`); TOML scenario files run through
//! a [`scenario::Catalogue`] of the crate's own programs, from `cargo test`
//! ([`assert_scenarios!`]) and from a binary of its own ([`cli::main`]: `sim sweep`,
//! `sim shrink`); and real TCP or turmoil through [`net`]. An async program
//! ([`task::TaskProgram`]) runs wherever a state machine does.
//!
//! `examples/kv/` in weft's repository is a crate that does all of that for a
//! line-based key-value service and a retrying client (both a state machine and async),
//! written against this public API only; the README's chapter "Testing your own
//! protocol" walks through it.
//!
//! The seed programs ([`programs`]) re-create those of two texts about Twisted —
//! ping-pong, the heartbeat, the streaming producer, the poetry servers and clients, the
//! netstring transform service and the caching proxy.
//!
//! ## Layers
//!
//! - [`time`], [`clock`]: virtual time; timers are named values, not closures.
//! - [`transport`], [`flow`], [`protocol`]: what a per-connection protocol sees.
//! - [`host`]: programs that own several connections, and the sans-IO [`host::Host`]
//!   every driver runs them in; the seeded [`host::HostRng`], the back-off of
//!   [`host::RetryPolicy`] and the [`host::ReconnectingClient`].
//! - [`testing`]: the doubles (`StringTransport`, `ManualClock`, `MemoryReactor`) and the
//!   [`testing::Pump`].
//! - [`codec`]: wire formats: netstrings, delimited lines (`LineReceiver`) and int32
//!   length prefixes (`Int32StringReceiver`).
//! - [`programs`]: the seed programs.
//! - [`simnet`]: the seeded, event-driven simulated network, with faults as data.
//! - [`task`]: async programs on the sans-IO core, and the Deferred family as futures.
//! - [`scenario`]: the TOML scenario files of `sim/`, a front end to [`simnet`].
//! - [`report`]: reviewing runs: sequence diagrams, pcap captures, JSON lines, JUnit,
//!   sweep shards and their merge.
//! - [`net`]: the tokio driver, on real TCP or turmoil: the only code that does IO.
//! - [`services`]: several servers in one process from a TOML file (`weft serve`), with
//!   log rotation and a clean stop: Twisted's `twistd` and `.tac` files.
//! - [`cli`]: the command line, for `weft` and for a user's binary over its own
//!   [`scenario::Catalogue`].
//!
//! ## The run-loop contract
//!
//! Every driver — the pump, SimNet, tokio — does the same thing with a program: it
//! feeds one event in (`handle_*` on a [`host::Node`]: bytes, a timer, a connect
//! answer), then drains what the program asked for (`poll_command`, `poll_dirty`,
//! `pending`/`consume`, `close_action`) before the next event, and sleeps until
//! `poll_timeout`. A protocol never waits, never reads a clock and never touches a
//! socket, so which driver runs it cannot change what it does — only what the network
//! does to it, and under simulation that is decided by the seed.
//!
//! ## Panics and errors
//!
//! Panic means bug. Bytes from a peer never cause a panic; misuse of an API by program
//! code (starting a running loop) may, and says so under `# Panics`. Errors are typed
//! enums with lowercase messages.

pub mod cli;
pub mod clock;
pub mod codec;
pub mod flow;
pub mod host;
pub mod net;
pub mod programs;
pub mod protocol;
pub mod report;
pub mod scenario;
pub mod services;
pub mod simnet;
pub mod task;
pub mod testing;
pub mod time;
pub mod transport;

/// insta, for [`assert_scenarios!`]: its snapshot step expands in the caller's crate.
#[doc(hidden)]
pub use insta as __insta;

/// Shared, cheaply cloned bytes (re-exported from the `bytes` crate): what transcripts
/// record and poems are made of.
pub use bytes::Bytes;

/// The `rand` crate weft's random sources implement ([`host::HostRng`] is a
/// [`rand::RngCore`]), re-exported so a program can use [`rand::Rng`]'s methods without
/// depending on it separately.
pub use rand;
