//! The smallest layer: one protocol on a string transport with a hand-driven clock
//! (Twisted's `StringTransport` and `task.Clock`), and the client program against a
//! reactor that only records (Twisted's `MemoryReactor`).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use weft::host::{ConnectError, HostPort, Stream};
use weft::testing::{MemoryReactor, StringTransport, TestConnection};
use weft::transport::Disconnect;
use weft_kv::{ClientOptions, KvClient, KvSession, MAX_LINE, Store};

fn session(idle_timeout: Option<Duration>) -> TestConnection<KvSession> {
    let store = Rc::new(RefCell::new(Store::default()));
    StringTransport::with_disconnection().make_connection(KvSession::new(store, idle_timeout))
}

#[test]
fn a_set_value_is_got_back() {
    let mut conn = session(None);
    conn.data_received(b"SET colour teal\r\nGET colour\r\nGET shape\r\n");
    assert_eq!(conn.value(), b"OK\r\nVALUE teal\r\nNOT_FOUND\r\n");
}

#[test]
fn a_request_cut_anywhere_gets_the_same_replies() {
    let mut conn = session(None);
    for byte in b"SET k v w\r\nGET k\r\n" {
        conn.data_received(&[*byte]);
    }
    assert_eq!(conn.value(), b"OK\r\nVALUE v w\r\n");
}

#[test]
fn an_unknown_command_is_an_error_reply_and_the_connection_stays() {
    let mut conn = session(None);
    conn.data_received(b"DEL k\r\nGET\r\n");
    assert_eq!(
        conn.value(),
        b"ERROR expected SET key value or GET key\r\nERROR expected SET key value or GET key\r\n"
    );
    assert_eq!(conn.lost(), None);
}

#[test]
fn a_line_past_the_maximum_is_refused_and_the_connection_closed() {
    let mut conn = session(None);
    conn.data_received(&vec![b'x'; MAX_LINE + 2]);
    assert_eq!(
        conn.value(),
        b"ERROR line longer than the maximum of 1024 bytes\r\n"
    );
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
}

#[test]
fn an_idle_connection_is_closed_after_the_timeout_and_data_restarts_it() {
    let mut conn = session(Some(Duration::from_secs(10)));
    conn.advance(Duration::from_secs(9));
    conn.data_received(b"GET k\r\n");
    conn.advance(Duration::from_secs(9));
    assert_eq!(conn.lost(), None, "the request restarted the timeout");
    conn.advance(Duration::from_secs(1));
    assert_eq!(conn.lost(), Some(Disconnect::Clean));
}

const SECOND: Duration = Duration::from_secs(1);

fn client(commands: &[&str], retries: u32) -> MemoryReactor<KvClient> {
    let mut options = ClientOptions::new(HostPort::new("server", 7000), commands);
    options.retries = retries;
    MemoryReactor::new(KvClient::new(options))
}

#[test]
fn the_client_sends_one_command_at_a_time_and_exits_when_all_are_answered() {
    let mut reactor = client(&["SET k 1", "GET k"], 5);
    assert_eq!(reactor.tcp_clients()[0].host, "server");
    let conn = reactor.complete_connect(0);
    assert_eq!(reactor.value(conn), b"SET k 1\r\n");
    reactor.clear(conn);
    reactor.data_received(conn, b"OK\r\n");
    assert_eq!(reactor.value(conn), b"GET k\r\n");
    reactor.data_received(conn, b"VALUE 1\r\n");
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["SET k 1 -> OK", "GET k -> VALUE 1"]
    );
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn an_unanswered_command_is_sent_again_on_a_new_connection_after_the_back_off() {
    let mut reactor = client(&["SET k 1"], 5);
    let first = reactor.complete_connect(0);
    reactor.advance(SECOND);
    assert_eq!(
        reactor.lost(first),
        Some(Disconnect::Aborted),
        "the timeout aborts"
    );
    // The first wait: 100 ms plus up to 50 ms of jitter.
    let retry_at = reactor.next_deadline().expect("a retry is scheduled");
    let wait = retry_at - reactor.now();
    assert!(
        wait >= Duration::from_millis(100) && wait < Duration::from_millis(150),
        "{wait:?}"
    );
    reactor.advance(wait);
    let second = reactor.complete_connect(1);
    assert_eq!(reactor.value(second), b"SET k 1\r\n");
    reactor.data_received(second, b"OK\r\n");
    assert_eq!(reactor.exit_code(), Some(0));
    assert_eq!(reactor.program().attempts(), 2);
}

#[test]
fn the_client_gives_up_once_the_retries_are_used_up() {
    let mut reactor = client(&["GET k"], 2);
    for attempt in 0..3 {
        reactor.fail_connect(attempt, ConnectError::Refused);
        reactor.advance(SECOND);
    }
    assert_eq!(
        reactor.tcp_clients().len(),
        3,
        "the first attempt and two retries"
    );
    let stderr = reactor.lines(Stream::Stderr);
    assert_eq!(
        stderr.last(),
        Some(&"giving up after 3 attempts: connect failed: connection refused")
    );
    assert_eq!(reactor.exit_code(), Some(1));
}
