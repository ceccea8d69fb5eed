//! get-poetry: the "Get Poetry Now!" clients of the series (the async client of Part 2
//! and Twisted clients 1.0 to 8.0) as one program.
//!
//! It connects to every server at once and downloads one poem from each. Each download
//! is a small state machine (connecting, receiving, transforming, done) that ends
//! exactly once: with a poem, or with a [`DownloadError`] naming its server. The results
//! go into a [`FanIn`] in input order, whatever order the servers finish in (the
//! `DeferredList(consumeErrors=True)` of client 8.0); the program exits when the last
//! one is in, with status 0 only if every poem arrived.
//!
//! Where the Deferred versions chain callbacks, this one moves a download from stage to
//! stage: a refused connect, a timeout, a clean or unclean close each settle it once,
//! and any event for a download that has already ended (a close that loses the race
//! with the timeout, say) is counted and ignored.
//!
//! With a transform server ([`GetPoetryOptions::transform`], clients 6.0 to 8.0), a
//! poem that arrives is not settled yet: it goes to the transform stage
//! ([`transform`]), which asks the server for `cummingsify` on a connection of its own.
//! The transformed poem is the result; if the stage fails (refused connect, close
//! without a reply, reset, malformed reply, timeout), `Cummingsify failed!` goes to
//! stderr, as in clients 6.0 to 8.0, and the original poem is the result: still a poem
//! delivered, so the exit status is unchanged. The per-download timeout stops at the
//! poem's arrival, and the transform stage gets a limit of its own
//! ([`GetPoetryOptions::transform_timeout`], by default the same length counted
//! afresh), so a slow transform server can cost the transform but never the poem.
//!
//! With [`GetPoetryOptions::retries`], a failed attempt is not the end: the download
//! waits as [`GetPoetryOptions::retry`] says and connects again from scratch; only its
//! last attempt's failure settles it. The transform stage is not retried.

mod options;
pub(crate) mod report;
mod retry;
pub mod transform;
pub mod versions;

pub use options::{
    DEFAULT_RETRY_DELAY, DEFAULT_TRANSFORM, DEFAULT_TRANSFORM_TIMEOUT, ExitPolicy,
    GetPoetryOptions, OnConnectFailure, ReportStyle, TaskNumbering,
};
pub use transform::TransformStepError;
pub use versions::{ClientVersion, VersionError};

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::clock::CallId;
use crate::host::{ConnId, ConnectError, HostContext, HostPort, Program};
use crate::protocol::{Context, NoTimer, Protocol};
use crate::time::Instant;
use crate::transport::Disconnect;

use super::client::{DownloadError, Failure, PoetryClient, no_timer};
use super::fanin::FanIn;
use super::poems::Poem;
use transform::{Event, Transforming};

/// get-poetry's timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GetPoetryTimer {
    /// Download `i` (input order) ran out of time.
    Timeout(usize),
    /// The transform of poem `i` ran out of time.
    TransformTimeout(usize),
    /// Download `i` has waited out its retry delay: time for its next attempt.
    Retry(usize),
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
    /// An attempt failed; the next starts when the retry timer fires.
    Backoff,
    /// The poem is in and out for transformation.
    Transforming(Box<Transforming>),
    /// Settled: poem or failure recorded. Later events for it are ignored.
    Done,
}

/// Which of a download's connections a connection is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Leg {
    /// The current attempt's poetry connection.
    Poetry,
    Transform,
    /// A poetry connection of an attempt given up on.
    Stale,
}

#[derive(Debug)]
struct Download {
    server: HostPort,
    conn: Option<ConnId>,
    transform_conn: Option<ConnId>,
    started_at: Instant,
    peer: Option<SocketAddr>,
    stage: Stage,
    /// Attempts started so far (1 once connecting; more with retries).
    attempts: u32,
    /// The running stage's timeout, or the retry timer while in backoff.
    timeout: Option<CallId>,
    transform_error: Option<TransformStepError>,
}

/// The get-poetry program. See the module docs.
#[derive(Debug)]
pub struct GetPoetry {
    options: GetPoetryOptions,
    downloads: Vec<Download>,
    by_conn: BTreeMap<ConnId, (usize, Leg)>,
    results: FanIn<Poem, DownloadError>,
    started: Instant,
    finished_at: Option<Instant>,
    late_events: u64,
    ladder: versions::LadderState,
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
            ladder: versions::LadderState::default(),
        }
    }

    /// The options it runs with.
    pub fn options(&self) -> &GetPoetryOptions {
        &self.options
    }

    /// The results so far, in input order.
    pub fn results(&self) -> &FanIn<Poem, DownloadError> {
        &self.results
    }

    /// When the last download ended.
    pub fn finished_at(&self) -> Option<Instant> {
        self.finished_at
    }

    /// Events that arrived for downloads that had already ended, or for attempts given
    /// up on, and were ignored (a close after the timeout aborted the connection, for
    /// instance).
    pub fn late_events(&self) -> u64 {
        self.late_events
    }

    /// The connection (or connect) of download `i`'s latest attempt.
    pub fn conn(&self, i: usize) -> Option<ConnId> {
        self.downloads.get(i)?.conn
    }

    /// How many attempts download `i` has started (more than one after retries).
    pub fn attempts(&self, i: usize) -> u32 {
        self.downloads.get(i).map_or(0, |d| d.attempts)
    }

    /// The transform connection (or connect) of poem `i`, once its stage has started.
    pub fn transform_conn(&self, i: usize) -> Option<ConnId> {
        self.downloads.get(i)?.transform_conn
    }

    /// Whether poem `i` is at the transform stage now.
    pub fn is_transforming(&self, i: usize) -> bool {
        self.downloads
            .get(i)
            .is_some_and(|d| matches!(d.stage, Stage::Transforming(_)))
    }

    /// Why poem `i` was not transformed (its result is then the original poem).
    pub fn transform_error(&self, i: usize) -> Option<&TransformStepError> {
        self.downloads.get(i)?.transform_error.as_ref()
    }

    /// Whose connection `conn` is. A poetry connection that is not its download's
    /// latest is an earlier attempt's, given up on.
    fn route(&self, conn: ConnId) -> Option<(usize, Leg)> {
        let (i, leg) = self.by_conn.get(&conn).copied()?;
        let stale = leg == Leg::Poetry && self.downloads[i].conn != Some(conn);
        Some((i, if stale { Leg::Stale } else { leg }))
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

    /// Forwards an event of `conn`, the transform connection of poem `i`, to its stage,
    /// and ends the stage if that decided it.
    fn drive_transform(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        conn: ConnId,
        event: Event<'_>,
    ) {
        let Stage::Transforming(stage) = &mut self.downloads[i].stage else {
            self.late_events += 1;
            return;
        };
        if stage.conn() != conn {
            self.late_events += 1;
            return;
        }
        if let Some(outcome) = stage.handle(cx, event) {
            self.transformed(cx, i, outcome);
        }
    }

    /// The poem of download `i` is in: it is the result, or, with a transform server,
    /// it goes to the transform stage first.
    fn poem_arrived(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize, poem: Poem) {
        let Some(poem) = self.cummingsify_locally(cx, i, poem) else {
            return;
        };
        let Some(server) = &self.options.transform else {
            self.settle(cx, i, Ok(poem));
            return;
        };
        let stage = Transforming::start(
            cx,
            server,
            &self.options.transform_name,
            poem,
            self.options.connect_timeout,
        );
        let download = &mut self.downloads[i];
        if let Some(call) = download.timeout.take() {
            let _ = cx.cancel(call);
        }
        download.timeout = self
            .options
            .transform_limit()
            .map(|t| cx.call_later(t, GetPoetryTimer::TransformTimeout(i)));
        download.transform_conn = Some(stage.conn());
        self.by_conn.insert(stage.conn(), (i, Leg::Transform));
        download.stage = Stage::Transforming(Box::new(stage));
    }

    /// The transform stage of poem `i` ended: the transformed poem, or the original one
    /// after saying the transform failed.
    fn transformed(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        outcome: Result<Poem, TransformStepError>,
    ) {
        let download = &mut self.downloads[i];
        let Stage::Transforming(stage) = std::mem::replace(&mut download.stage, Stage::Done) else {
            return;
        };
        if !matches!(outcome, Err(TransformStepError::TimedOut(_))) {
            // The connection is closing by the client's or the server's own doing, or
            // never was: nothing more from it is worth counting.
            self.by_conn.remove(&stage.conn());
        }
        let poem = match outcome {
            Ok(poem) => poem,
            Err(error) => {
                tracing::warn!(task = i + 1, %error, "transform failed; using the original poem");
                if !matches!(
                    self.options.report,
                    ReportStyle::Quiet | ReportStyle::InOrderAtEnd
                ) {
                    cx.eprint(transform::failed_line(&self.options.transform_name));
                }
                download.transform_error = Some(error);
                stage.into_original()
            }
        };
        self.settle(cx, i, Ok(poem));
    }

    /// The current attempt of download `i` failed: try again if it may, else settle.
    fn fail(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize, failure: Failure) {
        if self.retry_later(cx, i, &failure) {
            return;
        }
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
        self.report_result(cx, i, &result);
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

    /// Starts download `i` with its first attempt.
    fn start_download(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize) {
        let download = &mut self.downloads[i];
        if self.options.report == ReportStyle::Blocking {
            cx.print(format!(
                "Task {}: get poetry from: {}",
                i + 1,
                download.server
            ));
        }
        download.started_at = cx.now();
        self.attempt(cx, i);
    }

    /// Connects download `i` afresh and starts the attempt's timeout.
    fn attempt(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, i: usize) {
        let download = &mut self.downloads[i];
        let conn = cx.connect(download.server.clone(), self.options.connect_timeout);
        download.conn = Some(conn);
        download.attempts += 1;
        download.stage = Stage::Connecting;
        download.timeout = self
            .options
            .timeout
            .map(|t| cx.call_later(t, GetPoetryTimer::Timeout(i)));
        self.by_conn.insert(conn, (i, Leg::Poetry));
    }

    fn finish(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>) {
        let now = cx.now();
        self.finished_at = Some(now);
        self.report_end(cx);
        cx.exit(self.options.exit.status(self.results.all_succeeded()));
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
                transform_conn: None,
                started_at: self.started,
                peer: None,
                stage: Stage::Waiting,
                attempts: 0,
                timeout: None,
                transform_error: None,
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
        let Some((i, leg)) = self.route(conn) else {
            return;
        };
        let download = &mut self.downloads[i];
        match (leg, &download.stage) {
            (Leg::Poetry, Stage::Connecting) => {
                download.peer = cx.peer(conn);
                let client = PoetryClient::with_max_bytes(self.options.max_poem_bytes);
                download.stage = Stage::Receiving(client);
                self.connected_by_version(cx, i);
                self.drive(cx, i, |client, pcx| client.connection_made(pcx));
            }
            (Leg::Transform, Stage::Transforming(_)) => {
                self.drive_transform(cx, i, conn, Event::Made);
            }
            _ => {
                // Given up on while connecting; a driver may still complete it. Closed
                // as `connector.disconnect()` closes a connection: cleanly.
                self.late_events += 1;
                cx.lose_connection(conn);
            }
        }
    }

    fn data_received(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        data: &[u8],
    ) {
        let Some((i, leg)) = self.route(conn) else {
            return;
        };
        match leg {
            Leg::Poetry => self.blocking_read_starts(cx, i),
            Leg::Transform => return self.drive_transform(cx, i, conn, Event::Data(data)),
            Leg::Stale => {
                self.late_events += 1;
                return;
            }
        }
        if self
            .drive(cx, i, |client, pcx| client.data_received(pcx, data))
            .is_some()
            && self.prints_each_read()
        {
            let download = &self.downloads[i];
            let from = download
                .peer
                .map_or_else(|| download.server.to_string(), |p| p.to_string());
            cx.print(format!(
                "Task {}: got {} bytes of poetry from {from}",
                self.task_number(i),
                data.len()
            ));
        }
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, conn: ConnId) {
        let Some((i, leg)) = self.route(conn) else {
            cx.lose_connection(conn);
            return;
        };
        match leg {
            Leg::Poetry => {}
            Leg::Transform if matches!(self.downloads[i].stage, Stage::Transforming(_)) => {
                return self.drive_transform(cx, i, conn, Event::ReadClosed);
            }
            Leg::Transform | Leg::Stale => {
                self.late_events += 1;
                return cx.lose_connection(conn);
            }
        }
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
        let Some((i, leg)) = self.route(conn) else {
            return;
        };
        match leg {
            Leg::Poetry => {}
            Leg::Transform => return self.drive_transform(cx, i, conn, Event::Lost(reason)),
            Leg::Stale => {
                self.late_events += 1;
                self.by_conn.remove(&conn);
                return;
            }
        }
        let truncation = self.options.truncation;
        let verdict = self
            .drive(cx, i, |client, pcx| {
                client.connection_lost(pcx, reason);
                client.take_outcome(truncation)
            })
            .flatten();
        let Some(verdict) = verdict else { return };
        self.blocking_read_ends(cx, i, &verdict);
        // An attempt about to be retried has not finished the task.
        let last = verdict.is_ok() || !self.has_attempts_left(i);
        if self.options.report == ReportStyle::Tasks && last && !self.options.blocking_reads {
            cx.print(format!("Task {} finished", i + 1));
        }
        match verdict {
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
        let Some((i, leg)) = self.route(conn) else {
            return;
        };
        match (leg, &self.downloads[i].stage) {
            (Leg::Poetry, Stage::Connecting) => {
                if !self.connect_failure_by_version(cx, i, &error) {
                    self.fail(cx, i, Failure::Connect(error));
                }
            }
            (Leg::Transform, Stage::Transforming(stage)) if stage.conn() == conn => {
                self.transformed(cx, i, Err(Transforming::connect_failed(error)));
            }
            _ => self.late_events += 1,
        }
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, timer: GetPoetryTimer) {
        let (GetPoetryTimer::Timeout(i)
        | GetPoetryTimer::TransformTimeout(i)
        | GetPoetryTimer::Retry(i)) = timer;
        let Some(download) = self.downloads.get_mut(i) else {
            return;
        };
        match (timer, &download.stage, download.conn) {
            (GetPoetryTimer::Timeout(_), Stage::Connecting | Stage::Receiving(_), Some(conn)) => {
                download.timeout = None;
                // A clean close, as the originals' `connector.disconnect()`: the server
                // sees end-of-stream, and what it still sends is discarded unread. A
                // pending connect is withdrawn.
                if cx.is_connecting(conn) {
                    cx.abort_connection(conn);
                } else {
                    cx.lose_connection(conn);
                }
                let limit = self.options.timeout.unwrap_or_default();
                self.fail(cx, i, Failure::TimedOut(limit));
            }
            (GetPoetryTimer::TransformTimeout(_), Stage::Transforming(stage), _) => {
                download.timeout = None;
                let conn = stage.conn();
                if cx.is_connecting(conn) {
                    cx.abort_connection(conn);
                } else {
                    cx.lose_connection(conn);
                }
                let limit = self.options.transform_limit().unwrap_or_default();
                self.transformed(cx, i, Err(TransformStepError::TimedOut(limit)));
            }
            (GetPoetryTimer::Retry(_), Stage::Backoff, _) => {
                download.timeout = None;
                self.attempt(cx, i);
            }
            // A timer of a stage that has ended (stages cancel theirs, so this is only
            // defensive); the current stage's timer is left alone.
            _ => self.late_events += 1,
        }
    }
}
