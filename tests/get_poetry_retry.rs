//! get-poetry's retries: a failed attempt (refused or timed-out connect, a reset
//! mid-poem, the download timeout) waits as its `RetryPolicy` says (`retry_delay` by
//! default) and starts again from scratch; only the last attempt's failure settles the
//! download, which still ends exactly once. Jitter comes from the host's seeded source.

mod common;

use std::time::Duration;

use common::poetry::{at, boxed, get_poetry, instant_net, slow_server};
use weft::host::{
    ConnId, ConnectError, HostContext, HostPort, HostRng, Jitter, ListenerId, Program, RetryPolicy,
    Stream,
};
use weft::programs::poetry::poems::LOOM;
use weft::programs::poetry::{Failure, GetPoetry, GetPoetryOptions, ReportStyle};
use weft::simnet::{Fault, Latency, NetConfig, SimNet};
use weft::testing::{EventKind, MemoryReactor};
use weft::time::Instant;
use weft::transport::Disconnect;

const SECOND: Duration = Duration::from_secs(1);

fn local(port: u16) -> HostPort {
    HostPort::new("127.0.0.1", port)
}

fn secs(s: f64) -> Instant {
    Instant::ZERO + Duration::from_secs_f64(s)
}

/// Adds get-poetry as host "client", runs it to its exit and returns the status.
fn run_client(net: &mut SimNet, options: GetPoetryOptions) -> Option<i32> {
    net.add_host("client", move || boxed(GetPoetry::new(options.clone())));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(600)));
    net.exit_code("client")
}

/// The lines `host` printed or logged that contain `needle`, with their times.
fn lines_with(net: &SimNet, host: &str, needle: &str) -> Vec<(String, Instant)> {
    net.transcript()
        .events()
        .iter()
        .filter(|e| &*e.who == host)
        .filter_map(|e| match &e.what {
            EventKind::Line(line) if line.contains(needle) => Some((line.clone(), e.at)),
            _ => None,
        })
        .collect()
}

/// When `host`'s connects failed, and why.
fn connect_failures(net: &SimNet, host: &str) -> Vec<(String, Instant)> {
    net.transcript()
        .events()
        .iter()
        .filter(|e| &*e.who == host)
        .filter_map(|e| match &e.what {
            EventKind::ConnectFailed(why) => Some((why.clone(), e.at)),
            _ => None,
        })
        .collect()
}

/// A poetry server whose process starts listening only after `after` (until then its
/// port refuses connections); it then sends `poem` to each client and closes.
struct LateServer {
    port: u16,
    poem: &'static str,
    after: Duration,
}

#[derive(Clone, Copy, Debug)]
struct OpenUp;

impl Program for LateServer {
    type Timer = OpenUp;

    fn start(&mut self, cx: &mut HostContext<'_, OpenUp>) {
        cx.call_later(self.after, OpenUp);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, OpenUp>, _timer: OpenUp) {
        let _: ListenerId = cx.listen(HostPort::new("0.0.0.0", self.port));
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, OpenUp>, conn: ConnId) {
        cx.write(conn, self.poem.as_bytes());
        cx.lose_connection(conn);
    }

    fn data_received(&mut self, _cx: &mut HostContext<'_, OpenUp>, _conn: ConnId, _data: &[u8]) {}

    fn connection_lost(&mut self, _: &mut HostContext<'_, OpenUp>, _: ConnId, _: Disconnect) {}

    fn connect_failed(&mut self, _: &mut HostContext<'_, OpenUp>, _: ConnId, _: ConnectError) {}
}

#[test]
fn a_refused_connect_is_retried_after_the_delay_until_the_server_listens() {
    let mut net = instant_net().capture_logs(tracing::Level::INFO);
    net.add_host("poet", || {
        boxed(LateServer {
            port: 10000,
            poem: "ten bytes\n",
            after: Duration::from_millis(1_500),
        })
    });
    let options = GetPoetryOptions::new(vec![at(1, 10000)])
        .retries(5)
        .retry_delay(SECOND)
        .report(ReportStyle::Blocking);
    assert_eq!(run_client(&mut net, options), Some(0));
    assert_eq!(
        connect_failures(&net, "client"),
        [
            ("connection refused".to_owned(), secs(0.0)),
            ("connection refused".to_owned(), secs(1.0)),
        ]
    );
    assert_eq!(
        lines_with(&net, "client", "retrying"),
        [
            (
                "log: Task 1: retrying 10.0.0.1:10000 in 0:00:01 (attempt 2 of 6): connection refused"
                    .to_owned(),
                secs(0.0)
            ),
            (
                "log: Task 1: retrying 10.0.0.1:10000 in 0:00:01 (attempt 3 of 6): connection refused"
                    .to_owned(),
                secs(1.0)
            ),
        ]
    );
    // The blocking report announces the task once and times it from its first attempt.
    assert_eq!(
        net.lines("client", Stream::Stdout),
        [
            "Task 1: get poetry from: 10.0.0.1:10000",
            "Task 1: got 10 bytes of poetry from 10.0.0.1:10000 in 0:00:02",
            "Got 1 poems in 0:00:02",
        ]
    );
    assert!(net.lines("client", Stream::Stderr).is_empty());
    let program = get_poetry(&net, "client");
    assert_eq!(program.attempts(0), 3);
    assert_eq!(program.finished_at(), Some(secs(2.0)));
}

/// A crashed host answers nothing, so each attempt ends at its connect timeout (0.5 s):
/// attempts at 0 s and 1.5 s time out (the second at 2 s, just as the host restarts),
/// the third, at 3 s, gets the poem.
#[test]
fn a_server_crashed_from_the_start_and_restarted_is_reached_on_the_third_attempt() {
    let mut net = instant_net().capture_logs(tracing::Level::INFO);
    net.add_host("poet", || boxed(slow_server("abcdefghij", 5, 10000)));
    net.add_fault(Fault::at(Duration::ZERO).crash("poet"));
    net.add_fault(Fault::at(2 * SECOND).restart("poet"));
    let options = GetPoetryOptions::new(vec![at(1, 10000)])
        .retries(5)
        .retry_delay(SECOND)
        .connect_timeout(Duration::from_millis(500))
        .report(ReportStyle::AsArrived);
    assert_eq!(run_client(&mut net, options), Some(0));
    assert_eq!(
        connect_failures(&net, "client"),
        [
            ("connection timed out".to_owned(), secs(0.5)),
            ("connection timed out".to_owned(), secs(2.0)),
        ]
    );
    let retries: Vec<Instant> = lines_with(&net, "client", "retrying")
        .into_iter()
        .map(|(_, at)| at)
        .collect();
    assert_eq!(retries, [secs(0.5), secs(2.0)]);
    assert_eq!(net.lines("client", Stream::Stdout), ["abcdefghij"]);
    let program = get_poetry(&net, "client");
    assert_eq!(program.attempts(0), 3);
    // Connected at 3 s; five bytes at once, five at 3.1 s, the close at 3.2 s.
    assert_eq!(program.finished_at(), Some(secs(3.2)));
}

#[test]
fn retries_exhausted_report_the_last_error_once() {
    let options = GetPoetryOptions::new(vec![local(10000)])
        .retries(2)
        .retry_delay(SECOND)
        .report(ReportStyle::AsArrived);
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    reactor.fail_connect(0, ConnectError::Refused);
    reactor.advance(SECOND);
    reactor.fail_connect(1, ConnectError::TimedOut);
    reactor.advance(SECOND);
    assert!(
        reactor.output().is_empty(),
        "nothing reported while retrying"
    );
    assert_eq!(reactor.exit_code(), None);
    let conn = reactor.complete_connect(2);
    reactor.data_received(conn, b"half a po");
    reactor.connection_lost(conn, Disconnect::Reset);
    assert_eq!(
        reactor.lines(Stream::Stderr),
        [
            "The poem download failed: 127.0.0.1:10000: poem truncated after 9 bytes: connection was reset by the peer"
        ]
    );
    assert_eq!(reactor.exit_code(), Some(1));
    reactor.advance(10 * SECOND);
    assert_eq!(reactor.tcp_clients().len(), 3, "no attempt after the last");
    let program = reactor.program();
    assert_eq!(program.attempts(0), 3);
    assert_eq!(program.results().settle_order(), [0]);
    assert_eq!(program.finished_at(), Some(secs(2.0)));
}

#[test]
fn the_retry_waits_the_delay_and_starts_a_fresh_connect() {
    let options = GetPoetryOptions::new(vec![local(10000)])
        .retries(1)
        .retry_delay(Duration::from_millis(250));
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(reactor.next_deadline(), Some(secs(0.25)));
    reactor.advance(Duration::from_millis(249));
    assert_eq!(reactor.tcp_clients().len(), 1);
    reactor.advance(Duration::from_millis(1));
    let calls = reactor.tcp_clients();
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0].conn, calls[1].conn);
    assert_eq!(
        (calls[1].host.as_str(), calls[1].port),
        ("127.0.0.1", 10000)
    );
    assert_eq!(reactor.program().conn(0), Some(calls[1].conn));
}

/// A reset at 1.05 s cuts the poem after 330 bytes; the retry at 2.05 s downloads all
/// 3,003 from the start (no byte of the first attempt is kept), done at 12.15 s.
#[test]
fn a_reset_mid_poem_is_retried_from_scratch_and_the_whole_poem_arrives() {
    let mut net = instant_net().capture_logs(tracing::Level::INFO);
    net.add_host("poet", || boxed(slow_server(LOOM, 30, 10000)));
    net.add_fault(Fault::at(Duration::from_millis(1_050)).reset("poet"));
    let options = GetPoetryOptions::new(vec![at(1, 10000)])
        .retries(1)
        .retry_delay(SECOND);
    assert_eq!(run_client(&mut net, options), Some(0));
    let program = get_poetry(&net, "client");
    let poem = program.results().get(0).cloned().and_then(Result::ok);
    assert_eq!(
        poem.map(|p| p.as_bytes().to_vec()),
        Some(LOOM.as_bytes().to_vec())
    );
    assert_eq!(program.attempts(0), 2);
    assert_eq!(program.finished_at(), Some(secs(12.15)));
    assert_eq!(
        lines_with(&net, "client", "retrying"),
        [(
            "log: Task 1: retrying 10.0.0.1:10000 in 0:00:01 (attempt 2 of 2): poem truncated after 330 bytes: connection was reset by the peer"
                .to_owned(),
            secs(1.05)
        )]
    );
    // The task finished once (the cut attempt did not count), with the whole poem.
    let out = net.lines("client", Stream::Stdout);
    assert_eq!(out.iter().filter(|l| **l == "Task 1 finished").count(), 1);
    assert_eq!(
        &out[out.len() - 2..],
        [
            "Task 1: 3003 bytes of poetry",
            "Got 1 poems in 0:00:12.150000"
        ]
    );
}

#[test]
fn a_download_timeout_is_retried_and_the_closed_attempt_is_ignored() {
    let options = GetPoetryOptions::new(vec![local(10000)])
        .timeout(Duration::from_secs(5))
        .retries(1)
        .retry_delay(SECOND)
        .report(ReportStyle::AsArrived);
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let first = reactor.complete_connect(0);
    reactor.data_received(first, b"stale words\n");
    reactor.advance(Duration::from_secs(5));
    assert_eq!(reactor.lost(first), Some(Disconnect::Clean));
    assert!(reactor.output().is_empty());
    reactor.advance(SECOND);
    let second = reactor.complete_connect(1);
    // The first attempt's connection reports its end late, after the retry began.
    reactor.connection_lost(first, Disconnect::Clean);
    reactor.data_received(second, b"fresh words\n");
    reactor.connection_lost(second, Disconnect::Clean);
    assert_eq!(reactor.lines(Stream::Stdout), ["fresh words"]);
    assert_eq!(reactor.exit_code(), Some(0));
    let program = reactor.program();
    assert_eq!(program.attempts(0), 2);
    assert!(program.late_events() >= 1, "the stale close was ignored");
}

#[test]
fn a_withdrawn_connect_completed_late_is_aborted_and_leaves_the_retry_alone() {
    let options = GetPoetryOptions::new(vec![local(10000)])
        .timeout(SECOND)
        .retries(1)
        .retry_delay(SECOND)
        .report(ReportStyle::AsArrived);
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    reactor.advance(SECOND);
    let first = reactor.tcp_clients()[0].conn;
    assert_eq!(reactor.cancelled_connects(), [first]);
    reactor.advance(SECOND);
    assert_eq!(reactor.tcp_clients().len(), 2);
    // A driver completes the withdrawn connect anyway while the retry is connecting.
    reactor.complete_connect(0);
    assert!(!reactor.is_connected(first));
    assert_eq!(reactor.exit_code(), None);
    let second = reactor.complete_connect(1);
    reactor.data_received(second, b"the poem\n");
    reactor.connection_lost(second, Disconnect::Clean);
    assert_eq!(reactor.lines(Stream::Stdout), ["the poem"]);
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn the_transform_stage_is_not_retried() {
    let options = GetPoetryOptions::new(vec![local(10000)])
        .transform(local(11000))
        .retries(3)
        .report(ReportStyle::AsArrived);
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"A Poem\n");
    reactor.connection_lost(conn, Disconnect::Clean);
    assert_eq!(reactor.tcp_clients()[1].port, 11000);
    reactor.fail_connect(1, ConnectError::Refused);
    assert_eq!(reactor.lines(Stream::Stderr), ["Cummingsify failed!"]);
    assert_eq!(reactor.lines(Stream::Stdout), ["A Poem"]);
    assert_eq!(reactor.exit_code(), Some(0));
    reactor.advance(10 * SECOND);
    assert_eq!(reactor.tcp_clients().len(), 2);
    assert_eq!(reactor.program().attempts(0), 1);
}

#[test]
fn without_retries_the_first_failure_settles_the_download() {
    let mut reactor = MemoryReactor::new(GetPoetry::new(GetPoetryOptions::new(vec![local(10000)])));
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(reactor.exit_code(), Some(1));
    assert_eq!(reactor.program().attempts(0), 1);
    let failure = reactor.program().results().get(0).cloned();
    assert_eq!(
        failure.and_then(Result::err).map(|e| e.failure),
        Some(Failure::Connect(ConnectError::Refused))
    );
}

/// get-poetry against a host where nothing listens, under `seed`: every attempt is
/// refused at once, so the times of the refusals are the policy's waits, added up.
fn refusal_times(seed: u64, policy: RetryPolicy) -> Vec<Instant> {
    let config = NetConfig {
        latency: Latency::Fixed(Duration::ZERO),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, seed);
    net.add_host("deaf", || {
        let never = Duration::from_secs(86_400);
        boxed(LateServer {
            port: 1,
            poem: "",
            after: never,
        })
    });
    let options = GetPoetryOptions::new(vec![at(1, 10000)])
        .retry_policy(policy)
        .report(ReportStyle::Quiet);
    assert_eq!(run_client(&mut net, options), Some(1));
    connect_failures(&net, "client")
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

#[test]
fn an_exponential_policy_spaces_the_attempts_and_caps_the_wait() {
    let policy = RetryPolicy::exponential(Duration::from_millis(250), 2.0)
        .with_max_delay(SECOND)
        .with_max_retries(4);
    // Waits of 0.25, 0.5, 1 and (capped) 1 s; the fifth refusal is final.
    assert_eq!(
        refusal_times(1, policy),
        [secs(0.0), secs(0.25), secs(0.75), secs(1.75), secs(2.75)]
    );
}

#[test]
fn jittered_waits_replay_from_the_run_seed_and_change_with_it() {
    let policy = RetryPolicy::fixed(SECOND)
        .with_jitter(Jitter::Proportional(0.5))
        .with_max_retries(3);
    let first = refusal_times(7, policy);
    assert_eq!(first.len(), 4);
    assert_eq!(refusal_times(7, policy), first, "same seed, same waits");
    assert_ne!(refusal_times(8, policy), first, "another seed, other waits");
    for gap in first.windows(2).map(|w| w[1] - w[0]) {
        assert!(
            (Duration::from_millis(500)..=Duration::from_millis(1500)).contains(&gap),
            "{gap:?}"
        );
    }
}

#[test]
fn two_clients_on_one_network_draw_different_jitter() {
    let policy = RetryPolicy::fixed(SECOND)
        .with_jitter(Jitter::Proportional(0.5))
        .with_max_retries(3);
    let mut net = instant_net();
    net.add_host("deaf", || {
        let never = Duration::from_secs(86_400);
        boxed(LateServer {
            port: 1,
            poem: "",
            after: never,
        })
    });
    let options = GetPoetryOptions::new(vec![at(1, 10000)])
        .retry_policy(policy)
        .report(ReportStyle::Quiet);
    for name in ["a", "b"] {
        let options = options.clone();
        net.add_host(name, move || boxed(GetPoetry::new(options.clone())));
    }
    assert!(net.run_until_exit(&["a", "b"], Duration::from_secs(60)));
    let (a, b) = (connect_failures(&net, "a"), connect_failures(&net, "b"));
    assert_eq!((a.len(), b.len()), (4, 4));
    assert_ne!(a, b, "each host has a random stream of its own");
}

#[test]
fn under_the_doubles_the_jitter_comes_from_the_hosts_random_source() {
    let policy = RetryPolicy::fixed(SECOND)
        .with_jitter(Jitter::Add(SECOND))
        .with_max_retries(1);
    let options = GetPoetryOptions::new(vec![local(10000)]).retry_policy(policy);
    let mut reactor = MemoryReactor::with_rng(GetPoetry::new(options), HostRng::new(5, 0));
    reactor.fail_connect(0, ConnectError::Refused);
    let expected = policy.delay(1, &mut HostRng::new(5, 0)).unwrap();
    assert_eq!(reactor.next_deadline(), Some(Instant::ZERO + expected));
    assert_ne!(expected, SECOND, "the jitter moved the retry");
}

mod any_schedule {
    use super::*;
    use proptest::prelude::*;

    const RETRIES: u32 = 2;

    #[derive(Clone, Debug)]
    enum Action {
        /// Complete the connect with this index (modulo the connects so far).
        Connect(usize),
        /// Fail it.
        Fail(usize, ConnectError),
        /// A line arrives on the connection of connect `k` (modulo), current or stale.
        Data(usize),
        /// The connection of connect `k` (modulo) ends.
        Close(usize, Disconnect),
        Advance(u64),
    }

    fn action() -> impl Strategy<Value = Action> {
        let reason = prop_oneof![
            Just(Disconnect::Clean),
            Just(Disconnect::Reset),
            Just(Disconnect::TimedOut)
        ];
        let error = prop_oneof![Just(ConnectError::Refused), Just(ConnectError::TimedOut)];
        prop_oneof![
            (0..12usize).prop_map(Action::Connect),
            ((0..12usize), error).prop_map(|(k, e)| Action::Fail(k, e)),
            (0..12usize).prop_map(Action::Data),
            ((0..12usize), reason).prop_map(|(k, r)| Action::Close(k, r)),
            (0..900u64).prop_map(Action::Advance),
        ]
    }

    proptest! {
        /// Whatever the network does to each attempt, each download ends exactly once,
        /// after at most `retries + 1` attempts, with at most one failure line; a poem
        /// is exactly the bytes its last attempt carried before a clean close.
        #[test]
        fn with_retries_every_download_ends_once_within_its_attempts(
            actions in prop::collection::vec(action(), 0..60)
        ) {
            let options = GetPoetryOptions::new(vec![local(10000), local(10001), local(10002)])
                .timeout(SECOND)
                .retries(RETRIES)
                .retry_delay(Duration::from_millis(300));
            let mut reactor = MemoryReactor::new(GetPoetry::new(options));
            let mut sent: std::collections::BTreeMap<ConnId, Vec<u8>> = Default::default();
            for action in actions {
                let connects = reactor.tcp_clients().len();
                match action {
                    Action::Connect(k) => {
                        reactor.complete_connect(k % connects);
                    }
                    Action::Fail(k, error) => reactor.fail_connect(k % connects, error),
                    Action::Data(k) => {
                        let c = reactor.tcp_clients()[k % connects].conn;
                        if reactor.is_connected(c) {
                            reactor.data_received(c, b"line\n");
                            sent.entry(c).or_default().extend_from_slice(b"line\n");
                        }
                    }
                    Action::Close(k, reason) => {
                        let c = reactor.tcp_clients()[k % connects].conn;
                        if reactor.is_connected(c) {
                            reactor.connection_lost(c, reason);
                        }
                    }
                    Action::Advance(ms) => reactor.advance(Duration::from_millis(ms)),
                }
            }
            // Long enough for every remaining attempt to time out and be retried; in
            // steps, since timers set while the clock advances count from its new time.
            for _ in 0..100 {
                reactor.advance(Duration::from_millis(100));
            }
            let program = reactor.program();
            let results = program.results();
            let mut order = results.settle_order().to_vec();
            order.sort_unstable();
            prop_assert_eq!(order, vec![0, 1, 2]);
            for i in 0..3 {
                prop_assert!((1..=RETRIES + 1).contains(&program.attempts(i)));
                let failed = format!("Task {} failed", i + 1);
                let lines = reactor.lines(Stream::Stderr).iter().filter(|l| l.starts_with(&failed)).count();
                prop_assert_eq!(lines, usize::from(results.get(i).is_some_and(Result::is_err)));
                if let Some(Ok(poem)) = results.get(i) {
                    let last = program.conn(i).expect("connected");
                    let bytes = sent.get(&last).map_or(&[][..], Vec::as_slice);
                    prop_assert_eq!(poem.as_bytes(), bytes);
                }
            }
            prop_assert_eq!(reactor.tcp_clients().len() as u32, (0..3).map(|i| program.attempts(i)).sum::<u32>());
            let summaries = reactor.lines(Stream::Stdout).iter().filter(|l| l.starts_with("Got ")).count();
            prop_assert_eq!(summaries, 1);
            prop_assert_eq!(reactor.exit_code(), Some(if results.all_succeeded() { 0 } else { 1 }));
        }
    }
}
