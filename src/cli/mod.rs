//! The `weft` command line.
//!
//! `weft` with no arguments runs every scenario in `sim/` and prints a summary; `weft
//! sim` runs, sweeps and shrinks scenarios; `weft bench` measures the engine.

mod bench;
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
}

impl Cli {
    /// Runs the command; returns the process exit status.
    pub fn run(self) -> i32 {
        match self.command {
            Some(Command::Sim(args)) => sim::run(args),
            Some(Command::Bench(args)) => bench::run(&args),
            None => sim::run_default(),
        }
    }
}
