//! The client as a state machine: one command at a time, each with a reply timeout; a
//! failed attempt (refused, lost, timed out) waits as the [`RetryPolicy`] says and
//! reconnects, sending the unanswered command again.

use std::time::Duration;

use serde::Deserialize;
use weft::clock::CallId;
use weft::codec::line::LineDecoder;
use weft::host::{ConnId, ConnectError, HostContext, HostPort, Jitter, Program, RetryPolicy};
use weft::scenario::{OptionDoc, ProgramOptions};
use weft::simnet::{format_duration, human_duration};
use weft::transport::Disconnect;

use crate::server::line_format;

/// `kv-client`'s (and `kv-client-async`'s) options in a scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClientOptions {
    /// The server.
    pub connect: HostPort,
    /// The request lines, sent in order.
    pub commands: Vec<String>,
    /// How long to wait for each reply (and for each connect).
    #[serde(default = "default_reply_timeout", with = "human_duration")]
    pub reply_timeout: Duration,
    /// Retries after the first attempt, each after a failure.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The first retry's wait; each next one doubles, plus up to half of it at random.
    #[serde(default = "default_retry_delay", with = "human_duration")]
    pub retry_delay: Duration,
}

fn default_reply_timeout() -> Duration {
    Duration::from_secs(1)
}

fn default_retries() -> u32 {
    5
}

fn default_retry_delay() -> Duration {
    Duration::from_millis(100)
}

impl ClientOptions {
    /// `commands` to `connect`, with the defaults for the rest.
    pub fn new(connect: HostPort, commands: &[&str]) -> Self {
        Self {
            connect,
            commands: commands.iter().map(|c| (*c).to_owned()).collect(),
            reply_timeout: default_reply_timeout(),
            retries: default_retries(),
            retry_delay: default_retry_delay(),
        }
    }

    /// The back-off between attempts.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy::exponential(self.retry_delay, 2.0)
            .with_max_delay(Duration::from_secs(5))
            .with_jitter(Jitter::Add(self.retry_delay / 2))
            .with_max_retries(self.retries)
    }
}

impl ProgramOptions for ClientOptions {
    fn describe() -> Vec<OptionDoc> {
        vec![
            OptionDoc::required("connect", "address"),
            OptionDoc::required("commands", "list of lines"),
            OptionDoc::optional("reply-timeout", "duration", "1s"),
            OptionDoc::optional("retries", "integer", "5"),
            OptionDoc::optional("retry-delay", "duration", "100ms"),
        ]
    }

    fn check(&self) -> Result<(), String> {
        if self.commands.is_empty() {
            return Err("commands must not be empty".to_owned());
        }
        Ok(())
    }
}

/// A wait as printed: seconds to the millisecond (`0.135s`).
pub(crate) fn seconds(wait: Duration) -> String {
    format!("{:.3}s", wait.as_secs_f64())
}

/// The last line of a client that ran out of retries.
pub(crate) fn giving_up(attempts: u32, why: &str) -> String {
    let plural = if attempts == 1 { "" } else { "s" };
    format!("giving up after {attempts} attempt{plural}: {why}")
}

/// The client's timers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientTimer {
    /// The command sent got no reply in time.
    ReplyTimeout,
    /// The wait after a failure is over: connect again.
    Retry,
}

/// Sends its commands, prints `COMMAND -> REPLY` for each, exits 0 when all are
/// answered and 1 when the retries are used up.
#[derive(Debug)]
pub struct KvClient {
    options: ClientOptions,
    policy: RetryPolicy,
    /// The command waiting for its reply, or the next to send.
    next: usize,
    conn: Option<ConnId>,
    decoder: LineDecoder,
    reply_timeout: Option<CallId>,
    /// Consecutive failed attempts; a reply resets it.
    failures: u32,
    attempts: u32,
}

impl KvClient {
    /// A client for `options`.
    pub fn new(options: ClientOptions) -> Self {
        Self {
            policy: options.policy(),
            options,
            next: 0,
            conn: None,
            decoder: LineDecoder::new(line_format()),
            reply_timeout: None,
            failures: 0,
            attempts: 0,
        }
    }

    /// Commands answered so far.
    pub fn answered(&self) -> usize {
        self.next
    }

    /// Connects made so far, the first included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn connect(&mut self, cx: &mut HostContext<'_, ClientTimer>) {
        self.attempts += 1;
        self.decoder = LineDecoder::new(line_format());
        let to = self.options.connect.clone();
        self.conn = Some(cx.connect(to, self.options.reply_timeout));
    }

    fn send_next(&mut self, cx: &mut HostContext<'_, ClientTimer>, conn: ConnId) {
        let Some(command) = self.options.commands.get(self.next) else {
            cx.lose_connection(conn);
            self.conn = None;
            cx.exit(0);
            return;
        };
        let mut line = Vec::new();
        match line_format().encode_into(command.as_bytes(), &mut line) {
            Ok(()) => cx.write(conn, &line),
            Err(error) => {
                cx.eprint(format!("command {}: {error}", self.next + 1));
                cx.exit(1);
                return;
            }
        }
        self.reply_timeout =
            Some(cx.call_later(self.options.reply_timeout, ClientTimer::ReplyTimeout));
    }

    /// An attempt failed: wait and retry, or give up.
    fn failed(&mut self, cx: &mut HostContext<'_, ClientTimer>, why: String) {
        if let Some(call) = self.reply_timeout.take() {
            let _ = cx.cancel(call);
        }
        self.conn = None;
        self.failures += 1;
        match self.policy.delay(self.failures, cx.rng()) {
            Some(wait) => {
                cx.eprint(format!("{why}; retrying in {}", seconds(wait)));
                cx.call_later(wait, ClientTimer::Retry);
            }
            None => {
                cx.eprint(giving_up(self.attempts, &why));
                cx.exit(1);
            }
        }
    }
}

impl Program for KvClient {
    type Timer = ClientTimer;

    fn start(&mut self, cx: &mut HostContext<'_, ClientTimer>) {
        self.connect(cx);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, ClientTimer>, conn: ConnId) {
        self.send_next(cx, conn);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, ClientTimer>, conn: ConnId, data: &[u8]) {
        let mut lines = Vec::new();
        let decoded = self.decoder.decode(data, |line| {
            lines.push(String::from_utf8_lossy(line).into_owned())
        });
        for reply in lines {
            // Only a command in flight has a reply; anything else is ignored.
            let Some(call) = self.reply_timeout.take() else {
                continue;
            };
            let _ = cx.cancel(call);
            cx.print(format!("{} -> {reply}", self.options.commands[self.next]));
            self.next += 1;
            self.failures = 0;
            self.send_next(cx, conn);
        }
        if let Err(error) = decoded {
            cx.abort_connection(conn);
            self.failed(cx, format!("bad reply: {error}"));
        }
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, ClientTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        // A connection we closed or gave up on ends quietly.
        if self.conn == Some(conn) {
            self.failed(cx, format!("connection lost: {reason}"));
        }
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, ClientTimer>,
        _: ConnId,
        error: ConnectError,
    ) {
        self.failed(cx, format!("connect failed: {error}"));
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, ClientTimer>, timer: ClientTimer) {
        match timer {
            ClientTimer::ReplyTimeout => {
                self.reply_timeout = None;
                if let Some(conn) = self.conn.take() {
                    cx.abort_connection(conn);
                }
                let wait = format_duration(self.options.reply_timeout);
                self.failed(cx, format!("no reply within {wait}"));
            }
            ClientTimer::Retry => self.connect(cx),
        }
    }
}
