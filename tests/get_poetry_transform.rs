//! get-poetry's transform stage (clients 6.0 to 8.0): each poem goes to the transform
//! server for `cummingsify`; a failed transform prints `Cummingsify failed!` on stderr
//! and keeps the original poem; results keep input order and every download ends once.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::poetry::{at, boxed, get_poetry, instant_net, slow_server};
use weft::codec::netstring;
use weft::host::{ConnectError, FactoryProgram, HostPort, Stream};
use weft::programs::poetry::poems::LOOM;
use weft::programs::poetry::{
    DEFAULT_TRANSFORM_TIMEOUT, FastPoetryFactory, GetPoetry, GetPoetryOptions, Poem, ReportStyle,
    TransformStepError,
};
use weft::programs::transform::{TransformError, TransformFactory, TransformService};
use weft::protocol::{Context, Factory, NoTimer, Protocol};
use weft::simnet::SimNet;
use weft::testing::MemoryReactor;
use weft::time::Instant;
use weft::transport::Disconnect;

const XFORM_PORT: u16 = 11000;
const SHOUT: &str = "HERE IS MY POEM\nIT IS LOUD\n";
const YELL: &str = "AND HERE IS ANOTHER\n";

fn fast_server(poem: &'static str, port: u16) -> FactoryProgram<FastPoetryFactory> {
    FactoryProgram::new(FastPoetryFactory::new(Poem::from(poem)))
        .listen(HostPort::new("0.0.0.0", port))
}

fn transform_server(factory: TransformFactory) -> FactoryProgram<TransformFactory> {
    FactoryProgram::new(factory).listen(HostPort::new("0.0.0.0", XFORM_PORT))
}

/// A server that accepts and never says anything.
#[derive(Clone, Copy)]
struct Silent;

impl Protocol for Silent {
    type Timer = NoTimer;
    fn data_received(&mut self, _cx: &mut Context<'_, NoTimer>, _data: &[u8]) {}
}

impl Factory for Silent {
    type Protocol = Self;
    fn build_protocol(&mut self, _peer: SocketAddr) -> Self {
        Self
    }
}

/// Host 1 is the transform server (or nothing listening, if `xform` is `None`); hosts
/// 2 and 3 serve [`SHOUT`] and [`YELL`]; the client is added by [`run`].
fn net_with(xform: Option<TransformFactory>) -> SimNet {
    let mut net = instant_net();
    net.add_host("xform", move || match &xform {
        Some(factory) => boxed(transform_server(factory.clone())),
        None => boxed(FactoryProgram::new(Silent)),
    });
    net.add_host("shout", || boxed(fast_server(SHOUT, 10000)));
    net.add_host("yell", || boxed(fast_server(YELL, 10001)));
    net
}

fn two_poems() -> GetPoetryOptions {
    GetPoetryOptions::new(vec![at(2, 10000), at(3, 10001)]).transform(at(1, XFORM_PORT))
}

fn run(net: &mut SimNet, options: GetPoetryOptions) -> Option<i32> {
    net.add_host("client", move || boxed(GetPoetry::new(options.clone())));
    assert!(net.run_until_exit(&["client"], Duration::from_secs(600)));
    net.exit_code("client")
}

fn poems(net: &SimNet) -> Vec<Vec<u8>> {
    let results = get_poetry(net, "client").results();
    (0..results.len())
        .map(|i| {
            let poem = results
                .get(i)
                .and_then(|r| r.as_ref().ok())
                .expect("a poem");
            poem.as_bytes().to_vec()
        })
        .collect()
}

fn lower(text: &str) -> Vec<u8> {
    text.to_ascii_lowercase().into_bytes()
}

#[test]
fn a_transformed_poem_is_the_result_lower_cased() {
    let mut net = net_with(Some(TransformFactory::default()));
    let code = run(&mut net, two_poems().report(ReportStyle::AsArrived));
    assert_eq!(code, Some(0));
    assert_eq!(poems(&net), [lower(SHOUT), lower(YELL)]);
    assert_eq!(
        net.lines("client", Stream::Stdout),
        ["here is my poem", "it is loud", "and here is another"]
    );
    assert!(net.lines("client", Stream::Stderr).is_empty());
    let client = get_poetry(&net, "client");
    assert_eq!(client.transform_error(0), None);
    assert_eq!(client.transform_error(1), None);
}

#[test]
fn a_refused_transform_prints_cummingsify_failed_and_keeps_the_original_poem() {
    // Host 1 runs a program that listens nowhere: the transform connect is refused.
    let mut net = net_with(None);
    let code = run(&mut net, two_poems().report(ReportStyle::AsArrived));
    assert_eq!(
        code,
        Some(0),
        "a poem with a failed transform is still a poem"
    );
    assert_eq!(poems(&net), [SHOUT.as_bytes(), YELL.as_bytes()]);
    assert_eq!(
        net.lines("client", Stream::Stderr),
        ["Cummingsify failed!", "Cummingsify failed!"]
    );
    assert_eq!(
        net.lines("client", Stream::Stdout),
        ["HERE IS MY POEM", "IT IS LOUD", "AND HERE IS ANOTHER"]
    );
    let refused = TransformStepError::Request(TransformError::ConnectFailed(ConnectError::Refused));
    assert_eq!(
        get_poetry(&net, "client").transform_error(0),
        Some(&refused)
    );
}

#[test]
fn a_transform_server_that_closes_without_a_reply_falls_back_to_the_original() {
    // A server with no transforms closes every request without a reply.
    let mut net = net_with(Some(TransformFactory::new(TransformService::empty())));
    let code = run(&mut net, two_poems().report(ReportStyle::AsArrived));
    assert_eq!(code, Some(0));
    assert_eq!(poems(&net), [SHOUT.as_bytes(), YELL.as_bytes()]);
    assert_eq!(net.lines("client", Stream::Stderr).len(), 2);
    let no_reply = TransformStepError::Request(TransformError::NoReply);
    let client = get_poetry(&net, "client");
    assert_eq!(client.transform_error(0), Some(&no_reply));
    assert_eq!(client.transform_error(1), Some(&no_reply));
}

/// Three poems; the transform server takes requests of at most 100 bytes, so the 3,003
/// bytes of the second poem are refused (no reply) while the others are transformed.
#[test]
fn when_one_of_three_transforms_fails_only_that_poem_keeps_its_case() {
    let mut net = net_with(Some(TransformFactory::default().with_max_length(100)));
    net.add_host("loom", || boxed(fast_server(LOOM, 10002)));
    let options = GetPoetryOptions::new(vec![at(2, 10000), at(4, 10002), at(3, 10001)])
        .transform(at(1, XFORM_PORT))
        .report(ReportStyle::InOrderAtEnd);
    let code = run(&mut net, options);
    assert_eq!(code, Some(0));
    assert_eq!(
        poems(&net),
        [lower(SHOUT), LOOM.as_bytes().to_vec(), lower(YELL)]
    );
    assert_eq!(net.lines("client", Stream::Stderr), ["Cummingsify failed!"]);
    let out = net.lines("client", Stream::Stdout);
    assert_eq!(out[..2], ["here is my poem", "it is loud"]);
    assert_eq!(out[2], "The Loom of Wires");
    assert_eq!(out.last(), Some(&"and here is another"));
    let client = get_poetry(&net, "client");
    assert!(matches!(
        client.transform_error(1),
        Some(TransformStepError::Request(TransformError::NoReply))
    ));
    assert_eq!(client.transform_error(0), None);
    assert_eq!(client.transform_error(2), None);
}

/// The download limit is 3 s and the transform's is 2 s. The poem (25 bytes, one a
/// tick) takes 2.5 s, in time; the silent transform server then costs 2 s more, and
/// the original poem is used at 4.5 s: the download's limit ended with the poem (it
/// did not fail it at 3 s), and the transform's started afresh.
#[test]
fn a_timeout_during_the_transform_stage_keeps_the_original_poem() {
    let mut net = net_with(None);
    net.add_host("slow", || {
        boxed(slow_server("ABCDEFGHIJKLMNOPQRSTUVWX\n", 1, 10003))
    });
    net.add_host("mute", || {
        boxed(FactoryProgram::new(Silent).listen(HostPort::new("0.0.0.0", XFORM_PORT)))
    });
    let options = GetPoetryOptions::new(vec![at(4, 10003)])
        .transform(at(5, XFORM_PORT))
        .timeout(Duration::from_secs(3))
        .transform_timeout(Duration::from_secs(2))
        .report(ReportStyle::AsArrived);
    let code = run(&mut net, options);
    assert_eq!(code, Some(0));
    let client = get_poetry(&net, "client");
    assert_eq!(client.finished_at(), Some(Instant::from_millis(4_500)));
    assert_eq!(
        client.transform_error(0),
        Some(&TransformStepError::TimedOut(Duration::from_secs(2)))
    );
    assert_eq!(poems(&net), [b"ABCDEFGHIJKLMNOPQRSTUVWX\n".to_vec()]);
    assert_eq!(net.lines("client", Stream::Stderr), ["Cummingsify failed!"]);
}

#[test]
fn without_a_transform_server_the_step_is_skipped() {
    let mut net = net_with(Some(TransformFactory::default()));
    let options = GetPoetryOptions::new(vec![at(2, 10000)]).report(ReportStyle::AsArrived);
    assert_eq!(run(&mut net, options), Some(0));
    assert_eq!(poems(&net), [SHOUT.as_bytes()]);
    assert_eq!(get_poetry(&net, "client").transform_conn(0), None);
}

#[test]
fn xform_addresses_put_the_transform_server_first() {
    let addresses: Vec<HostPort> = ["10001", "10002", "10003"]
        .iter()
        .map(|a| a.parse().expect("address"))
        .collect();
    let options = GetPoetryOptions::from_xform_addresses(&addresses).expect("enough");
    assert_eq!(options.transform, Some(HostPort::new("127.0.0.1", 10001)));
    assert_eq!(options.servers, addresses[1..]);
    assert_eq!(options.transform_name, "cummingsify");
    assert!(GetPoetryOptions::from_xform_addresses(&addresses[..1]).is_none());
}

// ---- one event at a time --------------------------------------------------------

/// A reactor running get-poetry with one poetry server and the transform server at
/// 10.0.0.9:11000; connect 0 is the poem's, connect 1 (once the poem is in) the
/// transform's.
fn reactor(options: GetPoetryOptions) -> MemoryReactor<GetPoetry> {
    MemoryReactor::new(GetPoetry::new(
        options.transform(HostPort::new("10.0.0.9", XFORM_PORT)),
    ))
}

fn one_poem() -> GetPoetryOptions {
    GetPoetryOptions::new(vec![HostPort::new("10.0.0.2", 10000)]).report(ReportStyle::AsArrived)
}

/// Delivers `poem` on download `i` (connect `index`) and closes it cleanly.
fn deliver(reactor: &mut MemoryReactor<GetPoetry>, index: usize, poem: &[u8]) {
    let conn = reactor.complete_connect(index);
    reactor.data_received(conn, poem);
    reactor.connection_lost(conn, Disconnect::Clean);
}

#[test]
fn the_request_is_one_netstring_naming_the_transform_and_the_reply_closes_it() {
    let mut reactor = reactor(one_poem());
    deliver(&mut reactor, 0, b"HI.\n");
    assert_eq!(reactor.tcp_clients().len(), 2, "a transform connect is out");
    assert_eq!(reactor.tcp_clients()[1].host, "10.0.0.9");
    assert_eq!(reactor.tcp_clients()[1].port, XFORM_PORT);
    assert!(reactor.program().is_transforming(0));
    assert_eq!(
        reactor.exit_code(),
        None,
        "the poem waits for its transform"
    );
    let xform = reactor.complete_connect(1);
    assert_eq!(reactor.value(xform), b"16:cummingsify.HI.\n,");
    reactor.data_received(xform, &netstring::encode(b"hi.\n"));
    assert_eq!(
        reactor.lost(xform),
        Some(Disconnect::Clean),
        "the client closes"
    );
    assert_eq!(reactor.lines(Stream::Stdout), ["hi."]);
    assert_eq!(reactor.exit_code(), Some(0));
    assert_eq!(reactor.program().late_events(), 0);
}

#[test]
fn a_chosen_transform_is_asked_for_by_name_and_named_when_it_fails() {
    let mut reactor = reactor(one_poem().transform_name("rot13"));
    deliver(&mut reactor, 0, b"abc");
    let xform = reactor.complete_connect(1);
    assert_eq!(reactor.value(xform), b"9:rot13.abc,");
    reactor.connection_lost(xform, Disconnect::Clean);
    assert_eq!(reactor.lines(Stream::Stderr), ["Rot13 failed!"]);
    assert_eq!(reactor.lines(Stream::Stdout), ["abc"]);
}

#[test]
fn a_reset_partway_through_the_reply_falls_back_to_the_original() {
    let mut reactor = reactor(one_poem());
    deliver(&mut reactor, 0, b"POEM\n");
    let xform = reactor.complete_connect(1);
    reactor.data_received(xform, b"5:po");
    assert!(reactor.program().is_transforming(0));
    reactor.connection_lost(xform, Disconnect::Reset);
    assert_eq!(reactor.lines(Stream::Stderr), ["Cummingsify failed!"]);
    assert_eq!(reactor.lines(Stream::Stdout), ["POEM"]);
    assert_eq!(
        reactor.program().transform_error(0),
        Some(&TransformStepError::Request(
            TransformError::ConnectionLost(Disconnect::Reset)
        ))
    );
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn a_malformed_reply_falls_back_to_the_original_and_closes() {
    let mut reactor = reactor(one_poem());
    deliver(&mut reactor, 0, b"POEM\n");
    let xform = reactor.complete_connect(1);
    reactor.data_received(xform, b"05:poem\n,");
    assert!(reactor.lost(xform).is_some(), "the client hangs up");
    assert!(matches!(
        reactor.program().transform_error(0),
        Some(TransformStepError::Request(TransformError::MalformedReply(
            _
        )))
    ));
    assert_eq!(reactor.lines(Stream::Stdout), ["POEM"]);
    assert_eq!(reactor.exit_code(), Some(0));
}

/// Without a transform limit of its own, the stage gets the download's limit afresh;
/// expiry closes the transform connection cleanly, and its close is a late event.
#[test]
fn the_transform_stage_times_out_on_the_download_limit_counted_afresh() {
    let mut reactor = reactor(one_poem().timeout(Duration::from_secs(5)));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"POEM\n");
    reactor.advance(Duration::from_millis(4_900));
    reactor.connection_lost(conn, Disconnect::Clean);
    let xform = reactor.complete_connect(1);
    reactor.advance(Duration::from_millis(4_999));
    assert!(
        reactor.program().is_transforming(0),
        "still within its own 5 s"
    );
    reactor.advance(Duration::from_millis(1));
    assert_eq!(reactor.lost(xform), Some(Disconnect::Clean));
    assert_eq!(
        reactor.program().transform_error(0),
        Some(&TransformStepError::TimedOut(Duration::from_secs(5)))
    );
    assert_eq!(reactor.lines(Stream::Stderr), ["Cummingsify failed!"]);
    assert_eq!(reactor.lines(Stream::Stdout), ["POEM"]);
    assert_eq!(reactor.exit_code(), Some(0));
    assert_eq!(
        reactor.program().late_events(),
        1,
        "the close's connection_lost"
    );
}

#[test]
fn a_transform_timeout_while_connecting_withdraws_the_connect() {
    let mut reactor = reactor(one_poem().transform_timeout(Duration::from_secs(1)));
    deliver(&mut reactor, 0, b"POEM\n");
    reactor.advance(Duration::from_secs(1));
    let xform = reactor
        .program()
        .transform_conn(0)
        .expect("transform connect");
    assert_eq!(reactor.cancelled_connects(), [xform]);
    assert_eq!(reactor.lines(Stream::Stdout), ["POEM"]);
    // A driver that completes the connect anyway gets nothing started.
    reactor.complete_connect(1);
    assert!(!reactor.is_connected(xform));
    assert_eq!(reactor.program().results().settle_order(), [0]);
}

#[test]
fn a_reply_cancels_the_transform_timeout() {
    let mut reactor = reactor(one_poem().timeout(Duration::from_secs(5)));
    deliver(&mut reactor, 0, b"POEM\n");
    let xform = reactor.complete_connect(1);
    reactor.data_received(xform, &netstring::encode(b"poem\n"));
    assert_eq!(reactor.next_deadline(), None, "no timer left");
    assert_eq!(reactor.lines(Stream::Stdout), ["poem"]);
    assert!(reactor.lines(Stream::Stderr).is_empty());
}

#[test]
fn client_six_reports_a_failed_download_tersely() {
    let options = GetPoetryOptions::new(vec![
        HostPort::new("10.0.0.2", 10000),
        HostPort::new("10.0.0.3", 10004),
    ])
    .report(ReportStyle::AsArrivedTerse);
    let mut reactor = reactor(options);
    reactor.fail_connect(1, ConnectError::Refused);
    deliver(&mut reactor, 0, b"POEM\n");
    reactor.fail_connect(2, ConnectError::Refused);
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["The poem download failed.", "Cummingsify failed!"]
    );
    assert_eq!(reactor.lines(Stream::Stdout), ["POEM"]);
    assert_eq!(reactor.exit_code(), Some(1), "one download failed");
}

#[test]
fn in_order_at_end_says_nothing_until_the_last_transform_is_in() {
    let options = GetPoetryOptions::new(vec![
        HostPort::new("10.0.0.2", 10000),
        HostPort::new("10.0.0.3", 10001),
    ])
    .report(ReportStyle::InOrderAtEnd);
    let mut reactor = reactor(options);
    deliver(&mut reactor, 1, b"SECOND\n");
    deliver(&mut reactor, 0, b"FIRST\n");
    // Transform connects: index 2 for the second poem, 3 for the first.
    reactor.fail_connect(2, ConnectError::Refused);
    assert!(reactor.output().is_empty());
    let xform = reactor.complete_connect(3);
    reactor.data_received(xform, &netstring::encode(b"first\n"));
    assert_eq!(reactor.lines(Stream::Stdout), ["first", "SECOND"]);
    assert_eq!(reactor.lines(Stream::Stderr), ["Cummingsify failed!"]);
    assert_eq!(reactor.program().results().settle_order(), [1, 0]);
}

mod any_schedule {
    use super::*;
    use proptest::prelude::*;

    const REPLY: &[u8] = b"3:abc,";

    #[derive(Clone, Debug)]
    enum Action {
        Connect(usize),
        Refuse(usize),
        Data(usize),
        Close(usize, Disconnect),
        XConnect(usize),
        XRefuse(usize),
        XReply(usize),
        XGarbage(usize),
        XClose(usize, Disconnect),
        Advance(u64),
    }

    fn action() -> impl Strategy<Value = Action> {
        let reason = || {
            prop_oneof![
                3 => Just(Disconnect::Clean),
                1 => Just(Disconnect::Reset),
                1 => Just(Disconnect::TimedOut)
            ]
        };
        // Weighted so that many schedules get poems through to the transform stage.
        prop_oneof![
            4 => (0..3usize).prop_map(Action::Connect),
            1 => (0..3usize).prop_map(Action::Refuse),
            3 => (0..3usize).prop_map(Action::Data),
            3 => ((0..3usize), reason()).prop_map(|(i, r)| Action::Close(i, r)),
            4 => (0..3usize).prop_map(Action::XConnect),
            1 => (0..3usize).prop_map(Action::XRefuse),
            3 => (0..3usize).prop_map(Action::XReply),
            1 => (0..3usize).prop_map(Action::XGarbage),
            1 => ((0..3usize), reason()).prop_map(|(i, r)| Action::XClose(i, r)),
            2 => (0..700u64).prop_map(Action::Advance),
        ]
    }

    /// The index among the recorded connects of poem `i`'s transform connect.
    fn xform_index(r: &MemoryReactor<GetPoetry>, i: usize) -> Option<usize> {
        let conn = r.program().transform_conn(i)?;
        r.tcp_clients().iter().position(|c| c.conn == conn)
    }

    proptest! {
        /// Whatever the poetry servers, the transform server and the network do, in
        /// whatever order, each download ends exactly once, the program exits once
        /// every one has, and each poem is either the transform's reply or, exactly
        /// when the transform failed (and `Cummingsify failed!` said so), the bytes
        /// its own connection carried.
        #[test]
        fn every_download_ends_exactly_once_through_the_transform(
            actions in prop::collection::vec(action(), 0..100),
        ) {
            let servers = ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
                .map(|h| HostPort::new(h, 10000))
                .to_vec();
            let options = GetPoetryOptions::new(servers)
                .timeout(Duration::from_secs(5))
                .report(ReportStyle::AsArrived);
            let mut reactor = reactor(options);
            let mut sent: [Vec<u8>; 3] = Default::default();
            for action in actions {
                let conn = |r: &MemoryReactor<GetPoetry>, i: usize| r.program().conn(i);
                let xconn = |r: &MemoryReactor<GetPoetry>, i: usize| {
                    r.program().transform_conn(i).filter(|&c| r.is_connected(c))
                };
                match action {
                    Action::Connect(i) => {
                        reactor.complete_connect(i);
                    }
                    Action::Refuse(i) => reactor.fail_connect(i, ConnectError::Refused),
                    Action::Data(i) => {
                        if let Some(c) = conn(&reactor, i).filter(|&c| reactor.is_connected(c)) {
                            reactor.data_received(c, b"LINE\n");
                            sent[i].extend_from_slice(b"LINE\n");
                        }
                    }
                    Action::Close(i, reason) => {
                        if let Some(c) = conn(&reactor, i) {
                            reactor.connection_lost(c, reason);
                        }
                    }
                    Action::XConnect(i) => {
                        if let Some(k) = xform_index(&reactor, i) {
                            reactor.complete_connect(k);
                        }
                    }
                    Action::XRefuse(i) => {
                        if let Some(k) = xform_index(&reactor, i) {
                            reactor.fail_connect(k, ConnectError::Refused);
                        }
                    }
                    Action::XReply(i) => {
                        if let Some(c) = xconn(&reactor, i) {
                            reactor.data_received(c, REPLY);
                        }
                    }
                    Action::XGarbage(i) => {
                        if let Some(c) = xconn(&reactor, i) {
                            reactor.data_received(c, b"x:");
                        }
                    }
                    Action::XClose(i, reason) => {
                        if let Some(c) = reactor.program().transform_conn(i) {
                            reactor.connection_lost(c, reason);
                        }
                    }
                    Action::Advance(ms) => reactor.advance(Duration::from_millis(ms)),
                }
            }
            // Past both stages' limits: whatever is still open times out.
            reactor.advance(Duration::from_secs(11));
            let program = reactor.program();
            let results = program.results();
            let mut order = results.settle_order().to_vec();
            order.sort_unstable();
            prop_assert_eq!(order, vec![0, 1, 2]);
            let all_ok = results.all_succeeded();
            prop_assert_eq!(reactor.exit_code(), Some(if all_ok { 0 } else { 1 }));
            let mut failed_transforms = 0;
            for (i, bytes) in sent.iter().enumerate() {
                match (results.get(i), program.transform_error(i)) {
                    (Some(Ok(poem)), None) => prop_assert_eq!(poem.as_bytes(), b"abc"),
                    (Some(Ok(poem)), Some(_)) => {
                        failed_transforms += 1;
                        prop_assert_eq!(poem.as_bytes(), bytes.as_slice());
                    }
                    (Some(Err(_)), error) => prop_assert!(error.is_none()),
                    (None, _) => prop_assert!(false, "download {} never ended", i),
                }
            }
            let said = reactor
                .lines(Stream::Stderr)
                .iter()
                .filter(|l| **l == "Cummingsify failed!")
                .count();
            prop_assert_eq!(said, failed_transforms);
            prop_assert!(!program.is_transforming(0) && !program.is_transforming(1));
        }
    }
}

/// With no timeout at all, a transform server that accepts and never replies still
/// cannot hang the client: the stage gives up after the default 30 s.
#[test]
fn a_silent_transform_server_times_out_on_the_default_limit() {
    let mut reactor = reactor(one_poem());
    deliver(&mut reactor, 0, b"POEM\n");
    let xform = reactor.complete_connect(1);
    reactor.advance(DEFAULT_TRANSFORM_TIMEOUT - Duration::from_millis(1));
    assert!(reactor.program().is_transforming(0));
    reactor.advance(Duration::from_millis(1));
    assert_eq!(reactor.lost(xform), Some(Disconnect::Clean));
    assert_eq!(
        reactor.program().transform_error(0),
        Some(&TransformStepError::TimedOut(DEFAULT_TRANSFORM_TIMEOUT))
    );
    assert_eq!(reactor.lines(Stream::Stdout), ["POEM"]);
    assert_eq!(reactor.exit_code(), Some(0));
}
