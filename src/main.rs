//! The `weft` command: see `weft --help`.

fn main() -> std::process::ExitCode {
    weft::cli::weft_main()
}
