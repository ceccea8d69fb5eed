//! get-poetry: the Part 2 timings in virtual time (SimNet with zero latency), results in
//! input order, per-server failures, timeouts, refusals and truncation; every download
//! ends exactly once.

mod common;

use std::time::Duration;

use common::poetry::{TENTH, at, boxed, get_poetry, instant_net, slow_server, stdout_ending_with};
use weft::host::{ConnectError, HostPort, Stream};
use weft::programs::poetry::poems::{CLOCK, LOOM, TEN_BYTES};
use weft::programs::poetry::{
    Failure, GetPoetry, GetPoetryOptions, Pace, Poem, ReportStyle, SerialPoetryServer,
    TruncationPolicy,
};
use weft::simnet::{Fault, SimNet};
use weft::testing::MemoryReactor;
use weft::time::Instant;
use weft::transport::Disconnect;

fn addr(port: u16) -> HostPort {
    HostPort::new("127.0.0.1", port)
}

fn servers(ports: &[u16]) -> Vec<HostPort> {
    ports.iter().map(|&p| addr(p)).collect()
}

/// The three servers of Part 2, on hosts 10.0.0.1 to 10.0.0.3: 3,003 B at 30 B, 623 B
/// and 653 B at 10 B, every 0.1 s.
fn part2_servers(net: &mut SimNet) -> Vec<HostPort> {
    net.add_host("ecstasy", || boxed(slow_server(LOOM, 30, 10000)));
    net.add_host("fascination", || boxed(slow_server(TEN_BYTES, 10, 10001)));
    net.add_host("science", || boxed(slow_server(CLOCK, 10, 10002)));
    vec![at(1, 10000), at(2, 10001), at(3, 10002)]
}

/// Adds get-poetry as host "client" and runs it to its exit; returns the status.
fn run_client(net: &mut SimNet, options: GetPoetryOptions) -> Option<i32> {
    net.add_host("client", move || boxed(GetPoetry::new(options.clone())));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(3600)));
    net.exit_code("client")
}

#[test]
fn concurrent_download_from_three_slow_servers_takes_the_longest() {
    let mut net = instant_net();
    let servers = part2_servers(&mut net);
    let code = run_client(&mut net, GetPoetryOptions::new(servers));
    assert_eq!(code, Some(0));
    let program = get_poetry(&net, "client");
    assert_eq!(program.finished_at(), Some(Instant::from_millis(10_100)));
    let out = net.lines("client", Stream::Stdout);
    assert_eq!(
        &out[..3],
        [
            "Task 1: got 30 bytes of poetry from 10.0.0.1:10000",
            "Task 2: got 10 bytes of poetry from 10.0.0.2:10001",
            "Task 3: got 10 bytes of poetry from 10.0.0.3:10002",
        ]
    );
    assert_eq!(
        &out[out.len() - 4..],
        [
            "Task 1: 3003 bytes of poetry",
            "Task 2: 623 bytes of poetry",
            "Task 3: 653 bytes of poetry",
            "Got 3 poems in 0:00:10.100000",
        ]
    );
    let chunk_lines = |task: &str| {
        out.iter()
            .filter(|l| l.starts_with(task) && l.contains("got"))
            .count()
    };
    assert_eq!(
        [
            chunk_lines("Task 1:"),
            chunk_lines("Task 2:"),
            chunk_lines("Task 3:")
        ],
        [101, 63, 66]
    );
    assert_eq!(
        stdout_ending_with(&net, "client", "finished"),
        [
            ("Task 2 finished".to_owned(), Instant::from_millis(6_300)),
            ("Task 3 finished".to_owned(), Instant::from_millis(6_600)),
            ("Task 1 finished".to_owned(), Instant::from_millis(10_100)),
        ]
    );
    assert_eq!(program.results().settle_order(), [1, 2, 0]);
}

#[test]
fn sequential_download_from_three_slow_servers_takes_the_sum() {
    let mut net = instant_net();
    let servers = part2_servers(&mut net);
    let options = GetPoetryOptions::new(servers)
        .sequential()
        .report(ReportStyle::Blocking);
    let code = run_client(&mut net, options);
    assert_eq!(code, Some(0));
    assert_eq!(
        net.lines("client", Stream::Stdout),
        [
            "Task 1: get poetry from: 10.0.0.1:10000",
            "Task 1: got 3003 bytes of poetry from 10.0.0.1:10000 in 0:00:10.100000",
            "Task 2: get poetry from: 10.0.0.2:10001",
            "Task 2: got 623 bytes of poetry from 10.0.0.2:10001 in 0:00:06.300000",
            "Task 3: get poetry from: 10.0.0.3:10002",
            "Task 3: got 653 bytes of poetry from 10.0.0.3:10002 in 0:00:06.600000",
            "Got 3 poems in 0:00:23",
        ]
    );
    assert_eq!(net.now(), Instant::from_millis(23_000));
}

/// When each of three downloads from the one server (host 1, port 10000) finished.
fn finish_times_of_three_clients(net: &mut SimNet) -> Vec<Instant> {
    let code = run_client(net, GetPoetryOptions::new(vec![at(1, 10000); 3]));
    assert_eq!(code, Some(0));
    assert!(get_poetry(net, "client").results().all_succeeded());
    stdout_ending_with(net, "client", "finished")
        .into_iter()
        .map(|(_, at)| at)
        .collect()
}

#[test]
fn serial_server_serves_one_client_at_a_time_so_the_total_is_the_sum() {
    let mut net = instant_net();
    net.add_host("blocking", || {
        boxed(SerialPoetryServer::new(
            HostPort::new("0.0.0.0", 10000),
            Poem::from(TEN_BYTES),
            Pace::new(10, TENTH),
        ))
    });
    let times = finish_times_of_three_clients(&mut net);
    assert_eq!(
        times,
        [6_300, 12_600, 18_900].map(Instant::from_millis),
        "each client waits for the one before"
    );
    let server = net
        .program::<SerialPoetryServer>("blocking")
        .expect("serial server");
    assert_eq!(server.served().len(), 3);
    assert_eq!(
        net.lines("blocking", Stream::Stdout),
        ["Serving poetry on port 10000."]
    );
}

#[test]
fn slow_server_serves_clients_at_once_so_the_total_is_the_longest() {
    let mut net = instant_net();
    net.add_host("slow", || boxed(slow_server(TEN_BYTES, 10, 10000)));
    let times = finish_times_of_three_clients(&mut net);
    assert_eq!(times, [Instant::from_millis(6_300); 3]);
}

#[test]
fn results_keep_input_order_when_servers_finish_in_another() {
    let options =
        GetPoetryOptions::new(servers(&[10000, 10001, 10002])).report(ReportStyle::InOrderAtEnd);
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let conns: Vec<_> = (0..3).map(|i| reactor.complete_connect(i)).collect();
    for (conn, text) in conns.iter().zip(["first\n", "second\n", "third\n"]) {
        reactor.data_received(*conn, text.as_bytes());
    }
    reactor.connection_lost(conns[2], Disconnect::Clean);
    reactor.connection_lost(conns[0], Disconnect::Clean);
    assert!(
        reactor.output().is_empty(),
        "nothing is printed until every download has ended"
    );
    reactor.connection_lost(conns[1], Disconnect::Clean);
    assert_eq!(reactor.lines(Stream::Stdout), ["first", "second", "third"]);
    assert_eq!(reactor.program().results().settle_order(), [2, 0, 1]);
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn a_refused_server_fails_alone_and_is_named_by_address() {
    let options = GetPoetryOptions::new(servers(&[10000, 10004])).report(ReportStyle::AsArrived);
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let good = reactor.complete_connect(0);
    reactor.fail_connect(1, ConnectError::Refused);
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["The poem download failed: 127.0.0.1:10004: connection refused"]
    );
    assert_eq!(reactor.exit_code(), None, "the other download goes on");
    reactor.data_received(good, b"a poem\n");
    reactor.connection_lost(good, Disconnect::Clean);
    assert_eq!(reactor.lines(Stream::Stdout), ["a poem"]);
    assert_eq!(reactor.exit_code(), Some(1), "not every poem arrived");
    let results = reactor.program().results();
    assert!(results.get(0).is_some_and(Result::is_ok));
    let error = results
        .get(1)
        .and_then(|r| r.as_ref().err())
        .expect("failure");
    assert_eq!(error.server, addr(10004));
    assert_eq!(error.failure, Failure::Connect(ConnectError::Refused));
}

#[test]
fn a_refusal_is_reported_on_a_later_turn_than_the_connect() {
    let mut reactor = MemoryReactor::new(GetPoetry::new(GetPoetryOptions::new(servers(&[10004]))));
    // The connect call has returned and the program is idle: nothing is settled yet.
    assert_eq!(reactor.tcp_clients().len(), 1);
    assert_eq!(reactor.program().results().pending(), 1);
    assert!(reactor.output().is_empty());
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["Task 1 failed: 127.0.0.1:10004: connection refused"]
    );
    assert_eq!(reactor.lines(Stream::Stdout), ["Got 0 poems in 0:00:00"]);
    assert_eq!(reactor.exit_code(), Some(1));
}

#[test]
fn a_timeout_closes_the_connection_cleanly_and_reports_the_server() {
    let options = GetPoetryOptions::new(servers(&[10000])).timeout(Duration::from_secs(5));
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"only the first li");
    reactor.advance(Duration::from_millis(4_999));
    assert!(reactor.is_connected(conn));
    reactor.advance(Duration::from_millis(1));
    // As the originals' `connector.disconnect()`: end-of-stream, not a reset.
    assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["Task 1 failed: 127.0.0.1:10000: timed out after 0:00:05"]
    );
    assert_eq!(reactor.exit_code(), Some(1));
    let program = reactor.program();
    assert_eq!(program.results().settle_order(), [0]);
    assert_eq!(
        program.late_events(),
        1,
        "the close's connection_lost was ignored"
    );
}

#[test]
fn a_timeout_while_connecting_withdraws_the_connect() {
    let options = GetPoetryOptions::new(servers(&[10000])).timeout(Duration::from_secs(5));
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    reactor.advance(Duration::from_secs(5));
    let conn = reactor.program().conn(0).expect("connect issued");
    assert_eq!(reactor.cancelled_connects(), [conn]);
    assert_eq!(reactor.exit_code(), Some(1));
    // A driver that completes the connect anyway gets no new download.
    reactor.complete_connect(0);
    assert!(!reactor.is_connected(conn));
    assert_eq!(reactor.program().results().settle_order(), [0]);
}

#[test]
fn a_poem_that_arrives_in_time_cancels_its_timeout() {
    let options = GetPoetryOptions::new(servers(&[10000])).timeout(Duration::from_secs(5));
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"short\n");
    reactor.advance(Duration::from_millis(4_999));
    reactor.connection_lost(conn, Disconnect::Clean);
    assert_eq!(reactor.next_deadline(), None, "timeout cancelled");
    reactor.advance(Duration::from_secs(10));
    assert_eq!(reactor.exit_code(), Some(0));
    assert_eq!(reactor.program().late_events(), 0);
    assert!(reactor.lines(Stream::Stderr).is_empty());
}

/// A network whose slow server ("abcdefghij", 5 bytes a tick) closes at exactly 0.2 s
/// while the client's timeout is 0.2 s; the server is added before or after the client.
fn racing_net(server_first: bool, truncation: TruncationPolicy) -> SimNet {
    let mut net = instant_net();
    let server = at(if server_first { 1 } else { 2 }, 10000);
    let options = GetPoetryOptions::new(vec![server])
        .timeout(Duration::from_millis(200))
        .truncation(truncation)
        .report(ReportStyle::Quiet);
    let add_server = |net: &mut SimNet| {
        net.add_host("server", || boxed(slow_server("abcdefghij", 5, 10000)));
    };
    if server_first {
        add_server(&mut net);
    }
    net.add_host("client", move || boxed(GetPoetry::new(options.clone())));
    if !server_first {
        add_server(&mut net);
    }
    net
}

/// SimNet runs the events of one instant in the order they were scheduled. The
/// client's timeout (set at the connect) was scheduled before the server's close at
/// 0.2 s (set at its 0.1 s tick), so the timeout wins, whichever host came first; the
/// close is then never seen by the program, which has exited.
#[test]
fn a_timeout_at_the_instant_of_the_close_wins_and_ends_the_download_once() {
    for server_first in [true, false] {
        let mut net = racing_net(server_first, TruncationPolicy::Reject);
        net.run_for(Duration::from_secs(1));
        let program = get_poetry(&net, "client");
        let results = program.results();
        assert_eq!(results.settle_order(), [0], "server first: {server_first}");
        let failure = results
            .get(0)
            .cloned()
            .and_then(Result::err)
            .map(|e| e.failure);
        assert_eq!(failure, Some(Failure::TimedOut(Duration::from_millis(200))));
        assert_eq!(program.finished_at(), Some(Instant::from_millis(200)));
        assert_eq!(net.exit_code("client"), Some(1));
    }
}

/// The other order: a reset scheduled before the run lands at 0.2 s ahead of the
/// client's timeout. With truncated poems accepted, the ten bytes are the poem, the
/// timeout is cancelled and never fires.
#[test]
fn a_close_at_the_instant_of_the_timeout_wins_and_cancels_it() {
    for server_first in [true, false] {
        let mut net = racing_net(server_first, TruncationPolicy::Accept);
        net.add_fault(Fault::at(Duration::from_millis(200)).reset("server"));
        net.run_for(Duration::from_secs(1));
        let program = get_poetry(&net, "client");
        let results = program.results();
        assert_eq!(results.settle_order(), [0], "server first: {server_first}");
        let poem = results.get(0).cloned().and_then(Result::ok);
        assert_eq!(
            poem.map(|p| p.as_bytes().to_vec()),
            Some(b"abcdefghij".to_vec())
        );
        assert_eq!(program.finished_at(), Some(Instant::from_millis(200)));
        assert_eq!(program.late_events(), 0, "the timeout never fired");
        assert_eq!(net.exit_code("client"), Some(0));
    }
}

#[test]
fn a_reset_mid_poem_is_a_failure_unless_truncation_is_accepted() {
    for policy in [TruncationPolicy::Reject, TruncationPolicy::Accept] {
        let options = GetPoetryOptions::new(servers(&[10000])).truncation(policy);
        let mut reactor = MemoryReactor::new(GetPoetry::new(options));
        let conn = reactor.complete_connect(0);
        reactor.data_received(conn, b"half a po");
        reactor.connection_lost(conn, Disconnect::Reset);
        let result = reactor
            .program()
            .results()
            .get(0)
            .cloned()
            .expect("settled");
        match policy {
            TruncationPolicy::Reject => {
                let error = result.expect_err("truncated");
                assert_eq!(
                    error.to_string(),
                    "127.0.0.1:10000: poem truncated after 9 bytes: connection was reset by the peer"
                );
                assert_eq!(reactor.exit_code(), Some(1));
            }
            TruncationPolicy::Accept => {
                assert_eq!(result.expect("accepted").as_bytes(), b"half a po");
                assert_eq!(reactor.exit_code(), Some(0));
            }
        }
    }
}

#[test]
fn a_server_crash_mid_poem_truncates_the_download() {
    let mut net = instant_net();
    net.add_host("server", || boxed(slow_server(LOOM, 30, 10000)));
    let options = GetPoetryOptions::new(vec![at(1, 10000)]).report(ReportStyle::Quiet);
    net.add_host("client", move || boxed(GetPoetry::new(options.clone())));
    net.add_fault(Fault::at(Duration::from_millis(1_050)).reset("server"));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(60)));
    assert_eq!(net.exit_code("client"), Some(1));
    assert_eq!(net.now(), Instant::from_millis(1_050));
    let error = get_poetry(&net, "client").results().get(0).cloned();
    assert_eq!(
        error.and_then(Result::err).map(|e| e.failure),
        Some(Failure::Truncated {
            bytes: 330,
            reason: Disconnect::Reset
        })
    );
}

#[test]
fn no_servers_means_no_poems_and_success() {
    let reactor = MemoryReactor::new(GetPoetry::new(GetPoetryOptions::new(Vec::new())));
    assert_eq!(reactor.lines(Stream::Stdout), ["Got 0 poems in 0:00:00"]);
    assert_eq!(reactor.exit_code(), Some(0));
}

mod any_schedule {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Action {
        Connect(usize),
        Refuse(usize),
        Data(usize),
        Close(usize, Disconnect),
        Advance(u64),
    }

    fn action() -> impl Strategy<Value = Action> {
        let reason = prop_oneof![
            Just(Disconnect::Clean),
            Just(Disconnect::Reset),
            Just(Disconnect::TimedOut)
        ];
        prop_oneof![
            (0..3usize).prop_map(Action::Connect),
            (0..3usize).prop_map(Action::Refuse),
            (0..3usize).prop_map(Action::Data),
            ((0..3usize), reason).prop_map(|(i, r)| Action::Close(i, r)),
            (0..700u64).prop_map(Action::Advance),
        ]
    }

    proptest! {
        /// Whatever the network does, and in whatever order, each download ends exactly
        /// once, the program exits once every one has, and a poem is exactly the bytes
        /// its connection carried before a clean close.
        #[test]
        fn every_download_ends_exactly_once(actions in prop::collection::vec(action(), 0..40)) {
            let options = GetPoetryOptions::new(servers(&[10000, 10001, 10002]))
                .timeout(Duration::from_secs(1));
            let mut reactor = MemoryReactor::new(GetPoetry::new(options));
            let mut sent: [Vec<u8>; 3] = Default::default();
            for action in actions {
                let conn = |r: &MemoryReactor<GetPoetry>, i: usize| r.program().conn(i);
                match action {
                    Action::Connect(i) => {
                        reactor.complete_connect(i);
                    }
                    Action::Refuse(i) => reactor.fail_connect(i, ConnectError::Refused),
                    Action::Data(i) => {
                        if let Some(c) = conn(&reactor, i).filter(|&c| reactor.is_connected(c)) {
                            reactor.data_received(c, b"line\n");
                            sent[i].extend_from_slice(b"line\n");
                        }
                    }
                    Action::Close(i, reason) => {
                        if let Some(c) = conn(&reactor, i) {
                            reactor.connection_lost(c, reason);
                        }
                    }
                    Action::Advance(ms) => reactor.advance(Duration::from_millis(ms)),
                }
            }
            reactor.advance(Duration::from_secs(2));
            let results = reactor.program().results();
            let mut order = results.settle_order().to_vec();
            order.sort_unstable();
            prop_assert_eq!(order, vec![0, 1, 2]);
            let summaries = reactor.lines(Stream::Stdout).iter().filter(|l| l.starts_with("Got ")).count();
            prop_assert_eq!(summaries, 1);
            let all_ok = results.all_succeeded();
            prop_assert_eq!(reactor.exit_code(), Some(if all_ok { 0 } else { 1 }));
            for (i, bytes) in sent.iter().enumerate() {
                if let Some(Ok(poem)) = results.get(i) {
                    prop_assert_eq!(poem.as_bytes(), bytes.as_slice());
                }
            }
        }
    }
}
