//! The `weft` command: see `weft --help`.

use clap::Parser;

fn main() {
    quiet_on_broken_pipe();
    let code = weft::cli::Cli::parse().run();
    std::process::exit(code);
}

/// `weft sim run ... | head` closes stdout early; Rust's print macros then panic. That
/// is not a bug in weft, so exit quietly as other command-line tools do.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
