//! get-poetry: the "Get Poetry Now!" clients of the series (the async client of Part 2
//! and Twisted clients 1.0 to 8.0, without the transform step) as one program.
//!
//! It connects to every server at once and downloads one poem from each. Each download
//! is a small state machine (connecting, receiving, done) that ends exactly once: with a
//! poem, or with a [`DownloadError`] naming its server. The results go into a
//! [`FanIn`] in input order, whatever order the servers finish in (the
//! `DeferredList(consumeErrors=True)` of client 8.0); the program exits when the last
//! one is in, with status 0 only if every poem arrived.
//!
//! Where the Deferred versions chain callbacks, this one moves a download from stage to
//! stage: a refused connect, a timeout, a clean or unclean close each settle it once,
//! and any event for a download that has already ended (a close that loses the race
//! with the timeout, say) is counted and ignored. A transform stage (client 6.0 on)
//! fits between receiving and done, in [`GetPoetry::poem_arrived`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::clock::{CallId, Clock};
use crate::host::{ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, HostContext, HostPort, Program};
use crate::protocol::{Context, NoTimer, Protocol};
use crate::time::{Instant, format_timedelta};
use crate::transport::Disconnect;

use super::client::{DownloadError, Failure, PoetryClient, TruncationPolicy, no_timer};
use super::fanin::FanIn;
use super::poems::Poem;

/// How get-poetry reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReportStyle {
    /// The async client of Part 2 (and Twisted client 1.0): a line per read
    /// (`Task 1: got 30 bytes of poetry from 127.0.0.1:10000`), `Task 1 finished` at
    /// each close, then `Task 1: 3003 bytes of poetry` per poem in input order and
    /// `Got 3 poems in 0:00:10.100000` (virtual time). Failures go to stderr as
    /// `Task 2 failed: <server>: <why>`.
    #[default]
    Tasks,
    /// Clients 3.1 to 8.0: each poem printed as it arrives; each failure on stderr as
    /// `The poem download failed: <server>: <why>`.
    AsArrived,
    /// Part 18 exercise 4: nothing until every download has ended, then the poems and
    /// failures in input order.
    InOrderAtEnd,
    /// The blocking client of Part 2 (use with [`GetPoetryOptions::sequential`]):
    /// `Task 1: get poetry from: 127.0.0.1:10000` when a download starts,
    /// `Task 1: got 3003 bytes of poetry from 127.0.0.1:10000 in 0:00:10.100000` when it
    /// ends, then `Got 3 poems in 0:00:23`.
    Blocking,
    /// No output; only the exit status.
    Quiet,
}

/// get-poetry's options.
#[derive(Clone, Debug)]
pub struct GetPoetryOptions {
    /// The servers, in the order results are reported.
    pub servers: Vec<HostPort>,
    /// Per-download limit, from the connect to the close; on expiry the connection is
    /// aborted and the download fails with [`Failure::TimedOut`]. `None`: no limit.
    pub timeout: Option<Duration>,
    /// Connect timeout (Twisted's 30 s).
    pub connect_timeout: Duration,
    /// Output format.
    pub report: ReportStyle,
    /// Whether a poem cut short by a reset is a failure (default) or a poem.
    pub truncation: TruncationPolicy,
    /// One download at a time, in input order, as the blocking client of Part 2 does
    /// (the total is then the sum of the downloads, not the longest).
    pub sequential: bool,
}

impl GetPoetryOptions {
    /// Downloads from `servers` with no timeout, reporting like the Part 2 client.
    pub fn new(servers: Vec<HostPort>) -> Self {
        Self {
            servers,
            timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            report: ReportStyle::default(),
            truncation: TruncationPolicy::default(),
            sequential: false,
        }
    }

    /// Downloads one poem at a time.
    pub fn sequential(mut self) -> Self {
        self.sequential = true;
        self
    }

    /// Sets the per-download timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the report style.
    pub fn report(mut self, report: ReportStyle) -> Self {
        self.report = report;
        self
    }

    /// Sets the truncation policy.
    pub fn truncation(mut self, truncation: TruncationPolicy) -> Self {
        self.truncation = truncation;
        self
    }
}

/// get-poetry's timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GetPoetryTimer {
    /// Download `i` (input order) ran out of time.
    Timeout(usize),
}

/// Where one download is.
#[derive(Debug)]
enum Stage {
    /// Not started yet (sequential mode).
    Waiting,
    /// The connect is out.
    Connecting,
    /// Connected; the client protocol is reading the poem.
    Receiving(PoetryClient),
    /// Settled: poem or failure recorded. Later events for it are ignored.
    Done,
}

#[derive(Debug)]
struct Download {
    server: HostPort,
    conn: Option<ConnId>,
    started_at: Instant,
    peer: Option<SocketAddr>,
    stage: Stage,
    timeout: Option<CallId>,
}

/// The get-poetry program. See the module docs.
#[derive(Debug)]
pub struct GetPoetry {
    options: GetPoetryOptions,
    downloads: Vec<Download>,
    by_conn: BTreeMap<ConnId, usize>,
    results: FanIn<Poem, DownloadError>,
    started: Instant,
    finished_at: Option<Instant>,
    late_events: u64,
}

impl GetPoetry {
    /// A program that will download as `options` say once started.
    pub fn new(options: GetPoetryOptions) -> Self {
        let results = FanIn::new(options.servers.len());
        Self {
            options,
            downloads: Vec::new(),
            by_conn: BTreeMap::new(),
            results,
            started: Instant::ZERO,
            finished_at: None,
            late_events: 0,
        }
    }

    /// The results so far, in input order.
    pub fn results(&self) -> &FanIn<Poem, DownloadError> {
        &self.results
    }

    /// When the last download ended.
    pub fn finished_at(&self) -> Option<Instant> {
        self.finished_at
    }

    /// Events that arrived for downloads that had already ended, and were ignored (a
    /// close after the timeout aborted the connection, for instance).
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// The connection (or connect) of download `i`.
    pub fn conn(&self, i: usize) -> Option<ConnId> {
        self.downloads.get(i)?.conn
    }

    fn index(&self, conn: ConnId) -> Option<usize> {
        self.by_conn.get(&conn).copied()
    }

    /// Runs a client protocol callback for download `i`, if it is receiving.
    fn drive<R>(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        f: impl FnOnce(&mut PoetryClient, &mut Context<'_, NoTimer>) -> R,
    ) -> Option<R> {
        let download = &mut self.downloads[i];
        let (Stage::Receiving(client), Some(conn)) = (&mut download.stage, download.conn) else {
            self.late_events += 1;
            return None;
        };
        cx.with_protocol(conn, no_timer, |pcx| f(client, pcx))
    }

    /// The poem of download `i` is in. A transform stage would start here instead of
    /// settling (and settle when the transformed poem, or its failure, comes back).
    fn poem_arrived(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize, poem: Poem) {
        self.settle(cx, i, Ok(poem));
    }

    fn fail(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize, failure: Failure) {
        let error = DownloadError {
            server: self.downloads[i].server.clone(),
            failure,
        };
        self.settle(cx, i, Err(error));
    }

    /// Ends download `i`: the one place a result is recorded.
    fn settle(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        result: Result<Poem, DownloadError>,
    ) {
        let download = &mut self.downloads[i];
        download.stage = Stage::Done;
        if let Some(call) = download.timeout.take() {
            let _ = cx.cancel(call);
        }
        let task = i + 1;
        match &result {
            Err(error) => tracing::warn!(task, %error, "download failed"),
            Ok(poem) => tracing::info!(task, bytes = poem.len(), "poem received"),
        }
        match (&result, self.options.report) {
            (Ok(poem), ReportStyle::AsArrived) => print_poem(cx, poem),
            (Err(error), ReportStyle::AsArrived) => {
                cx.eprint(format!("The poem download failed: {error}"));
            }
            (Err(error), ReportStyle::Tasks | ReportStyle::Blocking) => {
                cx.eprint(format!("Task {task} failed: {error}"));
            }
            (Ok(poem), ReportStyle::Blocking) => {
                let download = &self.downloads[i];
                let took = format_timedelta(cx.now() - download.started_at);
                cx.print(format!(
                    "Task {task}: got {} bytes of poetry from {} in {took}",
                    poem.len(),
                    download.server
                ));
            }
            _ => {}
        }
        if let Err(error) = self.results.settle(i, result) {
            // The stages make this unreachable; keep the first result if it ever is not.
            tracing::error!(%error, "a download ended twice");
            debug_assert!(false, "{error}");
        }
        if self.results.is_done() {
            self.finish(cx);
        } else if self.options.sequential && i + 1 < self.downloads.len() {
            self.start_download(cx, i + 1);
        }
    }

    /// Connects download `i` and starts its timeout.
    fn start_download(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize) {
        let download = &mut self.downloads[i];
        if self.options.report == ReportStyle::Blocking {
            cx.print(format!(
                "Task {}: get poetry from: {}",
                i + 1,
                download.server
            ));
        }
        let conn = cx.connect(download.server.clone(), self.options.connect_timeout);
        download.conn = Some(conn);
        download.started_at = cx.now();
        download.stage = Stage::Connecting;
        download.timeout = self
            .options
            .timeout
            .map(|t| cx.call_later(t, GetPoetryTimer::Timeout(i)));
        self.by_conn.insert(conn, i);
    }

    fn finish(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>) {
        let now = cx.now();
        self.finished_at = Some(now);
        let results = self.results.results().unwrap_or_default();
        match self.options.report {
            ReportStyle::Blocking => {
                let poems = results.iter().filter(|r| r.is_ok()).count();
                let elapsed = format_timedelta(now - self.started);
                cx.print(format!("Got {poems} poems in {elapsed}"));
            }
            ReportStyle::Tasks => {
                let mut poems = 0;
                for (i, result) in results.iter().enumerate() {
                    if let Ok(poem) = result {
                        poems += 1;
                        cx.print(format!("Task {}: {} bytes of poetry", i + 1, poem.len()));
                    }
                }
                let elapsed = format_timedelta(now - self.started);
                cx.print(format!("Got {poems} poems in {elapsed}"));
            }
            ReportStyle::InOrderAtEnd => {
                for result in &results {
                    match result {
                        Ok(poem) => print_poem(cx, poem),
                        Err(error) => cx.eprint(format!("The poem download failed: {error}")),
                    }
                }
            }
            ReportStyle::AsArrived | ReportStyle::Quiet => {}
        }
        cx.exit(if self.results.all_succeeded() { 0 } else { 1 });
    }
}

fn print_poem(cx: &mut HostContext<'_, GetPoetryTimer>, poem: &Poem) {
    for line in poem.lines() {
        cx.print(line);
    }
}

impl Program for GetPoetry {
    type Timer = GetPoetryTimer;

    fn start(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>) {
        self.started = cx.now();
        self.downloads = (self.options.servers.iter())
            .map(|server| Download {
                server: server.clone(),
                conn: None,
                started_at: self.started,
                peer: None,
                stage: Stage::Waiting,
                timeout: None,
            })
            .collect();
        if self.results.is_done() {
            self.finish(cx);
            return;
        }
        let first_wave = if self.options.sequential {
            1
        } else {
            self.downloads.len()
        };
        for i in 0..first_wave {
            self.start_download(cx, i);
        }
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, conn: ConnId) {
        let Some(i) = self.index(conn) else { return };
        let download = &mut self.downloads[i];
        if !matches!(download.stage, Stage::Connecting) {
            // Given up on while connecting; a driver may still complete it.
            self.late_events += 1;
            cx.abort_connection(conn);
            return;
        }
        download.peer = cx.peer(conn);
        download.stage = Stage::Receiving(PoetryClient::new());
        self.drive(cx, i, |client, pcx| client.connection_made(pcx));
    }

    fn data_received(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        data: &[u8],
    ) {
        let Some(i) = self.index(conn) else { return };
        if self
            .drive(cx, i, |client, pcx| client.data_received(pcx, data))
            .is_some()
            && self.options.report == ReportStyle::Tasks
        {
            let download = &self.downloads[i];
            let from = download
                .peer
                .map_or_else(|| download.server.to_string(), |p| p.to_string());
            cx.print(format!(
                "Task {}: got {} bytes of poetry from {from}",
                i + 1,
                data.len()
            ));
        }
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, conn: ConnId) {
        let Some(i) = self.index(conn) else { return };
        if self
            .drive(cx, i, |client, pcx| client.read_connection_lost(pcx))
            .is_none()
        {
            cx.lose_connection(conn);
        }
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        let Some(i) = self.index(conn) else { return };
        let received = self
            .drive(cx, i, |client, pcx| {
                client.connection_lost(pcx, reason);
                client.take_received()
            })
            .flatten();
        let Some(received) = received else { return };
        if self.options.report == ReportStyle::Tasks {
            cx.print(format!("Task {} finished", i + 1));
        }
        match self.options.truncation.judge(received) {
            Ok(poem) => self.poem_arrived(cx, i, poem),
            Err(failure) => self.fail(cx, i, failure),
        }
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        let Some(i) = self.index(conn) else { return };
        if !matches!(self.downloads[i].stage, Stage::Connecting) {
            self.late_events += 1;
            return;
        }
        self.fail(cx, i, Failure::Connect(error));
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, timer: GetPoetryTimer) {
        let GetPoetryTimer::Timeout(i) = timer;
        let Some(download) = self.downloads.get_mut(i) else {
            return;
        };
        download.timeout = None;
        let (Stage::Connecting | Stage::Receiving(_), Some(conn)) =
            (&download.stage, download.conn)
        else {
            self.late_events += 1;
            return;
        };
        // Abort rather than close: a slow server would otherwise keep the connection
        // (and its sender) alive. On a pending connect this withdraws it.
        cx.abort_connection(conn);
        let limit = self.options.timeout.unwrap_or_default();
        self.fail(cx, i, Failure::TimedOut(limit));
    }
}
