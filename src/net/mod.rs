//! The tokio driver: runs any weft program on real TCP (`tokio::net`) or on turmoil's
//! simulated network (`turmoil::net`), with the same code. This is the only part of
//! weft that touches sockets or reads a clock.
//!
//! # Running a program
//!
//! [`run`] is what a command-line tool calls: build a [`Program`], run it on real TCP
//! in a fresh current-thread runtime, get its exit status. Program output
//! (`cx.print`/`cx.eprint`) goes to stdout and stderr; logs go through `tracing`
//! (install a subscriber with [`init_logging`]).
//!
//! ```no_run
//! use weft::host::{FactoryProgram, HostPort};
//! use weft::programs::pingpong::PingPongFactory;
//!
//! let program = FactoryProgram::new(PingPongFactory::client(Some(100)))
//!     .connect(HostPort::new("127.0.0.1", 8000))
//!     .exit_when_done();
//! let code = weft::net::run(program)?;
//! std::process::exit(code);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`run_on`] is the same loop as a future, for a runtime you already have: inside a
//! turmoil host (with [`Turmoil`]), or several programs side by side on one runtime
//! (with [`Tokio`]). It borrows the [`Node`], so a test can look at the program after
//! the run, and takes an [`Output`] sink, so a test can capture the printed lines.
//!
//! ```no_run
//! use weft::host::{FactoryProgram, Host, HostPort, Stream};
//! use weft::net::{Turmoil, run_on};
//! use weft::programs::pingpong::PingPongFactory;
//!
//! let mut sim = turmoil::Builder::new().build();
//! sim.host("server", || async {
//!     let program = FactoryProgram::new(PingPongFactory::server(None))
//!         .listen(HostPort::new("0.0.0.0", 8000));
//!     let mut output: Vec<(Stream, String)> = Vec::new();
//!     run_on(Turmoil, &mut Host::new(program), &mut output).await;
//!     Ok(())
//! });
//! ```
//!
//! # What the driver does
//!
//! - **Time.** The program's clock reads tokio's clock (which turmoil controls) minus
//!   the moment the run started, so every run starts at virtual time zero. Timers are
//!   `tokio::time::sleep_until` on the node's next deadline.
//! - **Listening.** `listen` on port 0 takes any free port. The program hears the real
//!   address through its `listening` callback, and the driver logs
//!   `listening on ADDR` at info level. A server that must tell its user where it
//!   serves prints that address itself, from `listening`.
//! - **Connecting.** Names resolve through the stack (`tokio::net::lookup_host` or
//!   turmoil's DNS); each address is tried in turn within the program's timeout. The
//!   outcome always arrives on a later turn.
//! - **Back-pressure.** Bytes leave the program's queue one chunk (at most 64 KiB) at
//!   a time per connection, the next only once the socket has taken the last. A peer
//!   that does not read therefore fills the kernel's buffers, then the program's queue,
//!   whose 64 KiB mark pauses a registered producer. Reading is granted one read at a
//!   time and only while the program has not paused it.
//! - **Closing.** A clean close sends end-of-stream, reports `Clean` at once, and keeps
//!   reading (discarding) until the peer's end-of-stream for up to two seconds, so a
//!   peer whose last bytes crossed our close is not reset. An abort closes with
//!   `SO_LINGER` 0: the peer sees a reset. A half-close sends end-of-stream and keeps
//!   reading. A read or write error ends the connection as `Reset` (or `TimedOut`).
//! - **Exit.** When the program exits, the run returns its status at once; listeners
//!   and connections close as at a process exit, without further callbacks. A program
//!   with nothing left to wait for (no listener, connection, connect or timer) ends
//!   the run with status 0.
//! - **Determinism.** Under turmoil the driver adds no randomness of its own: one loop
//!   owns the program, tasks report through one channel, and `select!` is biased.

mod driver;
mod stack;
mod stdout_lines;
mod tasks;

use std::cell::RefCell;
use std::io::{self, IsTerminal};
use std::rc::Rc;

pub use stack::{NetListener, NetStream, Stack, Tokio, Turmoil};

use crate::host::{Host, Node, Program, Stream};

/// Where a program's printed lines go.
pub trait Output {
    /// One line, without its newline.
    fn line(&mut self, stream: Stream, line: &str);
}

/// The process's standard output and standard error.
#[derive(Clone, Copy, Debug, Default)]
pub struct StdOutput;

impl Output for StdOutput {
    fn line(&mut self, stream: Stream, line: &str) {
        match stream {
            Stream::Stdout => println!("{line}"),
            Stream::Stderr => eprintln!("{line}"),
        }
    }
}

/// Collects the lines, for tests.
impl Output for Vec<(Stream, String)> {
    fn line(&mut self, stream: Stream, line: &str) {
        self.push((stream, line.to_owned()));
    }
}

/// Shares a sink with code outside the run (a turmoil host's future must own its sink).
impl<T: Output> Output for Rc<RefCell<T>> {
    fn line(&mut self, stream: Stream, line: &str) {
        self.borrow_mut().line(stream, line);
    }
}

/// Runs `program` on real TCP until it exits; returns its exit status. Lines go to
/// stdout and stderr.
///
/// # Errors
/// If the tokio runtime cannot be built.
pub fn run<P: Program + 'static>(program: P) -> io::Result<i32> {
    run_node(&mut Host::new(program), &mut StdOutput)
}

/// [`run`] for a node the caller keeps (to inspect it afterwards) and with an output
/// sink of the caller's choice.
///
/// # Errors
/// If the tokio runtime cannot be built.
pub fn run_node(node: &mut dyn Node, output: &mut dyn Output) -> io::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    Ok(runtime.block_on(run_on(Tokio, node, output)))
}

/// Runs `node` on `stack` until its program exits (or has nothing left to wait for);
/// returns the exit status. Call it inside a tokio runtime with IO and time enabled,
/// or inside a turmoil host or client with [`Turmoil`].
pub async fn run_on<S: Stack>(stack: S, node: &mut dyn Node, output: &mut dyn Output) -> i32 {
    driver::Driver::new(stack, node, output).run().await
}

/// Installs a `tracing` subscriber that prints log events on stderr, filtered by
/// `RUST_LOG` (default `info`), and the lines the originals print on stdout (events
/// with the target [`STDOUT_TARGET`](crate::programs::STDOUT_TARGET)) on stdout, bare
/// and at every level. Does nothing if one is already installed.
pub fn init_logging() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_filter(filter)
        .with_filter(filter_fn(|m| !stdout_lines::is_stdout_line(m)));
    let stdout = stdout_lines::StdoutLines.with_filter(filter_fn(stdout_lines::is_stdout_line));
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(stdout)
        .try_init();
}
