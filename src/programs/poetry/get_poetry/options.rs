//! get-poetry's options and report styles.

use std::time::Duration;

use crate::host::{DEFAULT_CONNECT_TIMEOUT, HostPort, RetryPolicy};

use super::super::client::TruncationPolicy;
use super::super::poems::DEFAULT_MAX_POEM_BYTES;

/// The transform stage's limit when neither it nor the download has one: 30 s, as
/// `transform-client`'s default.
pub const DEFAULT_TRANSFORM_TIMEOUT: Duration = Duration::from_secs(30);

/// The transform clients 6.0 to 8.0 ask for.
pub const DEFAULT_TRANSFORM: &str = "cummingsify";

/// The wait between a failed attempt and the next, unless set.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);

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
    /// Clients 3.1 to 8.0 (the failure line is client 7.0's and 8.0's): each poem
    /// printed as it arrives; each failure on stderr as
    /// `The poem download failed: <server>: <why>`.
    AsArrived,
    /// Clients 5.0 and 6.0: as [`AsArrived`](Self::AsArrived), but a failure is the
    /// bare `The poem download failed.` on stderr.
    AsArrivedTerse,
    /// Part 18 exercise 4: nothing until every download has ended, then the poems and
    /// failures in input order (a failed transform's `Cummingsify failed!` just before
    /// its poem). In the other styles that line goes out when the transform fails.
    InOrderAtEnd,
    /// The blocking client of Part 2 (use with [`GetPoetryOptions::sequential`]):
    /// `Task 1: get poetry from: 127.0.0.1:10000` when a download starts,
    /// `Task 1: got 3003 bytes of poetry from 127.0.0.1:10000 in 0:00:10.100000` when it
    /// ends, then `Got 3 poems in 0:00:23`.
    Blocking,
    /// No output; only the exit status.
    Quiet,
    /// Client 2.0: a line per read (`Task 1: got 30 bytes of poetry from
    /// 127.0.0.1:10000`) under the task number of the connection's order (with
    /// [`TaskNumbering::ConnectionOrder`]), no `finished` line, `Failed to connect to:
    /// <server>` on stdout for a failed connect, then `Task N: B bytes of poetry` for
    /// each poem in task-number order and `Got N poems in H:MM:SS`, where N counts
    /// every address, failures included, as the original's `len(addresses)` does.
    Numbered,
    /// Client 2.1: `Failed to connect to: <server>` on stdout for a failed connect; once
    /// every download has ended, the poems in the order they were completed.
    PoemsAtEnd,
    /// Clients 3.0, 3.1 and 4.0: `Poem failed: <server>: <why>` on stderr when a
    /// download fails (3.0 never hears of one); once every download has ended, the
    /// poems in the order they were completed.
    PoemsAtEndErrback,
}

/// How downloads are numbered in the report lines.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum TaskNumbering {
    /// Task N is the Nth address given.
    #[default]
    InputOrder,
    /// Task N is the Nth connection made (client 2.0's factory numbers each protocol
    /// as it builds it); a failed connect takes no number.
    ConnectionOrder,
}

/// What a failed connect does to the client.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OnConnectFailure {
    /// The download fails, and is reported as the report style says.
    #[default]
    Fail,
    /// The client crashes at once, with status 1 and the reason on stderr: client
    /// 1.0 connects with a blocking socket call before its reactor runs, and the
    /// exception is not caught.
    Crash,
    /// Nothing happens: client 3.0 gives `get_poetry` a callback and no errback, and
    /// Twisted's default `clientConnectionFailed` does nothing, so the download never
    /// ends and the client waits forever (Part 6).
    Ignore,
}

/// The exit status once every download has ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ExitPolicy {
    /// 0 if every poem arrived, else 1 (weft's default: scripts can tell).
    #[default]
    FailureExitsOne,
    /// Always 0: the originals stop their reactor and return normally, whatever failed.
    AlwaysZero,
}

impl ExitPolicy {
    /// The status for a run where every poem arrived, or not.
    pub fn status(self, all_succeeded: bool) -> i32 {
        match self {
            Self::FailureExitsOne => i32::from(!all_succeeded),
            Self::AlwaysZero => 0,
        }
    }
}

/// get-poetry's options.
#[derive(Clone, Debug)]
pub struct GetPoetryOptions {
    /// The servers, in the order results are reported.
    pub servers: Vec<HostPort>,
    /// Per-stage limit. The download stage runs from the connect to the close; on
    /// expiry the connection is closed (cleanly, as `connector.disconnect()`) and the
    /// download fails with
    /// [`Failure::TimedOut`](super::super::Failure::TimedOut). The transform stage gets
    /// a fresh limit of its own (see [`transform_timeout`](Self::transform_timeout)).
    /// `None`: no limit.
    pub timeout: Option<Duration>,
    /// Connect timeout (Twisted's 30 s), for poetry and transform servers alike.
    pub connect_timeout: Duration,
    /// Output format.
    pub report: ReportStyle,
    /// Whether a poem cut short by a reset is a failure (default) or a poem.
    pub truncation: TruncationPolicy,
    /// One download at a time, in input order, as the blocking client of Part 2 does
    /// (the total is then the sum of the downloads, not the longest).
    pub sequential: bool,
    /// The transform server (clients 6.0 to 8.0, whose first address it is). Each poem
    /// that arrives is sent there to be transformed; without one the step is skipped
    /// (Part 13 exercise 2).
    pub transform: Option<HostPort>,
    /// The transform to ask for (Part 13 exercise 1); `cummingsify` by default.
    pub transform_name: String,
    /// Limit for the transform stage, from its connect to the reply; on expiry the
    /// connection is closed and the original poem is used. `None`: the same limit as
    /// [`timeout`](Self::timeout), counted afresh from the poem's arrival.
    pub transform_timeout: Option<Duration>,
    /// When a failed download is tried again (Parts 4 to 8 exercises) and how long it
    /// waits first. A failure is a refused or timed-out connect, a reset or unclean
    /// close (unless truncated poems are accepted), a download timeout; the transform
    /// stage is never retried. The default never retries; [`retries`](Self::retries)
    /// and [`retry_delay`](Self::retry_delay) make it a fixed wait, and
    /// [`retry_policy`](Self::retry_policy) sets any back-off, whose jitter is drawn
    /// from the host's seeded random source.
    pub retry: RetryPolicy,
    /// The largest poem accepted; a server that sends more fails the download with
    /// [`Failure::TooLarge`](super::super::Failure::TooLarge).
    /// [`DEFAULT_MAX_POEM_BYTES`] by default.
    pub max_poem_bytes: usize,
    /// How tasks are numbered (client 2.0 numbers them by connection).
    pub numbering: TaskNumbering,
    /// What a failed connect does (client 1.0 crashes, client 3.0 ignores it).
    pub on_connect_failure: OnConnectFailure,
    /// The exit status at the end.
    pub exit: ExitPolicy,
    /// Clients 5.0 and 5.1's local `cummingsify`: each poem that arrives meets one of
    /// three fates, drawn from the host's seeded random source as the originals draw
    /// with `random.choice`: lower-cased; `GibberishError`, which fails the download
    /// ([`Failure::Gibberish`](super::super::Failure::Gibberish)); or a bug, which
    /// prints `Cummingsify failed!` on stdout and keeps the original poem. The state
    /// machine only; no transform server is involved.
    pub random_cummingsify: bool,
    /// The broken client 1.0 of Part 4: its `doRead` loops on a blocking `recv` until
    /// the server closes, so while one poem is being read no other connection is: the
    /// others are paused (their data waits in the network's buffers, and a full
    /// buffer holds their servers back). No line per read and no `finished` line;
    /// one `Task N: got B bytes of poetry from ADDR` when a poem has been read whole.
    /// The state machine only.
    pub blocking_reads: bool,
}

impl GetPoetryOptions {
    /// Downloads from `servers` with no timeout and no transform, reporting like the
    /// Part 2 client.
    pub fn new(servers: Vec<HostPort>) -> Self {
        Self {
            servers,
            timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            report: ReportStyle::default(),
            truncation: TruncationPolicy::default(),
            sequential: false,
            transform: None,
            transform_name: DEFAULT_TRANSFORM.to_owned(),
            transform_timeout: None,
            retry: RetryPolicy::fixed(DEFAULT_RETRY_DELAY).with_max_retries(0),
            max_poem_bytes: DEFAULT_MAX_POEM_BYTES,
            numbering: TaskNumbering::default(),
            on_connect_failure: OnConnectFailure::default(),
            exit: ExitPolicy::default(),
            random_cummingsify: false,
            blocking_reads: false,
        }
    }

    /// Sets the largest poem accepted.
    pub fn max_poem_bytes(mut self, max: usize) -> Self {
        self.max_poem_bytes = max;
        self
    }

    /// Downloads one poem at a time.
    pub fn sequential(mut self) -> Self {
        self.sequential = true;
        self
    }

    /// Sets the per-stage timeout.
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

    /// Transforms every poem with the server at `server`.
    pub fn transform(mut self, server: HostPort) -> Self {
        self.transform = Some(server);
        self
    }

    /// Asks the transform server for `name` instead of `cummingsify`.
    pub fn transform_name(mut self, name: impl Into<String>) -> Self {
        self.transform_name = name.into();
        self
    }

    /// Sets the transform stage's own timeout.
    pub fn transform_timeout(mut self, timeout: Duration) -> Self {
        self.transform_timeout = Some(timeout);
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Tries a failed download up to `retries` more times.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retry = self.retry.with_max_retries(retries);
        self
    }

    /// Waits `delay` after the first failed attempt (after every one, unless
    /// [`retry_policy`](Self::retry_policy) set a growing back-off).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry = self.retry.with_initial_delay(delay);
        self
    }

    /// Retries as `policy` says: its back-off, jitter and maximum retries (a policy
    /// with no maximum retries a failing download until it succeeds).
    ///
    /// ```
    /// use std::time::Duration;
    /// use weft::host::{HostPort, Jitter, RetryPolicy};
    /// use weft::programs::poetry::GetPoetryOptions;
    ///
    /// let backoff = RetryPolicy::exponential(Duration::from_millis(250), 2.0)
    ///     .with_max_delay(Duration::from_secs(4))
    ///     .with_jitter(Jitter::Proportional(0.1))
    ///     .with_max_retries(5);
    /// let options = GetPoetryOptions::new(vec![HostPort::new("poet", 10000)])
    ///     .retry_policy(backoff);
    /// assert_eq!(options.attempts(), Some(6));
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Attempts a download may take in all, the first and its retries; `None`: no
    /// limit.
    pub fn attempts(&self) -> Option<u32> {
        self.retry.max_attempts()
    }

    /// The transform stage's limit: its own, or the per-stage one, or
    /// [`DEFAULT_TRANSFORM_TIMEOUT`]: a transform server that never replies must not
    /// hang the client.
    pub fn transform_limit(&self) -> Option<Duration> {
        self.transform_timeout
            .or(self.timeout)
            .or(Some(DEFAULT_TRANSFORM_TIMEOUT))
    }

    /// Clients 6.0 to 8.0 take their addresses as `xform-[host:]port [host:]port ...`:
    /// the first is the transform server, the rest poetry servers. `None` with fewer
    /// than two addresses (the originals then print their help).
    pub fn from_xform_addresses(addresses: &[HostPort]) -> Option<Self> {
        let (transform, servers) = addresses.split_first()?;
        if servers.is_empty() {
            return None;
        }
        Some(Self::new(servers.to_vec()).transform(transform.clone()))
    }
}
