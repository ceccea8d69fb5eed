//! The `weft` command line.
//!
//! `weft` with no arguments runs every scenario in `sim/` and prints a summary; `weft
//! sim` runs, sweeps and shrinks scenarios; `weft pingpong` plays the chapter 1 protocol
//! on real TCP; `weft bench` measures the engine.

mod bench;
mod pingpong;
mod sim;

use clap::{Parser, Subcommand};

/// Deterministic simulation test harness for network protocols.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about, long_about = None)]
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
}

impl Cli {
    /// Runs the command; returns the process exit status.
    pub fn run(self) -> i32 {
        match self.command {
            Some(Command::Sim(args)) => sim::run(args),
            Some(Command::Bench(args)) => bench::run(&args),
            Some(Command::Pingpong(args)) => pingpong::run(&args),
            None => sim::run_default(),
        }
    }
}
