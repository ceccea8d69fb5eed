//! The client ladder of the series, one named version per client: Twisted clients 1.0
//! to 8.0 as the texts wrote them, each a small set of choices over get-poetry's one
//! state machine (or, for 7.0 and 8.0, over the async clients).
//!
//! What every version shares, and where it differs from plain `get-poetry`: a poem cut
//! short by a reset is a poem ([`TruncationPolicy::Accept`]: every client from 2.0 on
//! delivers `self.poem` on `connectionLost` and ignores the reason; 1.0 keeps what it
//! read), and the exit status is 0 however the downloads went ([`ExitPolicy::AlwaysZero`]:
//! the originals stop their reactor and return), except 1.0's crash. Plain `get-poetry`
//! keeps weft's stricter defaults: a truncated poem is a failure, and a failure exits 1.
//!
//! | version | text | report | failure handling |
//! |---|---|---|---|
//! | 1.0 | Part 4 | [`ReportStyle::Tasks`] | a refused connect crashes it (status 1) |
//! | 1.0-broken | Part 4 | [`ReportStyle::Tasks`] with [`blocking_reads`](GetPoetryOptions::blocking_reads) | as 1.0 |
//! | 2.0 | Part 5 | [`ReportStyle::Numbered`], tasks in connection order | `Failed to connect to:` |
//! | 2.1 | Part 5 | [`ReportStyle::PoemsAtEnd`] | `Failed to connect to:` |
//! | 3.0 | Part 6 | [`ReportStyle::PoemsAtEndErrback`] | none: it waits forever ([`OnConnectFailure::Ignore`]) |
//! | 3.1, 4.0 | Parts 6, 8 | [`ReportStyle::PoemsAtEndErrback`] | `Poem failed:` on stderr |
//! | 5.0, 5.1 | Part 10 | [`ReportStyle::AsArrivedTerse`] + [`random_cummingsify`](GetPoetryOptions::random_cummingsify) | `The poem download failed.` |
//! | 6.0 | Part 13 | [`ReportStyle::AsArrivedTerse`] + transform server | `The poem download failed.`; `Cummingsify failed!` |
//! | 7.0, 8.0 | Parts 17, 18 | [`ReportStyle::AsArrived`] + transform server | `The poem download failed: ...` |
//!
//! ```
//! use weft::host::HostPort;
//! use weft::programs::poetry::get_poetry::{ClientVersion, OnConnectFailure};
//!
//! let version: ClientVersion = "3.0".parse()?;
//! let options = version.options(vec![HostPort::new("127.0.0.1", 10004)])?;
//! assert_eq!(options.on_connect_failure, OnConnectFailure::Ignore);
//! assert_eq!(version.program_name(), "get-poetry-3.0");
//! # Ok::<(), weft::programs::poetry::get_poetry::VersionError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::host::{ConnectError, HostContext, HostPort};
use crate::rand::Rng;

use super::super::client::{DownloadError, Failure, TruncationPolicy};
use super::super::poems::Poem;
use super::{
    ExitPolicy, GetPoetry, GetPoetryOptions, GetPoetryTimer, OnConnectFailure, ReportStyle, Stage,
    TaskNumbering,
};

/// A client of the series, by its version number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum ClientVersion {
    /// Part 4's `twisted-client-1/get-poetry.py`: low-level readers.
    V1_0,
    /// Part 4's `get-poetry-broken.py`: 1.0 with blocking reads.
    V1_0Broken,
    /// Part 5's `twisted-client-2/get-poetry.py`: Protocol and ClientFactory.
    V2_0,
    /// Part 5's `get-poetry-simple.py`: no task numbers, the poems at the end.
    V2_1,
    /// Part 6's `twisted-client-3/get-poetry.py`: a callback and no errback.
    V3_0,
    /// Part 6's `get-poetry-1.py`: callback and errback.
    V3_1,
    /// Part 8's `twisted-client-4/get-poetry.py`: a Deferred.
    V4_0,
    /// Part 10's `twisted-client-5/get-poetry.py`: a random local cummingsify.
    V5_0,
    /// Part 10's `get-poetry-1.py`: the same, with `CannotCummingsify` caught by an errback.
    V5_1,
    /// Part 13's `twisted-client-6/get-poetry.py`: a transform server, nested Deferreds.
    V6_0,
    /// Part 17's `twisted-client-7/get-poetry.py`: `inlineCallbacks`.
    V7_0,
    /// Part 18's `twisted-client-8/get-poetry.py`: `DeferredList`.
    V8_0,
}

/// Why a version could not be chosen or given its addresses.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum VersionError {
    /// No client of the series has this version number.
    #[error("no client version {0:?}; the versions are {list}", list = ClientVersion::list())]
    Unknown(String),
    /// Clients 6.0 to 8.0 take the transform server first.
    #[error(
        "client {0} needs at least two addresses: the transform server first, then the \
         poetry servers (xform-[host:]port [host:]port ...)"
    )]
    NeedsTransformServer(ClientVersion),
}

impl ClientVersion {
    /// Every version, in the order of the texts.
    pub const ALL: [Self; 12] = [
        Self::V1_0,
        Self::V1_0Broken,
        Self::V2_0,
        Self::V2_1,
        Self::V3_0,
        Self::V3_1,
        Self::V4_0,
        Self::V5_0,
        Self::V5_1,
        Self::V6_0,
        Self::V7_0,
        Self::V8_0,
    ];

    /// The version number as the texts write it: `"3.0"`.
    pub fn number(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
            Self::V1_0Broken => "1.0-broken",
            Self::V2_0 => "2.0",
            Self::V2_1 => "2.1",
            Self::V3_0 => "3.0",
            Self::V3_1 => "3.1",
            Self::V4_0 => "4.0",
            Self::V5_0 => "5.0",
            Self::V5_1 => "5.1",
            Self::V6_0 => "6.0",
            Self::V7_0 => "7.0",
            Self::V8_0 => "8.0",
        }
    }

    /// The program a scenario file names: `get-poetry-3.0`.
    pub fn program_name(self) -> &'static str {
        match self {
            Self::V1_0 => "get-poetry-1.0",
            Self::V1_0Broken => "get-poetry-1.0-broken",
            Self::V2_0 => "get-poetry-2.0",
            Self::V2_1 => "get-poetry-2.1",
            Self::V3_0 => "get-poetry-3.0",
            Self::V3_1 => "get-poetry-3.1",
            Self::V4_0 => "get-poetry-4.0",
            Self::V5_0 => "get-poetry-5.0",
            Self::V5_1 => "get-poetry-5.1",
            Self::V6_0 => "get-poetry-6.0",
            Self::V7_0 => "get-poetry-7.0",
            Self::V8_0 => "get-poetry-8.0",
        }
    }

    /// One line on what the version is and does, for `weft sim programs`.
    pub fn summary(self) -> &'static str {
        match self {
            Self::V1_0 => {
                "client 1.0 (Part 4): a line per read, Task N finished, the byte counts; \
                 a refused connect crashes it"
            }
            Self::V1_0Broken => {
                "the broken client 1.0 (Part 4): blocking reads, one poem at a time, \
                 one line per poem"
            }
            Self::V2_0 => {
                "client 2.0 (Part 5): tasks numbered in connection order, Failed to \
                 connect to:, Got N poems counting every address"
            }
            Self::V2_1 => "client 2.1 (Part 5): the poems at the end; Failed to connect to:",
            Self::V3_0 => {
                "client 3.0 (Part 6): a callback and no errback, so a failed server \
                 makes it wait forever"
            }
            Self::V3_1 => "client 3.1 (Part 6): the errback fix; Poem failed: on stderr",
            Self::V4_0 => "client 4.0 (Part 8): a Deferred; prints as 3.1 does",
            Self::V5_0 => {
                "client 5.0 (Part 10): a random local cummingsify; each poem as it arrives"
            }
            Self::V5_1 => "client 5.1 (Part 10): 5.0 with CannotCummingsify caught by an errback",
            Self::V6_0 => {
                "client 6.0 (Part 13): addresses xform-port port...; cummingsify on the \
                 transform server"
            }
            Self::V7_0 => "client 7.0 (Part 17): 6.0 as inlineCallbacks (an async fn)",
            Self::V8_0 => "client 8.0 (Part 18): 7.0 with a DeferredList (an async fn)",
        }
    }

    /// Whether its first address is the transform server (6.0 to 8.0).
    pub fn takes_transform_server(self) -> bool {
        matches!(self, Self::V6_0 | Self::V7_0 | Self::V8_0)
    }

    /// Whether it runs as an async program (7.0 and 8.0) rather than the state machine.
    pub fn is_async(self) -> bool {
        matches!(self, Self::V7_0 | Self::V8_0)
    }

    /// The options that make get-poetry this version, for the original's command-line
    /// `addresses` (for 6.0 to 8.0, the transform server first).
    ///
    /// # Errors
    /// [`VersionError::NeedsTransformServer`] for 6.0 to 8.0 with fewer than two
    /// addresses.
    pub fn options(self, addresses: Vec<HostPort>) -> Result<GetPoetryOptions, VersionError> {
        let mut options = if self.takes_transform_server() {
            GetPoetryOptions::from_xform_addresses(&addresses)
                .ok_or(VersionError::NeedsTransformServer(self))?
        } else {
            GetPoetryOptions::new(addresses)
        };
        options.truncation = TruncationPolicy::Accept;
        options.exit = ExitPolicy::AlwaysZero;
        options.report = match self {
            Self::V1_0 | Self::V1_0Broken => ReportStyle::Tasks,
            Self::V2_0 => ReportStyle::Numbered,
            Self::V2_1 => ReportStyle::PoemsAtEnd,
            Self::V3_0 | Self::V3_1 | Self::V4_0 => ReportStyle::PoemsAtEndErrback,
            Self::V5_0 | Self::V5_1 | Self::V6_0 => ReportStyle::AsArrivedTerse,
            Self::V7_0 | Self::V8_0 => ReportStyle::AsArrived,
        };
        match self {
            Self::V1_0 => options.on_connect_failure = OnConnectFailure::Crash,
            Self::V1_0Broken => {
                options.on_connect_failure = OnConnectFailure::Crash;
                options.blocking_reads = true;
            }
            Self::V2_0 => options.numbering = TaskNumbering::ConnectionOrder,
            Self::V3_0 => options.on_connect_failure = OnConnectFailure::Ignore,
            // 5.0 catches the bug in its callback, 5.1 in an errback after it: the same
            // three outcomes, the same lines.
            Self::V5_0 | Self::V5_1 => options.random_cummingsify = true,
            _ => {}
        }
        Ok(options)
    }

    fn list() -> String {
        Self::ALL.map(Self::number).join(", ")
    }
}

impl fmt::Display for ClientVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.number())
    }
}

impl FromStr for ClientVersion {
    type Err = VersionError;

    /// `"3.0"`, or `"3"` for `3.0`.
    fn from_str(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|v| v.number() == text || v.number().strip_suffix(".0") == Some(text))
            .ok_or_else(|| VersionError::Unknown(text.to_owned()))
    }
}

/// What the ladder's choices keep while a run goes on.
#[derive(Debug, Default)]
pub(super) struct LadderState {
    /// Task numbers by connection order (client 2.0), per download.
    numbers: Vec<Option<usize>>,
    /// The download the broken client is blocked reading, if any.
    reading: Option<usize>,
}

/// The outcomes of client 5.x's `cummingsify`, in the order of its `random.choice`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cummingsified {
    Success,
    Gibberish,
    Bug,
}

impl GetPoetry {
    /// Whether each read gets a line (`Task 1: got 30 bytes of poetry from ...`).
    pub(super) fn prints_each_read(&self) -> bool {
        matches!(
            self.options.report,
            ReportStyle::Tasks | ReportStyle::Numbered
        ) && !self.options.blocking_reads
    }

    /// The task number download `i` reports under.
    pub(super) fn task_number(&self, i: usize) -> usize {
        match self.options.numbering {
            TaskNumbering::InputOrder => i + 1,
            TaskNumbering::ConnectionOrder => {
                (self.ladder.numbers.get(i).copied().flatten()).unwrap_or(i + 1)
            }
        }
    }

    /// Download `i` is connected: it takes the next number if tasks are numbered by
    /// connection, and waits unread if the broken client is blocked on another.
    pub(super) fn connected_by_version(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
    ) {
        if self.ladder.reading.is_some_and(|j| j != i)
            && let Some(conn) = self.downloads[i].conn
        {
            cx.pause_reading(conn);
        }
        self.number_connection(i);
    }

    fn number_connection(&mut self, i: usize) {
        if self.options.numbering != TaskNumbering::ConnectionOrder {
            return;
        }
        let next = self.ladder.numbers.iter().flatten().count() + 1;
        if self.ladder.numbers.len() <= i {
            self.ladder.numbers.resize(i + 1, None);
        }
        self.ladder.numbers[i].get_or_insert(next);
    }

    /// Data for download `i`: the broken client blocks on it, if it is not blocked
    /// already, and reads no other connection until this one ends.
    pub(super) fn blocking_read_starts(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
    ) {
        if !self.options.blocking_reads || self.ladder.reading.is_some() {
            return;
        }
        self.ladder.reading = Some(i);
        for conn in self.receiving_conns_but(i) {
            cx.pause_reading(conn);
        }
    }

    /// Download `i`'s connection ended: the broken client prints the one line it
    /// prints per poem and reads the others again.
    pub(super) fn blocking_read_ends(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        verdict: &Result<Poem, Failure>,
    ) {
        if !self.options.blocking_reads {
            return;
        }
        let download = &self.downloads[i];
        let from = download
            .peer
            .map_or_else(|| download.server.to_string(), |p| p.to_string());
        let bytes = verdict.as_ref().map_or(0, Poem::len);
        cx.print(format!(
            "Task {}: got {bytes} bytes of poetry from {from}",
            i + 1
        ));
        if self.ladder.reading == Some(i) {
            self.ladder.reading = None;
            for conn in self.receiving_conns_but(i) {
                cx.resume_reading(conn);
            }
        }
    }

    /// The connections of the downloads being received, other than `i`'s.
    fn receiving_conns_but(&self, i: usize) -> Vec<crate::host::ConnId> {
        (self.downloads.iter().enumerate())
            .filter(|&(j, d)| j != i && matches!(d.stage, Stage::Receiving(_)))
            .filter_map(|(_, d)| d.conn)
            .collect()
    }

    /// A failed connect, as the version takes it; `true` if that was all (1.0's crash,
    /// 3.0's silence), `false` if the download fails as usual.
    pub(super) fn connect_failure_by_version(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        error: &ConnectError,
    ) -> bool {
        match self.options.on_connect_failure {
            OnConnectFailure::Fail => false,
            OnConnectFailure::Crash => {
                let server = &self.downloads[i].server;
                cx.eprint(format!(
                    "Traceback: the connect to {server} raised an uncaught error: {error}"
                ));
                self.downloads[i].stage = Stage::Done;
                self.finished_at = Some(cx.now());
                cx.exit(1);
                true
            }
            OnConnectFailure::Ignore => {
                // No errback: the failure goes nowhere, and the download never ends.
                tracing::debug!(task = i + 1, %error, "connect failed; nobody is told");
                let download = &mut self.downloads[i];
                download.stage = Stage::Done;
                if let Some(call) = download.timeout.take() {
                    let _ = cx.cancel(call);
                }
                true
            }
        }
    }

    /// Client 5.x's `cummingsify` on poem `i`: the poem to go on with, or `None` if
    /// it found gibberish and the download has failed.
    pub(super) fn cummingsify_locally(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        poem: Poem,
    ) -> Option<Poem> {
        if !self.options.random_cummingsify {
            return Some(poem);
        }
        let fate = match cx.rng().random_range(0..3u8) {
            0 => Cummingsified::Success,
            1 => Cummingsified::Gibberish,
            _ => Cummingsified::Bug,
        };
        match fate {
            Cummingsified::Success => Some(Poem::new(poem.as_bytes().to_ascii_lowercase())),
            Cummingsified::Bug => {
                cx.print("Cummingsify failed!".to_owned());
                Some(poem)
            }
            Cummingsified::Gibberish => {
                let error = DownloadError {
                    server: self.downloads[i].server.clone(),
                    failure: Failure::Gibberish,
                };
                self.settle(cx, i, Err(error));
                None
            }
        }
    }

    /// The end of the run in the ladder's own styles; `false` for the shared styles.
    pub(super) fn ladder_end_lines(&self, cx: &mut HostContext<'_, GetPoetryTimer>) -> bool {
        let results = &self.results;
        match self.options.report {
            ReportStyle::Numbered => {
                let mut by_number: Vec<(usize, usize)> = (0..self.downloads.len())
                    .filter_map(|i| match results.get(i) {
                        Some(Ok(poem)) => Some((self.task_number(i), poem.len())),
                        _ => None,
                    })
                    .collect();
                by_number.sort_unstable();
                for (task, bytes) in by_number {
                    cx.print(format!("Task {task}: {bytes} bytes of poetry"));
                }
                let elapsed = crate::time::format_timedelta(cx.now() - self.started);
                cx.print(format!("Got {} poems in {elapsed}", self.downloads.len()));
                true
            }
            ReportStyle::PoemsAtEnd | ReportStyle::PoemsAtEndErrback => {
                for &i in results.settle_order() {
                    if let Some(Ok(poem)) = results.get(i) {
                        for line in poem.lines() {
                            cx.print(line);
                        }
                    }
                }
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_reads_back_from_its_number() {
        for version in ClientVersion::ALL {
            assert_eq!(version.number().parse(), Ok(version));
            assert_eq!(
                version.program_name(),
                format!("get-poetry-{}", version.number())
            );
        }
        assert_eq!("3".parse(), Ok(ClientVersion::V3_0));
    }

    #[test]
    fn an_unknown_version_lists_the_versions() {
        let error = "9.0".parse::<ClientVersion>().unwrap_err().to_string();
        assert_eq!(
            error,
            "no client version \"9.0\"; the versions are \
             1.0, 1.0-broken, 2.0, 2.1, 3.0, 3.1, 4.0, 5.0, 5.1, 6.0, 7.0, 8.0"
        );
    }

    #[test]
    fn clients_6_to_8_take_the_transform_server_first() {
        let addresses = vec![HostPort::new("xform", 11000), HostPort::new("poet", 10000)];
        let options = ClientVersion::V6_0.options(addresses).unwrap();
        assert_eq!(options.transform, Some(HostPort::new("xform", 11000)));
        assert_eq!(options.servers, [HostPort::new("poet", 10000)]);
        let alone = ClientVersion::V7_0.options(vec![HostPort::new("poet", 10000)]);
        assert_eq!(
            alone.unwrap_err(),
            VersionError::NeedsTransformServer(ClientVersion::V7_0)
        );
    }

    #[test]
    fn every_version_accepts_a_truncated_poem_and_exits_zero() {
        for version in ClientVersion::ALL {
            let addresses = vec![HostPort::new("a", 1), HostPort::new("b", 2)];
            let options = version.options(addresses).unwrap();
            assert_eq!(options.truncation, TruncationPolicy::Accept, "{version}");
            assert_eq!(options.exit, ExitPolicy::AlwaysZero, "{version}");
        }
    }
}
