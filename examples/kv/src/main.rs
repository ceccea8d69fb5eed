//! `kvsim`: weft's scenario commands over this crate's programs.
//!
//! `kvsim sim sweep sim --seeds 100 --check-determinism`, `kvsim sim shrink FILE --seed N`;
//! with no arguments, a summary of every scenario in `sim/`.

use std::process::ExitCode;

fn main() -> ExitCode {
    weft::cli::main(weft_kv::catalogue())
}
