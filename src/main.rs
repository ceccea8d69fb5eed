//! The `weft` command: see `weft --help`.

use clap::Parser;

fn main() {
    let code = weft::cli::Cli::parse().run();
    std::process::exit(code);
}
