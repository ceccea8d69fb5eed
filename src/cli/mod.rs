//! The command line, for `weft` and for a user's own binary.
//!
//! [`main`] gives a binary the `sim run | sweep | merge | shrink | programs` commands over its
//! [`Catalogue`], and with no arguments runs every scenario of `sim/` and prints a
//! summary; `serve FILE.toml` runs the catalogue's programs on real TCP as services
//! (see [`crate::services`]). [`run_from`] is the same with given arguments and output,
//! for tests.
//! [`weft_main`] is the `weft` binary: the built-in catalogue, plus `weft pingpong`, the
//! poetry servers and clients on real TCP, `weft serve` over those servers, and `weft
//! bench`.
//!
//! A user's `src/main.rs`:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     let catalogue = weft::programs::catalogue(); // plus the crate's own programs
//!     weft::cli::main(catalogue)
//! }
//! ```

mod bench;
mod bench_codec;
mod bench_hold;
mod bench_scale;
mod bench_tcp;
mod clients;
mod pingpong;
mod serve;
mod servers;
mod services;
mod sim;
mod sweep;
mod views;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::scenario::Catalogue;
use sim::SimContext;

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
struct WeftCli {
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
    /// With --proxy-version 1.0 it is the text's proxy 1.0: every client that misses
    /// starts its own fetch, whatever a fetch got is cached (a poem cut short too), and
    /// its lines (`Fetching poem from server.`, `Using cached poem.`) go to stdout;
    /// with 3.0, the text's proxy 3.0: 1.0 where a client that leaves cancels its fetch.
    ///
    /// Exit status: 1 if the port cannot be bound, 2 for bad arguments.
    Proxy(serve::ProxyArgs),
    /// Run several servers in one process, from a services file (Part 16's twistd).
    ///
    /// The file lists services, each a name, a program (slow-poetry, fast-poetry,
    /// transform-server, proxy) and that command's flags as options; a [log] table can
    /// send the log to a file, rotated daily or hourly.
    Serve(services::ServeArgs),
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

impl WeftCli {
    /// Runs the command; returns the process exit status.
    fn run(self, ctx: &mut SimContext<'_>) -> i32 {
        match self.command {
            Some(Command::Sim(args)) => sim::run(ctx, args),
            Some(Command::Bench(args)) => bench::run(&args),
            Some(Command::Pingpong(args)) => pingpong::run(&args),
            Some(Command::SlowPoetry(args)) => serve::slow_poetry(&args),
            Some(Command::FastPoetry(args)) => serve::fast_poetry(&args),
            Some(Command::TransformServer(args)) => serve::transform_server(&args),
            Some(Command::Proxy(args)) => serve::proxy(&args),
            Some(Command::Serve(args)) => services::run(&args, &servers::catalogue(), ctx.out),
            Some(Command::GetPoetry(args)) => clients::get_poetry(&args),
            Some(Command::TransformClient(args)) => clients::transform_client(&args),
            None => sim::run_default(ctx),
        }
    }
}

/// The command line of a user's binary: only the scenario commands.
#[derive(Debug, Parser)]
#[command(
    about = "Deterministic simulation scenarios over this program's catalogue",
    long_about = None,
    after_help = "With no command, runs every scenario in sim/ with its seed and prints a summary."
)]
struct UserCli {
    #[command(subcommand)]
    command: Option<UserCommand>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Run, sweep and shrink simulation scenarios (files in sim/).
    Sim(sim::SimArgs),
    /// Run several of the catalogue's programs on real TCP in one process, from a
    /// services file ([[service]] tables: name, program, options).
    Serve(services::ServeArgs),
}

/// The entry point of a binary whose scenarios run `catalogue`'s programs: parses the
/// process's arguments, reports on stdout, and returns the exit status (0 passed, 1 a
/// run failed, 2 bad arguments or files).
///
/// A panic in a program is reported as its run's failure (with host, virtual time,
/// seed and replay command) without the default panic message.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     weft::cli::main(weft::programs::catalogue())
/// }
/// ```
pub fn main(catalogue: Catalogue) -> ExitCode {
    install_panic_hook();
    let args: Vec<OsString> = std::env::args_os().collect();
    run_user_cli(&catalogue, args, &mut std::io::stdout().lock(), true)
}

/// [`main`] with given arguments (the first is the binary's name, used in replay
/// lines) and output, for a test that runs the command line in-process.
///
/// ```
/// let mut out = Vec::new();
/// let status = weft::cli::run_from(
///     &weft::programs::catalogue(),
///     ["mybin", "sim", "run", "sim/pingpong.toml"],
///     &mut out,
/// );
/// assert_eq!(status, std::process::ExitCode::SUCCESS);
/// assert!(String::from_utf8(out).unwrap().contains("pingpong: seed 1"));
/// ```
pub fn run_from<I, T>(catalogue: &Catalogue, args: I, out: &mut dyn Write) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    run_user_cli(catalogue, args, out, false)
}

/// [`run_from`]; `process_exits`: the process ends right after (a binary's `main`).
fn run_user_cli(
    catalogue: &Catalogue,
    args: Vec<OsString>,
    out: &mut dyn Write,
    process_exits: bool,
) -> ExitCode {
    let bin = args
        .first()
        .and_then(|a| Path::new(a).file_stem())
        .map_or_else(|| "sim".to_owned(), |s| s.to_string_lossy().into_owned());
    let command = UserCli::command().bin_name(bin.clone());
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| UserCli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error, out),
    };
    let mut ctx = SimContext {
        catalogue,
        bin,
        fallback_dir: None,
        process_exits,
        out,
    };
    let status = match cli.command {
        Some(UserCommand::Sim(args)) => sim::run(&mut ctx, args),
        Some(UserCommand::Serve(args)) => services::run(&args, catalogue, ctx.out),
        None => sim::run_default(&mut ctx),
    };
    exit_code(status)
}

/// The `weft` binary: [`main`] with weft's built-in catalogue, plus weft's real-TCP,
/// ping-pong and benchmark commands; with no arguments it runs the `sim/` folder of the
/// current directory, else of weft's source tree.
pub fn weft_main() -> ExitCode {
    install_panic_hook();
    let catalogue = crate::programs::catalogue();
    let cli = match WeftCli::try_parse() {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let mut stdout = std::io::stdout().lock();
    let mut ctx = SimContext {
        catalogue: &catalogue,
        bin: "weft".to_owned(),
        fallback_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sim")),
        process_exits: true,
        out: &mut stdout,
    };
    exit_code(cli.run(&mut ctx))
}

fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(2))
}

/// Help and version go to `out` (status 0); usage errors to stderr (status 2).
fn clap_exit(error: &clap::Error, out: &mut dyn Write) -> ExitCode {
    let text = error.render().to_string();
    if error.use_stderr() {
        eprint!("{text}");
    } else {
        let _ = write!(out, "{text}");
    }
    exit_code(error.exit_code())
}

/// Panics inside scenario runs are caught and reported by the run itself, so the
/// default message is noise there; `| head` closing stdout is not a bug either.
fn install_panic_hook() {
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
        if crate::scenario::in_run() {
            return;
        }
        default(info);
    }));
}
