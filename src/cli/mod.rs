//! The `weft` command line.
//!
//! `weft` with no arguments runs the bundled simulations and prints a summary; the
//! subcommands benchmark the engine.

mod bench;
mod demo;

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
    /// Measure weft's engine (release builds only give meaningful numbers).
    Bench(bench::BenchArgs),
    /// Run the bundled simulations and print a summary (the default).
    Demo,
}

impl Cli {
    /// Runs the command; returns the process exit status.
    pub fn run(self) -> i32 {
        match self.command {
            Some(Command::Bench(args)) => bench::run(&args),
            Some(Command::Demo) | None => demo::run(),
        }
    }
}
