//! The client ladder: each named version of get-poetry prints the text's lines, exits as
//! the text's client does, and handles failure as it does (on a memory reactor, so
//! every connect, read and close is the test's to order).

use std::time::Duration;

use weft::host::{ConnectError, HostPort, HostRng, Stream};
use weft::programs::poetry::{ClientVersion, GetPoetry, GetPoetryOptions};
use weft::testing::MemoryReactor;
use weft::transport::Disconnect;

fn addresses(ports: &[u16]) -> Vec<HostPort> {
    ports
        .iter()
        .map(|&p| HostPort::new("127.0.0.1", p))
        .collect()
}

fn client(version: ClientVersion, ports: &[u16]) -> MemoryReactor<GetPoetry> {
    let options = version.options(addresses(ports)).expect("enough addresses");
    MemoryReactor::new(GetPoetry::new(options))
}

#[test]
fn client_3_0_never_exits_when_a_server_refuses() {
    let mut reactor = client(ClientVersion::V3_0, &[10000, 10004]);
    let good = reactor.complete_connect(0);
    reactor.fail_connect(1, ConnectError::Refused);
    reactor.data_received(good, b"a poem\n");
    reactor.connection_lost(good, Disconnect::Clean);
    reactor.advance(Duration::from_secs(3600));
    assert_eq!(
        reactor.exit_code(),
        None,
        "3.0 has no errback: it waits forever"
    );
    assert!(
        reactor.output().is_empty(),
        "it prints the poems only once it stops: {:?}",
        reactor.output()
    );
    assert_eq!(reactor.next_deadline(), None, "and it waits on nothing");
}

#[test]
fn client_3_1_reports_the_failure_on_stderr_and_prints_the_poems_at_the_end() {
    let mut reactor = client(ClientVersion::V3_1, &[10000, 10004]);
    let good = reactor.complete_connect(0);
    reactor.fail_connect(1, ConnectError::Refused);
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["Poem failed: 127.0.0.1:10004: connection refused"]
    );
    assert!(reactor.lines(Stream::Stdout).is_empty());
    reactor.data_received(good, b"a poem\n");
    reactor.connection_lost(good, Disconnect::Clean);
    assert_eq!(reactor.lines(Stream::Stdout), ["a poem"]);
    assert_eq!(reactor.exit_code(), Some(0), "the reactor stops normally");
}

#[test]
fn clients_3_and_4_print_the_poems_in_the_order_they_were_completed() {
    for version in [
        ClientVersion::V3_0,
        ClientVersion::V3_1,
        ClientVersion::V4_0,
    ] {
        let mut reactor = client(version, &[10000, 10001]);
        let conns = [reactor.complete_connect(0), reactor.complete_connect(1)];
        reactor.data_received(conns[0], b"first\n");
        reactor.data_received(conns[1], b"second\n");
        reactor.connection_lost(conns[1], Disconnect::Clean);
        reactor.connection_lost(conns[0], Disconnect::Clean);
        assert_eq!(
            reactor.lines(Stream::Stdout),
            ["second", "first"],
            "{version}"
        );
        assert_eq!(reactor.exit_code(), Some(0), "{version}");
    }
}

#[test]
fn client_2_0_numbers_tasks_in_connection_order_and_counts_every_address() {
    let mut reactor = client(ClientVersion::V2_0, &[10000, 10004, 10002]);
    // The third address connects first; the second is refused and takes no number.
    let third = reactor.complete_connect(2);
    let first = reactor.complete_connect(0);
    reactor.fail_connect(1, ConnectError::Refused);
    reactor.data_received(first, b"0123456789");
    reactor.data_received(third, b"abc");
    reactor.connection_lost(third, Disconnect::Clean);
    reactor.connection_lost(first, Disconnect::Clean);
    let out = reactor.lines(Stream::Stdout);
    assert_eq!(out[0], "Failed to connect to: 127.0.0.1:10004");
    assert!(
        out[1].starts_with("Task 2: got 10 bytes of poetry from "),
        "{out:?}"
    );
    assert!(
        out[2].starts_with("Task 1: got 3 bytes of poetry from "),
        "{out:?}"
    );
    assert_eq!(
        &out[3..5],
        ["Task 1: 3 bytes of poetry", "Task 2: 10 bytes of poetry"]
    );
    assert!(out[5].starts_with("Got 3 poems in "), "{out:?}");
    assert_eq!(out.len(), 6, "no `finished` lines: {out:?}");
    assert!(reactor.lines(Stream::Stderr).is_empty());
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn client_2_1_says_failed_to_connect_and_prints_the_poems_at_the_end() {
    let mut reactor = client(ClientVersion::V2_1, &[10004, 10001]);
    reactor.fail_connect(0, ConnectError::Refused);
    let good = reactor.complete_connect(1);
    reactor.data_received(good, b"a poem\n");
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["Failed to connect to: 127.0.0.1:10004"]
    );
    reactor.connection_lost(good, Disconnect::Clean);
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["Failed to connect to: 127.0.0.1:10004", "a poem"]
    );
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn client_1_0_crashes_on_a_refused_connect() {
    let mut reactor = client(ClientVersion::V1_0, &[10000, 10004]);
    let good = reactor.complete_connect(0);
    reactor.data_received(good, b"some");
    reactor.fail_connect(1, ConnectError::Refused);
    assert_eq!(reactor.exit_code(), Some(1));
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["Traceback: the connect to 127.0.0.1:10004 raised an uncaught error: connection refused"]
    );
    assert!(
        !(reactor.lines(Stream::Stdout).iter()).any(|l| l.starts_with("Got ")),
        "it dies before its summary"
    );
}

#[test]
fn client_1_0_prints_the_part_2_lines() {
    let mut reactor = client(ClientVersion::V1_0, &[10000]);
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"0123456789");
    reactor.connection_lost(conn, Disconnect::Clean);
    let out = reactor.lines(Stream::Stdout);
    assert!(
        out[0].starts_with("Task 1: got 10 bytes of poetry from "),
        "{out:?}"
    );
    assert_eq!(out[1..3], ["Task 1 finished", "Task 1: 10 bytes of poetry"]);
    assert!(out[3].starts_with("Got 1 poems in "), "{out:?}");
}

#[test]
fn a_poem_cut_short_is_a_poem_for_every_version_but_not_for_plain_get_poetry() {
    for version in [
        ClientVersion::V1_0,
        ClientVersion::V2_0,
        ClientVersion::V2_1,
        ClientVersion::V3_0,
        ClientVersion::V3_1,
        ClientVersion::V4_0,
    ] {
        let mut reactor = client(version, &[10000]);
        let conn = reactor.complete_connect(0);
        reactor.data_received(conn, b"half a po");
        reactor.connection_lost(conn, Disconnect::Reset);
        let poem = reactor.program().results().get(0).cloned();
        assert_eq!(
            poem.map(|r| r.map(|p| p.as_bytes().to_vec())),
            Some(Ok(b"half a po".to_vec())),
            "{version}"
        );
        assert_eq!(reactor.exit_code(), Some(0), "{version}");
    }
    let strict = GetPoetryOptions::new(addresses(&[10000]));
    let mut reactor = MemoryReactor::new(GetPoetry::new(strict));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"half a po");
    reactor.connection_lost(conn, Disconnect::Reset);
    assert!(matches!(reactor.program().results().get(0), Some(Err(_))));
    assert_eq!(reactor.exit_code(), Some(1));
}

/// Client 5.0 on `poems` servers with the host's random source seeded by `seed`:
/// stdout and stderr.
fn client_5(version: ClientVersion, seed: u64, poems: usize) -> (Vec<String>, Vec<String>) {
    let ports: Vec<u16> = (0..poems).map(|i| 10000 + i as u16).collect();
    let options = version.options(addresses(&ports)).unwrap();
    let mut reactor = MemoryReactor::with_rng(GetPoetry::new(options), HostRng::new(seed, 0));
    for i in 0..poems {
        let conn = reactor.complete_connect(i);
        reactor.data_received(conn, b"A Poem\n");
        reactor.connection_lost(conn, Disconnect::Clean);
    }
    assert_eq!(reactor.exit_code(), Some(0), "{version}");
    let lines = |stream| {
        (reactor.lines(stream).into_iter())
            .map(str::to_owned)
            .collect()
    };
    (lines(Stream::Stdout), lines(Stream::Stderr))
}

#[test]
fn clients_5_x_meet_each_of_cummingsifys_three_fates_and_print_as_the_text_does() {
    for version in [ClientVersion::V5_0, ClientVersion::V5_1] {
        let (out, err) = client_5(version, 1, 30);
        let lowered = out.iter().filter(|l| *l == "a poem").count();
        let kept = out.iter().filter(|l| *l == "A Poem").count();
        let bugs = out.iter().filter(|l| *l == "Cummingsify failed!").count();
        let gibberish = err.len();
        assert!(
            lowered > 0 && kept > 0 && gibberish > 0,
            "{version}: {out:?} {err:?}"
        );
        assert_eq!(kept, bugs, "a bug keeps the original poem, after saying so");
        assert_eq!(lowered + kept + gibberish, 30);
        assert!(
            err.iter().all(|l| l == "The poem download failed."),
            "{err:?}"
        );
        // The line comes just before the original poem it kept.
        for (i, line) in out.iter().enumerate() {
            if line == "Cummingsify failed!" {
                assert_eq!(out[i + 1], "A Poem");
            }
        }
    }
}

#[test]
fn clients_5_x_draw_their_fates_from_the_seed() {
    assert_eq!(
        client_5(ClientVersion::V5_0, 7, 12),
        client_5(ClientVersion::V5_0, 7, 12)
    );
    assert_ne!(
        client_5(ClientVersion::V5_0, 7, 12),
        client_5(ClientVersion::V5_0, 8, 12)
    );
}

#[test]
fn client_6_0_reports_a_failed_download_tersely_and_exits_zero() {
    let options = ClientVersion::V6_0
        .options(addresses(&[11000, 10004]))
        .unwrap();
    let mut reactor = MemoryReactor::new(GetPoetry::new(options));
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(reactor.lines(Stream::Stderr), ["The poem download failed."]);
    assert_eq!(reactor.exit_code(), Some(0));
}

/// A scenario of `version` against one live server and one dead port, expecting the
/// client still running at the end.
fn expecting_a_hang(version: &str) -> weft::scenario::Outcome {
    let text = format!(
        r#"
duration = "60s"
[[hosts]]
name = "poet"
program = "fast-poetry"
options = {{ port = 10000 }}
[[hosts]]
name = "client"
program = "get-poetry-{version}"
options = {{ addresses = ["poet:10000", "poet:10004"] }}
[expect]
running = ["client"]
"#
    );
    let catalogue = weft::programs::catalogue();
    let scenario = weft::scenario::Scenario::parse("hang", &text, &catalogue).unwrap();
    scenario.run(&catalogue, 1).unwrap()
}

#[test]
fn expecting_a_host_still_running_passes_for_3_0_and_fails_for_3_1_which_exits() {
    assert!(expecting_a_hang("3.0").passed());
    let fixed = expecting_a_hang("3.1");
    assert_eq!(
        fixed.failures,
        ["client exited with 0, expected it still running after 60s"]
    );
}
