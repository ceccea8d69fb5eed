//! The servers on real TCP: `weft slow-poetry`, `weft fast-poetry`, `weft
//! transform-server` and `weft proxy` (the poetry series, Parts 2, 11, 12 and 14).
//!
//! Each listens on `--iface` (127.0.0.1) and `--port` (0: a free port the kernel
//! picks), prints one line saying where it serves once the port is bound, and serves
//! until interrupted. A port it cannot bind ends it with status 1.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;

use crate::host::{
    ConnId, ConnectError, FactoryProgram, Host, HostContext, HostPort, ListenError, ListenerId,
    Node, Program,
};
use crate::net::{StdOutput, Tokio};
use crate::programs::limits::{LimitedFactory, ServerLimits};
use crate::programs::poetry::{
    DEFAULT_DELAY, DEFAULT_MAX_POEM_BYTES, DEFAULT_NUM_BYTES, DEFAULT_UPSTREAM_TIMEOUT,
    FastPoetryFactory, Pace, Poem, PoetryProxy, ProxyOptions, SerialPoetryServer,
    SlowPoetryFactory, poems::BUILTIN_POEMS,
};
use crate::programs::transform::TransformFactory;
use crate::transport::Disconnect;

mod flags;

pub(crate) use flags::{DEFAULT_IFACE, DEFAULT_POEM, DEFAULT_PORT, positive_seconds};
use flags::{
    Expiry, IdleTimeout, LimitArgs, ListenArgs, Seconds, at_least_one, delay, expiry, idle_timeout,
};

/// A poem named on the command line: a built-in poem's name, or a file.
#[derive(Clone, Debug)]
pub(crate) struct PoemArg {
    /// What was given, for the startup line.
    pub(crate) label: String,
    /// The poem, read once.
    pub(crate) poem: Poem,
}

impl Default for PoemArg {
    fn default() -> Self {
        Self::builtin(DEFAULT_POEM)
    }
}

impl PoemArg {
    fn builtin(name: &str) -> Self {
        Self {
            label: name.to_owned(),
            poem: Poem::builtin(name).unwrap_or_default(),
        }
    }
}

/// Why a `POEM` argument is unusable.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoemArgError {
    /// Neither a built-in poem nor an existing file.
    #[error("no such file or built-in poem: {path}; built-in poems: {builtins}")]
    NotFound { path: String, builtins: String },
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    /// A FIFO, a device, a directory: reading it could block or never end.
    #[error("{path} is not a regular file")]
    NotAFile { path: String },
    /// Larger than a poem may be.
    #[error("{path} is {size} bytes, more than the largest poem weft serves ({max} bytes)")]
    TooLarge { path: String, size: u64, max: usize },
}

impl FromStr for PoemArg {
    type Err = PoemArgError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(poem) = Poem::builtin(s) {
            return Ok(Self {
                label: s.to_owned(),
                poem,
            });
        }
        let unreadable = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => PoemArgError::NotFound {
                path: s.to_owned(),
                builtins: builtin_names(),
            },
            _ => PoemArgError::Unreadable {
                path: s.to_owned(),
                source,
            },
        };
        // Look before opening: opening a FIFO blocks until a writer comes, and a
        // device such as /dev/zero never ends.
        let metadata = std::fs::metadata(s).map_err(unreadable)?;
        if !metadata.is_file() {
            return Err(PoemArgError::NotAFile { path: s.to_owned() });
        }
        let too_large = |size: u64| PoemArgError::TooLarge {
            path: s.to_owned(),
            size,
            max: DEFAULT_MAX_POEM_BYTES,
        };
        let max = DEFAULT_MAX_POEM_BYTES as u64;
        if metadata.len() > max {
            return Err(too_large(metadata.len()));
        }
        // The file may grow between the look and the read: read at most one byte more.
        let mut bytes = Vec::new();
        std::fs::File::open(s)
            .and_then(|file| {
                std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)
            })
            .map_err(unreadable)?;
        if bytes.len() as u64 > max {
            return Err(too_large(bytes.len() as u64));
        }
        let poem = Poem::new(bytes);
        Ok(Self {
            label: s.to_owned(),
            poem,
        })
    }
}

fn builtin_names() -> String {
    let names: Vec<&str> = BUILTIN_POEMS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// Arguments of `weft slow-poetry`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  weft slow-poetry --port 10000                       # loom, 10 bytes every 0.1 s
  weft slow-poetry --port 10000 --num-bytes 30 loom   # the text's 10.1 s download
  weft slow-poetry --serial --num-bytes 50 --delay 1 poem.txt")]
pub(crate) struct SlowPoetryArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// Bytes per chunk.
    #[arg(long, default_value_t = DEFAULT_NUM_BYTES, value_parser = at_least_one)]
    num_bytes: usize,
    /// Seconds between chunks (a float).
    #[arg(
        long,
        default_value_t = Seconds(DEFAULT_DELAY),
        value_parser = delay,
        value_name = "SECONDS"
    )]
    delay: Seconds,
    /// Serve one client at a time, the others waiting their turn (the blocking server
    /// of Part 2); by default every client is served at once.
    #[arg(long)]
    serial: bool,
    /// The poem: a file, or a built-in poem (loom, ten-bytes, clock).
    #[arg(value_name = "POEM", default_value = DEFAULT_POEM)]
    poem: PoemArg,
}

/// Arguments of `weft fast-poetry`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  weft fast-poetry --port 10000 clock
  weft fast-poetry poem.txt                # on a free port; the line printed says which")]
pub(crate) struct FastPoetryArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// The poem: a file, or a built-in poem (loom, ten-bytes, clock).
    #[arg(value_name = "POEM", default_value = DEFAULT_POEM)]
    poem: PoemArg,
}

/// Arguments of `weft transform-server`.
#[derive(Debug, Args)]
#[command(after_help = "\
Transforms: cummingsify (lower-case), cummingsify-loudly, reverse-lines, rot13, reverse.

Example:
  weft transform-server --port 11000
  printf '27:cummingsify.HERE IS MY POEM,' | nc -q1 127.0.0.1 11000   # 15:here is my poem,")]
pub(crate) struct TransformServerArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Arguments of `weft proxy`.
#[derive(Debug, Args)]
#[command(after_help = "\
Example:
  weft slow-poetry --port 10001 ten-bytes
  weft proxy --port 10000 10001
  weft get-poetry 10000 10000      # one upstream fetch; the second is served from the cache
  weft proxy --proxy-version 1.0 --port 10000 10001
  weft get-poetry 10000 10000      # the text's proxy 1.0: two upstream fetches")]
pub(crate) struct ProxyArgs {
    #[command(flatten)]
    listen: ListenArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// Which proxy: weft's (one fetch in flight for every client that misses, cancelled
    /// when they all leave, whole poems only), the text's proxy 1.0 (a fetch per client
    /// that misses, never cancelled, whatever arrived cached, a poem cut short
    /// included; its lines printed on stdout as the text prints them) or its proxy 3.0
    /// (1.0, with a client's leaving cancelling its own fetch).
    #[arg(long, value_enum, default_value_t = ProxyVersion::Weft, value_name = "VERSION")]
    proxy_version: ProxyVersion,
    /// Seconds a fetched poem is served from the cache; `never` keeps it forever.
    /// Default: 7200, or `never` with --proxy-version 1.0 or 3.0.
    #[arg(long, value_parser = expiry, value_name = "SECONDS")]
    expiry: Option<Expiry>,
    /// Give up on an upstream fetch that sends nothing for this many seconds (every
    /// waiting client is closed and the next starts a fresh fetch); `never` waits.
    #[arg(
        long,
        default_value_t = IdleTimeout(Some(DEFAULT_UPSTREAM_TIMEOUT)),
        value_parser = idle_timeout,
        value_name = "SECONDS"
    )]
    upstream_timeout: IdleTimeout,
    /// The largest poem fetched, in bytes; an upstream that sends more fails the
    /// fetch, and nothing is cached.
    #[arg(long, default_value_t = DEFAULT_MAX_POEM_BYTES, value_name = "BYTES")]
    max_poem_bytes: usize,
    /// The poetry server to fetch from: `PORT` (on 127.0.0.1) or `HOST:PORT`.
    #[arg(value_name = "[HOST:]PORT")]
    upstream: HostPort,
}

/// Which proxy `weft proxy` runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub(crate) enum ProxyVersion {
    /// weft's proxy (the Part 14 exercises' answers and proxy 3.0's cancellation).
    Weft,
    /// The text's proxy 1.0 (Part 14, `twisted-server-1/poetry-proxy.py`).
    #[value(name = "1.0")]
    V1_0,
    /// The text's proxy 3.0 (Part 19, `twisted-server-4/poetry-proxy.py`): 1.0 with
    /// cancellation.
    #[value(name = "3.0")]
    V3_0,
}

pub(crate) fn slow_poetry(args: &SlowPoetryArgs) -> i32 {
    let addr = args.listen.addr();
    let pace = Pace::new(args.num_bytes, args.delay.0);
    let poem = args.poem.poem.clone();
    let label = &args.poem.label;
    if args.serial {
        serve(Announced::new(
            SerialPoetryServer::new(addr, poem, pace),
            format!("Serving {label} one client at a time"),
        ))
    } else {
        let limits = paced_limits(args.limits.limits(), args.delay.0);
        let factory = LimitedFactory::new(SlowPoetryFactory::new(poem, pace), limits);
        serve(Announced::new(
            FactoryProgram::new(factory).listen(addr),
            format!("Serving {label}"),
        ))
    }
}

/// A slow server's limits: its idle timeout at least two of its delays, as the
/// server's own pace is no peer's fault (a check must see a chunk go out).
pub(crate) fn paced_limits(mut limits: ServerLimits, delay: Duration) -> ServerLimits {
    limits.idle_timeout = limits.idle_timeout.map(|idle| idle.max(delay * 2));
    limits
}

pub(crate) fn fast_poetry(args: &FastPoetryArgs) -> i32 {
    let factory = LimitedFactory::new(
        FastPoetryFactory::new(args.poem.poem.clone()),
        args.limits.limits(),
    );
    serve(Announced::new(
        FactoryProgram::new(factory).listen(args.listen.addr()),
        format!("Serving {}", args.poem.label),
    ))
}

pub(crate) fn transform_server(args: &TransformServerArgs) -> i32 {
    serve(Announced::new(
        FactoryProgram::new(LimitedFactory::new(
            TransformFactory::default(),
            args.limits.limits(),
        ))
        .listen(args.listen.addr()),
        "Serving transforms".to_owned(),
    ))
}

pub(crate) fn proxy(args: &ProxyArgs) -> i32 {
    // The proxy prints its own startup line: `Proxying UPSTREAM on ADDR.` (1.0: the
    // text's form).
    let (listen, upstream) = (args.listen.addr(), args.upstream.clone());
    let mut options = match args.proxy_version {
        ProxyVersion::Weft => ProxyOptions::new(listen, upstream),
        ProxyVersion::V1_0 => ProxyOptions::version_1_0(listen, upstream),
        ProxyVersion::V3_0 => ProxyOptions::version_3_0(listen, upstream),
    };
    if let Some(Expiry(expiry)) = args.expiry {
        options = options.expiry(expiry);
    }
    let options = options
        .upstream_timeout(args.upstream_timeout.0)
        .max_poem_bytes(args.max_poem_bytes)
        .limits(args.limits.limits());
    serve(PoetryProxy::new(options))
}

/// Runs a server on real TCP until it exits (a failed listen) or is stopped by SIGINT
/// or SIGTERM: then the listener and every connection close, one line says so, and the
/// status is 0.
fn serve<P: Program + 'static>(program: P) -> i32 {
    crate::net::init_logging();
    raise_fd_limit();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    let mut host = Host::new(program);
    let mut output = StdOutput;
    let outcome = runtime.block_on(async {
        tokio::select! {
            code = crate::net::run_on(Tokio, &mut host, &mut output) => Ok(code),
            signal = stop_signal() => Err(signal),
        }
    });
    let code = outcome.unwrap_or_else(|signal| {
        let open = host.connections().len();
        println!("Stopped by {signal}; closing {open} connections.");
        0
    });
    // Dropping the runtime ends the listener's and the connections' tasks: their
    // sockets close.
    drop(runtime);
    code
}

/// The first SIGINT or SIGTERM, by name. If the handlers cannot be installed, waits
/// forever (the default disposition still ends the process).
pub(crate) async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}

/// Raises the soft limit on open files to the hard limit, so a server is not locked
/// out at the default 1,024 while the machine allows more.
pub(crate) fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
}

/// A server that says where it serves: once a port is bound it prints
/// `<what> on <addr>.` (`Serving loom on 127.0.0.1:10000.`, the fast server's startup
/// line), and can hand the address to a caller (the benchmark). The wrapped program's
/// own `listening` is not called: this line replaces whatever it would print.
pub(crate) struct Announced<P> {
    inner: P,
    what: String,
    notify: Option<std::sync::mpsc::Sender<SocketAddr>>,
}

impl<P: Program> Announced<P> {
    pub(crate) fn new(inner: P, what: String) -> Self {
        Self {
            inner,
            what,
            notify: None,
        }
    }

    /// Also sends the address on `tx` once bound.
    pub(crate) fn notify(mut self, tx: std::sync::mpsc::Sender<SocketAddr>) -> Self {
        self.notify = Some(tx);
        self
    }
}

impl<P: Program> Program for Announced<P> {
    type Timer = P::Timer;

    fn start(&mut self, cx: &mut HostContext<'_, P::Timer>) {
        self.inner.start(cx);
    }

    fn listening(&mut self, cx: &mut HostContext<'_, P::Timer>, _: ListenerId, addr: SocketAddr) {
        cx.print(format!("{} on {addr}.", self.what));
        if let Some(tx) = self.notify.take() {
            let _ = tx.send(addr);
        }
    }

    fn listen_failed(
        &mut self,
        cx: &mut HostContext<'_, P::Timer>,
        listener: ListenerId,
        error: ListenError,
    ) {
        self.notify = None;
        self.inner.listen_failed(cx, listener, error);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, P::Timer>, conn: ConnId) {
        self.inner.connection_made(cx, conn);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, P::Timer>, conn: ConnId, data: &[u8]) {
        self.inner.data_received(cx, conn, data);
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, P::Timer>, conn: ConnId) {
        self.inner.read_connection_lost(cx, conn);
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, P::Timer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        self.inner.connection_lost(cx, conn, reason);
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, P::Timer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        self.inner.connect_failed(cx, conn, error);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, P::Timer>, timer: P::Timer) {
        self.inner.timer_fired(cx, timer);
    }

    fn pause_producing(&mut self, cx: &mut HostContext<'_, P::Timer>, conn: ConnId) {
        self.inner.pause_producing(cx, conn);
    }

    fn resume_producing(&mut self, cx: &mut HostContext<'_, P::Timer>, conn: ConnId) {
        self.inner.resume_producing(cx, conn);
    }

    fn stop_producing(&mut self, cx: &mut HostContext<'_, P::Timer>, conn: ConnId) {
        self.inner.stop_producing(cx, conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Command, Host, Node};
    use crate::time::Instant;
    use crate::transport::ipv4;

    /// Starts `program`, tells it its listener is bound to 127.0.0.1:10000, and returns
    /// what it printed.
    fn startup_lines<P: Program + 'static>(program: P) -> Vec<String> {
        let mut host = Host::new(program);
        host.start(Instant::ZERO);
        host.handle_listening(Instant::ZERO, ListenerId(0), ipv4(127, 0, 0, 1, 10000));
        std::iter::from_fn(|| host.poll_command())
            .filter_map(|command| match command {
                Command::Print { line, .. } => Some(line),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn poem_argument_is_a_builtin_name_or_a_file() {
        let clock: PoemArg = "clock".parse().expect("built in");
        assert_eq!((clock.label.as_str(), clock.poem.len()), ("clock", 653));
        let error = "no/such/poem.txt".parse::<PoemArg>().expect_err("missing");
        let message = error.to_string();
        assert_eq!(
            message,
            "no such file or built-in poem: no/such/poem.txt; built-in poems: loom, ten-bytes, clock"
        );
    }

    #[test]
    fn announced_server_prints_where_it_serves() {
        let program = Announced::new(
            FactoryProgram::new(FastPoetryFactory::new(Poem::from("hi\n")))
                .listen(HostPort::new("127.0.0.1", 0)),
            "Serving hi".to_owned(),
        );
        assert_eq!(startup_lines(program), ["Serving hi on 127.0.0.1:10000."]);
    }

    #[test]
    fn announced_serial_server_replaces_its_own_startup_line() {
        let program = Announced::new(
            SerialPoetryServer::new(
                HostPort::new("127.0.0.1", 0),
                Poem::from("hi\n"),
                Pace::default(),
            ),
            "Serving hi one client at a time".to_owned(),
        );
        assert_eq!(
            startup_lines(program),
            ["Serving hi one client at a time on 127.0.0.1:10000."]
        );
    }
}
