//! The `weft` command line.
//!
//! `weft` with no arguments runs every scenario in `sim/` and prints a summary; `weft
//! sim` runs, sweeps and shrinks scenarios; `weft pingpong` plays the chapter 1 protocol
//! on real TCP; the poetry commands (`slow-poetry`, `fast-poetry`, `transform-server`,
//! `proxy`, `get-poetry`, `transform-client`) run the poetry series' programs on real
//! TCP; `weft bench` measures the engine and the driver.

mod bench;
mod bench_tcp;
mod clients;
mod pingpong;
mod serve;
mod sim;
mod sweep;
mod views;

use clap::{Parser, Subcommand};

/// Deterministic simulation test harness for network protocols.
#[derive(Debug, Parser)]
#[command(
    name = "weft",
    version,
    about,
    long_about = None,
    after_help = "\
With no command, weft runs every scenario in sim/ with its seed and prints a summary.

Examples:
  weft                                          the bundled scenarios, summarised
  weft sim run sim/pingpong.toml --transcript   one scenario, every byte and fault
  weft sim sweep sim/ --seeds 200 --check-determinism
  weft slow-poetry --port 10000 loom            a real server; then: weft get-poetry 10000"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run, sweep and shrink simulation scenarios (files in sim/).
    Sim(sim::SimArgs),
    /// Measure weft's engine (release builds only give meaningful numbers).
    Bench(bench::BenchArgs),
    /// Play ping-pong over real TCP: both sides in one process, or a server or a client.
    ///
    /// Each side writes one byte when the connection is made and answers every read with
    /// one byte; the client closes once it has received its maximum ("Expert Twisted",
    /// chapter 1).
    ///
    /// With no mode, one process plays both sides over loopback (the book's script) and
    /// exits once both connections have closed. Each side prints one line per connection:
    /// the bytes it wrote and received, and how the connection ended. The protocol's own
    /// log lines go to stderr (RUST_LOG filters them; default info).
    ///
    /// Exit status: 0 if every connection closed cleanly, 1 if a connect failed or a
    /// connection broke, 2 for bad arguments.
    Pingpong(pingpong::PingPongArgs),
    /// Serve a poem slowly: NUM_BYTES every DELAY seconds, to every client at once (or
    /// one at a time with --serial, as Part 2's blocking server).
    ///
    /// Prints `Serving POEM on HOST:PORT.` once listening, then serves until
    /// interrupted; each client gets the poem in chunks, and the connection closes one
    /// delay after the last chunk. Log lines (a client arriving, leaving early) go to
    /// stderr; RUST_LOG filters them (default info).
    ///
    /// Exit status: 1 if the port cannot be bound, 2 for bad arguments.
    SlowPoetry(serve::SlowPoetryArgs),
    /// Serve a poem as fast as possible: the whole poem on connect, then close (Part 11).
    ///
    /// Prints `Serving POEM on HOST:PORT.` once listening, then serves every client at
    /// once until interrupted. Log lines go to stderr; RUST_LOG filters them (default
    /// info).
    ///
    /// Exit status: 1 if the port cannot be bound, 2 for bad arguments.
    FastPoetry(serve::FastPoetryArgs),
    /// Serve poem transformations over netstrings (Part 12).
    ///
    /// A client sends one netstring, `NAME.POEM`; the server answers with the
    /// transformed poem as a netstring and closes. A bad request, an unknown transform,
    /// a malformed or oversized netstring (over 99,999 bytes) gets no reply: the
    /// connection closes and the reason is logged. Prints `Serving transforms on
    /// HOST:PORT.` once listening.
    ///
    /// Exit status: 1 if the port cannot be bound, 2 for bad arguments.
    TransformServer(serve::TransformServerArgs),
    /// A caching poetry proxy (Parts 14 and 19): serves every client the poem of one
    /// upstream server.
    ///
    /// The first client starts one upstream fetch; clients arriving meanwhile wait for
    /// it; later ones get the cached poem (for --expiry seconds). If every waiting
    /// client leaves, the fetch is cancelled. A failed fetch is not cached: its clients
    /// get an empty close. Prints `Proxying UPSTREAM on HOST:PORT.` once listening.
    ///
    /// Exit status: 1 if the port cannot be bound, 2 for bad arguments.
    Proxy(serve::ProxyArgs),
    /// Download a poem from each server, all at once (or one at a time), and report.
    ///
    /// Each download ends exactly once: with a poem, or with a failure naming its
    /// server (refused, timed out, cut short by a reset). Failures go to stderr.
    GetPoetry(clients::GetPoetryArgs),
    /// Ask a transform server to transform a poem; print the result.
    ///
    /// Sends `NAME.POEM` as one netstring and writes the reply's bytes, exactly, to
    /// stdout.
    TransformClient(clients::TransformClientArgs),
}

impl Cli {
    /// Runs the command; returns the process exit status.
    pub fn run(self) -> i32 {
        match self.command {
            Some(Command::Sim(args)) => sim::run(args),
            Some(Command::Bench(args)) => bench::run(&args),
            Some(Command::Pingpong(args)) => pingpong::run(&args),
            Some(Command::SlowPoetry(args)) => serve::slow_poetry(&args),
            Some(Command::FastPoetry(args)) => serve::fast_poetry(&args),
            Some(Command::TransformServer(args)) => serve::transform_server(&args),
            Some(Command::Proxy(args)) => serve::proxy(&args),
            Some(Command::GetPoetry(args)) => clients::get_poetry(&args),
            Some(Command::TransformClient(args)) => clients::transform_client(&args),
            None => sim::run_default(),
        }
    }
}
