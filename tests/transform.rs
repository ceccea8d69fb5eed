//! The poetry transformation server and client (the poetry series, Parts 12 and 13): the
//! seed vector, the observed replies of §2.11, every refusal, re-segmentation, several
//! clients, and a program driving many clients through `with_protocol`.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use weft::codec::netstring::{NetstringDecoder, NetstringError};
use weft::host::{
    ConnId, ConnectError, DEFAULT_CONNECT_TIMEOUT, FactoryProgram, HostContext, HostPort, Program,
};
use weft::programs::transform::{
    RequestError, TransformClient, TransformError, TransformFactory, TransformFailure,
    TransformProtocol, TransformService, cummingsify, cummingsify_loudly, reverse, reverse_lines,
    rot13,
};
use weft::protocol::{Factory, NoTimer, Protocol};
use weft::testing::{
    MemoryReactor, Pump, PumpOptions, Segmentation, StringTransport, TestConnection,
};
use weft::transport::{Disconnect, ipv4};

const REQUEST: &[u8] = b"27:cummingsify.HERE IS MY POEM,";
const REPLY: &[u8] = b"15:here is my poem,";

fn server() -> TestConnection<TransformProtocol> {
    let protocol = TransformFactory::default().build_protocol(ipv4(127, 0, 0, 1, 50000));
    StringTransport::with_disconnection().make_connection(protocol)
}

fn client(name: &str, poem: &[u8]) -> TestConnection<TransformClient> {
    StringTransport::with_disconnection().make_connection(TransformClient::new(name, poem))
}

/// Runs `f` and returns what it logged, one `LEVEL message` line per event.
fn logs_of(f: impl FnOnce()) -> String {
    let ((), lines) = weft::testing::logs::capture(tracing::Level::DEBUG, f);
    lines
        .iter()
        .map(|(level, text)| format!("{level} {text}\n"))
        .collect()
}

// ---- the server on a string transport -------------------------------------------

#[test]
fn seed_request_is_answered_byte_exact_then_closed() {
    let mut conn = server();
    conn.data_received(REQUEST);
    assert_eq!(conn.value(), REPLY);
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
    assert_eq!(conn.protocol.replies(), 1);
}

#[test]
fn observed_replies_of_the_original_are_matched() {
    for &(request, reply) in common::transform::OBSERVED_REPLIES {
        let mut conn = server();
        conn.data_received(request);
        assert_eq!(conn.value(), reply, "{}", request.escape_ascii());
        assert_eq!(
            conn.lost(),
            Some(Disconnect::Clean),
            "{}",
            request.escape_ascii()
        );
    }
}

#[test]
fn every_refusal_closes_without_a_reply_and_logs_why() {
    let cases: [(&[u8], &str); 6] = [
        (b"11:cummingsify,", "no '.' between transform name and poem"),
        (b"9:bogus.ABC,", "no such transform: \"bogus\""),
        (b"10:reverse.\xff\xfe,", "transform \"reverse\" failed"),
        (b"007:abc.def,", "leading zero"),
        (b"5:a.bcdX", "followed by 'X'"),
        (b"100000:x.y,", "exceeds the maximum of 99999 bytes"),
    ];
    for (request, why) in cases {
        let mut conn = server();
        let logs = logs_of(|| conn.data_received(request));
        assert_eq!(conn.value(), b"", "{}", request.escape_ascii());
        assert_eq!(conn.lost(), Some(Disconnect::Clean));
        assert!(logs.contains("WARN"), "{logs}");
        assert!(logs.contains(why), "expected {why:?} in {logs}");
    }
}

#[test]
fn oversized_request_is_refused_as_soon_as_its_length_shows_it() {
    let mut conn = server();
    conn.data_received(b"100000");
    assert_eq!(
        conn.lost(),
        Some(Disconnect::Clean),
        "no need to wait for the ':'"
    );
    assert_eq!(conn.value(), b"");
}

#[test]
fn incomplete_request_waits_for_more() {
    let mut conn = server();
    conn.data_received(b"27:cummingsify.HERE");
    assert_eq!((conn.value(), conn.lost()), (&b""[..], None));
    conn.data_received(b" IS MY POEM,");
    assert_eq!(conn.value(), REPLY);
}

#[test]
fn requests_in_the_same_read_are_all_answered_later_reads_are_not() {
    // Twisted's NetstringReceiver parses the whole read before loseConnection takes
    // effect: `0:,1:a,` was observed. One byte per read answers the first only.
    let two = b"12:cummingsify.,13:cummingsify.A,";
    let mut whole = server();
    whole.data_received(two);
    assert_eq!(whole.value(), b"0:,1:a,");
    let mut conn = StringTransport::new()
        .make_connection(TransformFactory::default().build_protocol(ipv4(127, 0, 0, 1, 50000)));
    for byte in two {
        conn.data_received(&[*byte]);
    }
    assert_eq!(conn.value(), b"0:,");
    assert!(conn.transport.disconnecting);
}

#[test]
fn a_refused_request_does_not_stop_the_rest_of_its_read() {
    let mut conn = server();
    conn.data_received(b"9:bogus.ABC,12:cummingsify.,x");
    assert_eq!(conn.value(), b"0:,");
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
}

// ---- the transforms ----------------------------------------------------------

#[test]
fn standard_transforms_do_what_their_names_say() {
    assert_eq!(
        cummingsify(b"HERE Is My POEM.").unwrap(),
        b"here is my poem."
    );
    assert_eq!(cummingsify_loudly(b"here is").unwrap(), b"HERE IS");
    assert_eq!(
        reverse_lines(b"one\ntwo\nthree\n").unwrap(),
        b"three\ntwo\none\n"
    );
    assert_eq!(reverse_lines(b"one\ntwo").unwrap(), b"two\none");
    assert_eq!(reverse_lines(b"").unwrap(), b"");
    assert_eq!(rot13(b"Hello, World!").unwrap(), b"Uryyb, Jbeyq!");
    assert_eq!(
        rot13(&rot13(b"Why did the chicken?").unwrap()).unwrap(),
        b"Why did the chicken?"
    );
    assert_eq!(reverse("naïve".as_bytes()).unwrap(), "evïan".as_bytes());
    assert_eq!(
        reverse(b"ok\xff"),
        Err(TransformFailure::NotUtf8 { valid_up_to: 2 })
    );
}

#[test]
fn the_service_splits_at_the_first_dot_and_whitelists_names() {
    let service = TransformService::standard();
    assert_eq!(
        service.names().collect::<Vec<_>>(),
        [
            "cummingsify",
            "cummingsify-loudly",
            "reverse",
            "reverse-lines",
            "rot13"
        ]
    );
    assert_eq!(service.handle(b"cummingsify.A.B.").unwrap(), b"a.b.");
    assert_eq!(service.handle(b"nodot"), Err(RequestError::MissingDot));
    assert_eq!(
        service.handle(b"Cummingsify.x"),
        Err(RequestError::UnknownTransform {
            name: "Cummingsify".into()
        })
    );
    assert_eq!(
        service.handle(b"\xffname.x"),
        Err(RequestError::UnknownTransform {
            name: "\\xffname".into()
        })
    );
    let mut custom = TransformService::empty();
    custom.register("shout", cummingsify_loudly);
    assert_eq!(custom.handle(b"shout.hi").unwrap(), b"HI");
    assert!(matches!(
        custom.handle(b"cummingsify.hi"),
        Err(RequestError::UnknownTransform { .. })
    ));
}

// ---- over the pump ------------------------------------------------------------

fn pump(options: PumpOptions, name: &str, poem: &[u8]) -> Pump<TransformClient, TransformProtocol> {
    let server = TransformFactory::default().build_protocol(options.client_addr);
    let mut pump = Pump::new(options, TransformClient::new(name, poem), server);
    pump.flush();
    pump
}

#[test]
fn request_and_reply_over_the_pump() {
    let mut pump = pump(PumpOptions::default(), "cummingsify", b"HERE IS MY POEM");
    assert_eq!(pump.transcript().bytes("client > server"), REQUEST);
    assert_eq!(pump.transcript().bytes("server > client"), REPLY);
    assert_eq!(
        pump.client.take_outcome(),
        Some(Ok(b"here is my poem".to_vec()))
    );
    assert_eq!(pump.client_lost(), Some(Disconnect::Clean));
    assert_eq!(pump.server_lost(), Some(Disconnect::Clean));
    assert_snapshot!("transform_request_reply", pump.transcript().render());
}

#[test]
fn one_byte_reads_both_ways_give_the_same_result() {
    let options = PumpOptions {
        to_server: Segmentation::Fixed(1),
        to_client: Segmentation::Fixed(1),
        ..PumpOptions::default()
    };
    let poem = b"HERE IS MY POEM.\nIt has dots. And lines.\n";
    let mut whole = pump(PumpOptions::default(), "cummingsify", poem);
    let mut bytewise = pump(options, "cummingsify", poem);
    for direction in ["client > server", "server > client"] {
        assert_eq!(
            bytewise.transcript().bytes(direction),
            whole.transcript().bytes(direction),
            "{direction}"
        );
    }
    let expected = Some(Ok(poem.to_ascii_lowercase()));
    assert_eq!(whole.client.take_outcome(), expected);
    assert_eq!(bytewise.client.take_outcome(), expected);
    let reads = bytewise.transcript().events().len();
    assert!(reads > poem.len(), "one event per byte: {reads}");
}

#[test]
fn unknown_transform_over_the_pump_is_a_failure_without_reply() {
    let mut pump = pump(PumpOptions::default(), "bogus", b"ABC");
    assert_eq!(pump.transcript().bytes("server > client"), b"");
    assert_eq!(
        pump.client.take_outcome(),
        Some(Err(TransformError::NoReply))
    );
}

// ---- several clients under a FactoryProgram --------------------------------------

#[test]
fn server_serves_the_next_client_after_one_sent_garbage() {
    let program =
        FactoryProgram::new(TransformFactory::default()).listen(HostPort::new("127.0.0.1", 11000));
    let mut reactor = MemoryReactor::new(program);
    assert_eq!(reactor.tcp_servers()[0].port, 11000);
    let slow = reactor.accept(0, ipv4(127, 0, 0, 1, 50001));
    reactor.data_received(slow, &REQUEST[..10]);
    let bad = reactor.accept(0, ipv4(127, 0, 0, 1, 50002));
    reactor.data_received(bad, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(reactor.lost(bad), Some(Disconnect::Clean));
    assert_eq!(reactor.value(bad), b"");
    let good = reactor.accept(0, ipv4(127, 0, 0, 1, 50003));
    reactor.data_received(good, REQUEST);
    assert_eq!(reactor.value(good), REPLY);
    assert_eq!(reactor.lost(good), Some(Disconnect::Clean));
    reactor.data_received(slow, &REQUEST[10..]);
    assert_eq!(
        reactor.value(slow),
        REPLY,
        "the interrupted client is served too"
    );
}

// ---- the client ----------------------------------------------------------------

#[test]
fn client_sends_its_request_on_connect() {
    assert_eq!(client("cummingsify", b"HERE IS MY POEM").value(), REQUEST);
}

#[test]
fn client_succeeds_on_a_reply_and_closes_itself() {
    let mut conn = client("cummingsify", b"HERE IS MY POEM");
    conn.transport.clear();
    for byte in REPLY {
        conn.data_received(&[*byte]);
    }
    assert_eq!(conn.lost(), Some(Disconnect::Clean), "closed on its own");
    assert_eq!(conn.value(), b"", "wrote nothing more");
    assert_eq!(
        conn.protocol.outcome(),
        Some(&Ok(b"here is my poem".to_vec()))
    );
}

#[test]
fn client_fails_when_closed_without_a_reply() {
    let mut conn = client("bogus", b"ABC");
    conn.connection_lost(Disconnect::Clean);
    assert_eq!(
        conn.protocol.take_outcome(),
        Some(Err(TransformError::NoReply))
    );
}

#[test]
fn client_fails_when_closed_partway_through_the_reply() {
    let mut conn = client("cummingsify", b"HERE IS MY POEM");
    conn.data_received(&REPLY[..8]);
    assert!(!conn.protocol.is_finished());
    conn.connection_lost(Disconnect::Clean);
    assert_eq!(
        conn.protocol.take_outcome(),
        Some(Err(TransformError::TruncatedReply))
    );
}

#[test]
fn client_fails_on_a_reset() {
    let mut conn = client("cummingsify", b"HERE IS MY POEM");
    conn.data_received(b"15:here");
    conn.connection_lost(Disconnect::Reset);
    assert_eq!(
        conn.protocol.take_outcome(),
        Some(Err(TransformError::ConnectionLost(Disconnect::Reset)))
    );
}

#[test]
fn client_fails_on_a_malformed_reply_and_closes() {
    let mut conn = client("cummingsify", b"HERE IS MY POEM");
    conn.data_received(b"015:here is my poem,");
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
    assert_eq!(
        conn.protocol.take_outcome(),
        Some(Err(TransformError::MalformedReply(
            NetstringError::LeadingZero
        )))
    );
}

#[test]
fn client_outcome_is_taken_exactly_once_and_never_changes() {
    let mut conn = client("cummingsify", b"X");
    assert_eq!(conn.protocol.take_outcome(), None, "nothing decided yet");
    conn.data_received(b"1:x,2:yy,garbage");
    conn.connection_lost(Disconnect::Reset);
    assert!(conn.protocol.is_finished());
    assert_eq!(conn.protocol.take_outcome(), Some(Ok(b"x".to_vec())));
    assert_eq!(conn.protocol.take_outcome(), None);
    assert_eq!(conn.protocol.outcome(), None);
    assert!(conn.protocol.is_finished());
}

/// Transforms several poems at once, one connection each, driving a
/// [`TransformClient`] per connection through `with_protocol`; results keep input order.
struct TransformAll {
    server: HostPort,
    poems: Vec<&'static [u8]>,
    clients: BTreeMap<ConnId, (usize, TransformClient)>,
    results: Vec<Option<Result<Vec<u8>, TransformError>>>,
}

impl TransformAll {
    fn new(poems: Vec<&'static [u8]>) -> Self {
        Self {
            server: HostPort::new("127.0.0.1", 11000),
            results: vec![None; poems.len()],
            poems,
            clients: BTreeMap::new(),
        }
    }

    fn drive(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        event: impl FnOnce(&mut TransformClient, &mut weft::protocol::Context<'_, NoTimer>),
    ) {
        let Some((index, client)) = self.clients.get_mut(&conn) else {
            return;
        };
        cx.with_protocol(conn, |t: NoTimer| t, |pcx| event(client, pcx));
        if let Some(outcome) = client.take_outcome() {
            let index = *index;
            self.finish(index, outcome);
        }
    }

    fn finish(&mut self, index: usize, outcome: Result<Vec<u8>, TransformError>) {
        assert!(self.results[index].is_none(), "request {index} ended twice");
        self.results[index] = Some(outcome);
    }
}

impl Program for TransformAll {
    type Timer = NoTimer;

    fn start(&mut self, cx: &mut HostContext<'_, NoTimer>) {
        for (index, poem) in self.poems.iter().enumerate() {
            let conn = cx.connect(self.server.clone(), DEFAULT_CONNECT_TIMEOUT);
            self.clients
                .insert(conn, (index, TransformClient::new("cummingsify", poem)));
        }
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId) {
        self.drive(cx, conn, |c, pcx| c.connection_made(pcx));
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, NoTimer>, conn: ConnId, data: &[u8]) {
        self.drive(cx, conn, |c, pcx| c.data_received(pcx, data));
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        self.drive(cx, conn, |c, pcx| c.connection_lost(pcx, reason));
        self.clients.remove(&conn);
    }

    fn connect_failed(
        &mut self,
        _cx: &mut HostContext<'_, NoTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        if let Some((index, _)) = self.clients.remove(&conn) {
            self.finish(index, Err(error.into()));
        }
    }
}

#[test]
fn a_program_drives_many_clients_and_reads_each_outcome_once() {
    let mut reactor = MemoryReactor::new(TransformAll::new(vec![b"ONE", b"TWO", b"THREE"]));
    let conns: Vec<ConnId> = reactor.tcp_clients().iter().map(|c| c.conn).collect();
    assert_eq!(conns.len(), 3);
    reactor.fail_connect(1, ConnectError::Refused);
    let c0 = reactor.complete_connect(0);
    let c2 = reactor.complete_connect(2);
    assert_eq!(reactor.value(c0), b"15:cummingsify.ONE,");
    assert_eq!(reactor.value(c2), b"17:cummingsify.THREE,");
    reactor.connection_lost(c2, Disconnect::Clean);
    reactor.data_received(c0, b"3:one,");
    assert_eq!(
        reactor.lost(c0),
        Some(Disconnect::Clean),
        "the client closed"
    );
    assert_eq!(
        reactor.program().results,
        vec![
            Some(Ok(b"one".to_vec())),
            Some(Err(TransformError::ConnectFailed(ConnectError::Refused))),
            Some(Err(TransformError::NoReply)),
        ]
    );
}

// ---- no input makes the server misbehave ------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn server_answers_any_bytes_with_netstrings_or_silence(
        data in prop::collection::vec(prop_oneof![
            Just(b'.'), Just(b':'), Just(b','), b'0'..=b'9', any::<u8>()
        ], 0..80),
        read in 1usize..16,
    ) {
        let mut conn = server();
        for chunk in data.chunks(read) {
            conn.data_received(chunk);
        }
        let mut decoder = NetstringDecoder::new();
        let mut replies = 0;
        prop_assert_eq!(decoder.decode(conn.value(), |_| replies += 1), Ok(()));
        prop_assert!(decoder.is_at_boundary(), "only whole replies");
        prop_assert_eq!(replies, conn.protocol.replies());
        if replies > 0 {
            prop_assert!(conn.lost().is_some(), "a reply is always followed by a close");
        }
    }
}
