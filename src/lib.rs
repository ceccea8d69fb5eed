//! # weft
//!
//! A deterministic simulation test harness for network protocols.
//!
//! weft re-creates the programs of two texts about Twisted — ping-pong, the heartbeat,
//! the streaming producer, the poetry servers and clients, the netstring transform
//! service and the caching proxy — as sans-IO state machines. Because they never touch a
//! socket or a real clock, the same code runs under Twisted-style test doubles, a
//! two-party pump, a seeded simulated network, and real TCP.
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
