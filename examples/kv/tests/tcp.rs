//! Real loopback TCP through weft's tokio driver: the server listens on port 0, a
//! `Probe` hands its address to the client, both run on one current-thread runtime.

use std::time::Duration;

use weft::host::{FactoryProgram, Host, HostPort, Program, Stream};
use weft::net::{Tokio, run_on};
use weft::testing::Probe;
use weft_kv::{ClientOptions, KvClient, KvFactory, kv_client_async};

type Lines = Vec<(Stream, String)>;

/// Runs a server that exits after one connection and the client `make` builds for its
/// address; returns the client's exit status and lines. A hang fails after 30 s.
fn serve_one<P: Program + 'static>(make: impl FnOnce(HostPort) -> P) -> (i32, Lines) {
    let server = FactoryProgram::new(KvFactory::new(None)).listen(HostPort::new("127.0.0.1", 0));
    let server = Probe::new(server).exit_after(1);
    let address = server.address();
    let mut server = Host::new(server);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let run = async {
            let client = async {
                let mut client = Host::new(make(address.wait().await.into()));
                let mut lines = Lines::new();
                let code = run_on(Tokio, &mut client, &mut lines).await;
                (code, lines)
            };
            let mut server_lines = Lines::new();
            let (server_code, client) =
                tokio::join!(run_on(Tokio, &mut server, &mut server_lines), client);
            assert_eq!(server_code, 0, "{server_lines:?}");
            client
        };
        tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("no hang")
    })
}

const COMMANDS: &[&str] = &["SET k 1", "GET k", "GET j"];
const REPLIES: [&str; 3] = ["SET k 1 -> OK", "GET k -> VALUE 1", "GET j -> NOT_FOUND"];

fn stdout(lines: &Lines) -> Vec<&str> {
    lines
        .iter()
        .filter(|(s, _)| *s == Stream::Stdout)
        .map(|(_, l)| l.as_str())
        .collect()
}

#[test]
fn the_state_machine_client_is_answered_over_loopback() {
    let (code, lines) = serve_one(|addr| KvClient::new(ClientOptions::new(addr, COMMANDS)));
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(stdout(&lines), REPLIES);
}

#[test]
fn the_async_client_is_answered_over_loopback() {
    let (code, lines) = serve_one(|addr| kv_client_async(ClientOptions::new(addr, COMMANDS)));
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(stdout(&lines), REPLIES);
}

#[test]
fn a_refused_connect_is_retried_then_given_up() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = ClientOptions::new(HostPort::new("127.0.0.1", port), &["GET k"]);
    options.retries = 1;
    options.retry_delay = Duration::from_millis(10);
    let mut client = Host::new(KvClient::new(options));
    let mut lines = Lines::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let code = runtime.block_on(run_on(Tokio, &mut client, &mut lines));
    assert_eq!(code, 1);
    assert_eq!(client.program().attempts(), 2);
    assert_eq!(
        lines.last().map(|(_, l)| l.as_str()),
        Some("giving up after 2 attempts: connect failed: connection refused")
    );
}
