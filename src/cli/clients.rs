//! The clients on real TCP: `weft get-poetry` (the "Get Poetry Now!" clients of the
//! poetry series) and `weft transform-client` (Part 12's transform-test, as a client).

use std::io::Write;
use std::time::Duration;

use clap::{Args, CommandFactory, ValueEnum};

use crate::host::{
    ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, Host, HostContext, HostPort, Program,
};
use crate::net::StdOutput;
use crate::programs::poetry::get_poetry_async::{
    get_poetry_deferred_list, get_poetry_inline_callbacks,
};
use crate::programs::poetry::{
    ClientVersion, DEFAULT_MAX_POEM_BYTES, GetPoetry, GetPoetryOptions, ReportStyle,
    TruncationPolicy,
};
use crate::programs::transform::{TransformClient, TransformError};
use crate::protocol::{NoTimer, Protocol};
use crate::transport::Disconnect;

use super::serve::{DEFAULT_POEM, PoemArg, positive_seconds};
use crate::codec::netstring::DEFAULT_MAX_LENGTH as MAX_REQUEST_BYTES;

/// How `weft get-poetry` reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub(crate) enum Report {
    /// Part 2's async client: a line per read, `Task N finished`, then the byte counts
    /// and `Got N poems in H:MM:SS`.
    Tasks,
    /// Clients 3.1 to 8.0: each poem printed as it arrives.
    Poems,
    /// Every poem (and failure) in the order given, once all have ended.
    InOrder,
    /// Part 2's blocking client (use with --sequential): a line per download with its
    /// time, then the total.
    Blocking,
    /// The poems' exact bytes, in the order given, once all have ended (for pipes).
    Raw,
    /// Nothing: only the exit status.
    Quiet,
}

/// Arguments of `weft get-poetry`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  weft get-poetry 10000 10001 10002                 # all at once; total = the longest
  weft get-poetry --sequential --report blocking 10000 10001 10002   # total = the sum
  weft get-poetry -t 5 --report poems example.org:10000
  weft get-poetry --client 2.0 10000 10004          # client 2.0: Failed to connect to: ...
  weft get-poetry --client 3.0 10000 10004          # client 3.0: waits forever (Ctrl-C)
  weft get-poetry --client 6.0 11000 10001 10002    # xform-port port...

Exit status: 0 if every poem arrived, 1 if any download failed (refused, timed out,
cut short), 2 for bad arguments. With no address it prints this help and exits 0.
With --client, the exit status and the handling of failures are the original's: 0
whatever failed, a poem cut short is a poem, 1.0 crashes (status 1) on a refused
connect, 3.0 never exits if a server fails.")]
pub(crate) struct GetPoetryArgs {
    /// Behave as a client of the series, exactly: 1.0, 1.0-broken, 2.0, 2.1, 3.0, 3.1, 4.0, 5.0,
    /// 5.1, 6.0, 7.0 or 8.0 (its output lines, exit status and failure handling).
    /// 6.0 to 8.0 take the transform server as the first address.
    #[arg(
        long,
        value_name = "VERSION",
        conflicts_with_all = ["report", "sequential", "accept_truncated", "transform"]
    )]
    client: Option<ClientVersion>,
    /// Give up on a download after this many seconds (a float), connect included;
    /// by default downloads have no time limit (none of the series' clients has one;
    /// Part 8's timeout exercise uses `-t 5`).
    #[arg(short = 't', long, value_parser = positive_seconds, value_name = "SECONDS")]
    timeout: Option<Duration>,
    /// Give up on a connect after this many seconds.
    #[arg(long, default_value = "30", value_parser = positive_seconds, value_name = "SECONDS")]
    connect_timeout: Duration,
    /// Cummingsify each poem on this transform server before printing it (clients 6.0
    /// to 8.0; a failed transform keeps the original poem). The transform stage
    /// gives up after --timeout, or 30 s without one.
    #[arg(long, value_name = "[HOST:]PORT")]
    transform: Option<HostPort>,
    /// What to print.
    #[arg(long, value_enum, default_value_t = Report::Tasks)]
    report: Report,
    /// One download at a time, in the order given (Part 2's blocking client).
    #[arg(long)]
    sequential: bool,
    /// Count a poem cut short by a reset as a poem, as every client of the series did;
    /// by default it is a failure.
    #[arg(long)]
    accept_truncated: bool,
    /// The largest poem accepted, in bytes; a server that sends more fails that
    /// download (and is disconnected).
    #[arg(long, default_value_t = DEFAULT_MAX_POEM_BYTES, value_name = "BYTES")]
    max_poem_bytes: usize,
    /// Poetry servers: `PORT` (on 127.0.0.1) or `HOST:PORT`.
    #[arg(value_name = "[HOST:]PORT")]
    servers: Vec<HostPort>,
}

impl GetPoetryArgs {
    fn options(&self) -> Result<GetPoetryOptions, String> {
        if let Some(version) = self.client {
            let mut options = version
                .options(self.servers.clone())
                .map_err(|e| e.to_string())?
                .max_poem_bytes(self.max_poem_bytes)
                .connect_timeout(self.connect_timeout);
            options.timeout = self.timeout;
            return Ok(options);
        }
        let style = match self.report {
            Report::Tasks => ReportStyle::Tasks,
            Report::Poems => ReportStyle::AsArrived,
            Report::InOrder => ReportStyle::InOrderAtEnd,
            Report::Blocking => ReportStyle::Blocking,
            // Raw bytes are written after the run, from the results.
            Report::Raw | Report::Quiet => ReportStyle::Quiet,
        };
        let mut options = GetPoetryOptions::new(self.servers.clone())
            .report(style)
            .max_poem_bytes(self.max_poem_bytes);
        options.connect_timeout = self.connect_timeout;
        if let Some(timeout) = self.timeout {
            options = options.timeout(timeout);
        }
        if self.sequential {
            options = options.sequential();
        }
        if self.accept_truncated {
            options = options.truncation(TruncationPolicy::Accept);
        }
        if let Some(transform) = &self.transform {
            options = options.transform(transform.clone());
        }
        Ok(options)
    }
}

pub(crate) fn get_poetry(args: &GetPoetryArgs) -> i32 {
    if args.servers.is_empty() {
        // As the originals do: no address, the help text and status 0.
        print_help("get-poetry");
        return 0;
    }
    let options = match args.options() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error: {error}");
            return 2;
        }
    };
    crate::net::init_logging();
    if let Some(version) = args.client.filter(|v| v.is_async()) {
        let program = match version {
            ClientVersion::V7_0 => get_poetry_inline_callbacks(options),
            _ => get_poetry_deferred_list(options),
        };
        return crate::net::run_node(&mut Host::new(program), &mut StdOutput).unwrap_or_else(
            |error| {
                eprintln!("error: {error}");
                1
            },
        );
    }
    let mut host = Host::new(GetPoetry::new(options));
    let code = match crate::net::run_node(&mut host, &mut StdOutput) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    if host.program().finished_at().is_none() {
        // The run ran out of things to wait for, yet the program never stopped: client
        // 3.0 after a failed connect. Twisted's reactor waits on in that state, and so
        // does this process, until it is interrupted.
        tracing::debug!("every connection has ended but not every download; waiting forever");
        loop {
            std::thread::park();
        }
    }
    if args.report == Report::Raw && !write_raw(host.program()) {
        return 1;
    }
    code
}

/// Writes every poem's bytes to stdout in input order, and each failure to stderr.
/// False if stdout could not take them (a closed pipe).
fn write_raw(program: &GetPoetry) -> bool {
    let results = program.results();
    let mut stdout = std::io::stdout().lock();
    for i in 0..results.len() {
        match results.get(i) {
            Some(Ok(poem)) => {
                if let Err(error) = stdout.write_all(poem.as_bytes()) {
                    eprintln!("error: cannot write the poem: {error}");
                    return false;
                }
            }
            Some(Err(error)) => eprintln!("The poem download failed: {error}"),
            None => {}
        }
    }
    if let Err(error) = stdout.flush() {
        eprintln!("error: cannot write the poem: {error}");
        return false;
    }
    true
}

/// Prints the long help of subcommand `name` on stdout.
fn print_help(name: &str) {
    let mut command = super::WeftCli::command();
    command.build();
    if let Some(sub) = command.find_subcommand_mut(name) {
        let mut sub = sub.clone().bin_name(format!("weft {name}"));
        let _ = sub.print_long_help();
    }
}

/// Arguments of `weft transform-client`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  weft transform-client 11000 --text 'HERE IS MY POEM'    # prints: here is my poem
  weft transform-client --name rot13 11000 clock

Exit status: 0 with the transformed poem on stdout, 1 if the server closed without a
reply (its answer to an unknown transform or a bad request), could not be reached or
did not answer in time, 2 for bad arguments.")]
pub(crate) struct TransformClientArgs {
    /// The transform to ask for: cummingsify, cummingsify-loudly, reverse-lines, rot13
    /// or reverse (weft's server), or any name the server knows.
    #[arg(long, default_value = "cummingsify")]
    name: String,
    /// Give up after this many seconds.
    #[arg(long, default_value = "30", value_parser = positive_seconds, value_name = "SECONDS")]
    timeout: Duration,
    /// The text to transform, instead of a poem.
    #[arg(long, conflicts_with = "poem")]
    text: Option<String>,
    /// The transform server: `PORT` (on 127.0.0.1) or `HOST:PORT`.
    #[arg(value_name = "[HOST:]PORT")]
    server: HostPort,
    /// The poem to transform: a file, or a built-in poem (loom, ten-bytes, clock).
    #[arg(value_name = "POEM", default_value = DEFAULT_POEM)]
    poem: PoemArg,
}

pub(crate) fn transform_client(args: &TransformClientArgs) -> i32 {
    let poem = match &args.text {
        Some(text) => text.as_bytes().to_vec(),
        None => args.poem.poem.as_bytes().to_vec(),
    };
    // The server's netstring limit: a longer request would only be closed unanswered.
    let request_len = args.name.len() + 1 + poem.len();
    if request_len > MAX_REQUEST_BYTES {
        eprintln!(
            "error: the request is {request_len} bytes (transform name, '.', poem); \
             the transform server takes at most {MAX_REQUEST_BYTES}"
        );
        return 1;
    }
    crate::net::init_logging();
    let request = TransformRequest::new(args.server.clone(), &args.name, &poem, args.timeout);
    let mut host = Host::new(request);
    let code = match crate::net::run_node(&mut host, &mut StdOutput) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            return 1;
        }
    };
    if let Some(poem) = host.program().reply() {
        let mut stdout = std::io::stdout().lock();
        if let Err(error) = stdout.write_all(poem).and_then(|()| stdout.flush()) {
            eprintln!("error: cannot write the poem: {error}");
            return 1;
        }
    }
    code
}

/// The timer of [`TransformRequest`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct GiveUp;

/// One transform request as a program: connect, send, take the reply, exit. Status 0
/// with a reply (kept for the caller to write out byte for byte), 1 with a message on
/// stderr otherwise.
pub(crate) struct TransformRequest {
    server: HostPort,
    timeout: Duration,
    client: TransformClient,
    conn: Option<ConnId>,
    reply: Option<Vec<u8>>,
    /// The outcome is out: later events (the close after an abort) say nothing more.
    done: bool,
}

impl TransformRequest {
    pub(crate) fn new(server: HostPort, name: &str, poem: &[u8], timeout: Duration) -> Self {
        Self {
            server,
            timeout,
            client: TransformClient::new(name, poem),
            conn: None,
            reply: None,
            done: false,
        }
    }

    /// The transformed poem, if it came.
    pub(crate) fn reply(&self) -> Option<&[u8]> {
        self.reply.as_deref()
    }

    /// Ends the run if the client has decided.
    fn settle(&mut self, cx: &mut HostContext<'_, GiveUp>) {
        if self.done {
            return;
        }
        match self.client.take_outcome() {
            Some(Ok(poem)) => {
                self.reply = Some(poem);
                self.done = true;
                cx.exit(0);
            }
            Some(Err(error)) => self.fail(cx, &error),
            None => {}
        }
    }

    fn fail(&mut self, cx: &mut HostContext<'_, GiveUp>, error: &TransformError) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        cx.eprint(format!("error: {}: {error}", self.server));
        cx.exit(1);
    }
}

fn never<T>(timer: NoTimer) -> T {
    match timer {}
}

impl Program for TransformRequest {
    type Timer = GiveUp;

    fn start(&mut self, cx: &mut HostContext<'_, GiveUp>) {
        self.conn = Some(cx.connect(self.server.clone(), DEFAULT_CONNECT_TIMEOUT));
        crate::clock::Clock::call_later(cx, self.timeout, GiveUp);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, GiveUp>, conn: ConnId) {
        let client = &mut self.client;
        cx.with_protocol(conn, never, |pcx| client.connection_made(pcx));
        self.settle(cx);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, GiveUp>, conn: ConnId, data: &[u8]) {
        let client = &mut self.client;
        cx.with_protocol(conn, never, |pcx| client.data_received(pcx, data));
        self.settle(cx);
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, GiveUp>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        let client = &mut self.client;
        cx.with_protocol(conn, never, |pcx| client.connection_lost(pcx, reason));
        self.settle(cx);
    }

    fn connect_failed(&mut self, cx: &mut HostContext<'_, GiveUp>, _: ConnId, error: ConnectError) {
        self.fail(cx, &TransformError::ConnectFailed(error));
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, GiveUp>, GiveUp: GiveUp) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Some(conn) = self.conn {
            cx.abort_connection(conn);
        }
        let seconds = self.timeout.as_secs_f64();
        cx.eprint(format!(
            "error: {}: no reply from the transform server within {seconds} s",
            self.server
        ));
        cx.exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Stream;
    use crate::testing::MemoryReactor;

    fn request() -> MemoryReactor<TransformRequest> {
        MemoryReactor::new(TransformRequest::new(
            HostPort::new("127.0.0.1", 11000),
            "cummingsify",
            b"HERE IS MY POEM",
            Duration::from_secs(30),
        ))
    }

    #[test]
    fn transform_request_sends_a_netstring_and_keeps_the_reply() {
        let mut reactor = request();
        let conn = reactor.complete_connect(0);
        assert_eq!(reactor.value(conn), b"27:cummingsify.HERE IS MY POEM,");
        reactor.data_received(conn, b"15:here is my poem,");
        assert_eq!(reactor.program().reply(), Some(&b"here is my poem"[..]));
        assert_eq!(reactor.exit_code(), Some(0));
        assert!(reactor.lines(Stream::Stderr).is_empty());
    }

    #[test]
    fn transform_request_without_a_reply_exits_1_saying_so() {
        let mut reactor = request();
        let conn = reactor.complete_connect(0);
        reactor.connection_lost(conn, Disconnect::Clean);
        assert_eq!(reactor.program().reply(), None);
        assert_eq!(
            reactor.lines(Stream::Stderr),
            ["error: 127.0.0.1:11000: transform server closed the connection without a reply"]
        );
        assert_eq!(reactor.exit_code(), Some(1));
    }

    #[test]
    fn transform_request_gives_up_after_its_timeout() {
        let mut reactor = request();
        let conn = reactor.complete_connect(0);
        reactor.advance(Duration::from_secs(30));
        assert_eq!(reactor.lost(conn), Some(Disconnect::Aborted));
        assert_eq!(
            reactor.lines(Stream::Stderr),
            ["error: 127.0.0.1:11000: no reply from the transform server within 30 s"]
        );
        assert_eq!(reactor.exit_code(), Some(1));
    }

    #[test]
    fn transform_request_to_a_closed_port_exits_1() {
        let mut reactor = request();
        reactor.fail_connect(0, ConnectError::Refused);
        assert_eq!(
            reactor.lines(Stream::Stderr),
            [
                "error: 127.0.0.1:11000: could not connect to the transform server: connection refused"
            ]
        );
        assert_eq!(reactor.exit_code(), Some(1));
    }
}
