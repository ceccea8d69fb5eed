//! The tokio driver on real loopback TCP: the programs run through `weft::net` exactly
//! as the binaries run them. Every address is 127.0.0.1 with a port the kernel picks;
//! every test gives up after a timeout instead of hanging.

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use weft::host::{ConnectError, FactoryProgram, Host, HostPort, Stream};
use weft::net::{Tokio, run_on};
use weft::programs::pingpong::PingPongFactory;
use weft::programs::streaming::StreamingClientFactory;
use weft::protocol::Factory;
use weft::transport::Disconnect;

use support::{
    AborterFactory, Counted, HalfCloseFactory, Log, Probe, QUESTION, SlowReaderFactory, Stats,
    probe,
};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `f` on a fresh current-thread runtime; a hang fails the test.
fn block_on<F: Future>(f: F) -> F::Output {
    support::block_on(TEST_TIMEOUT, f)
}

type Lines = Vec<(Stream, String)>;

/// Everything a two-host loopback run leaves behind.
struct Run<S: Factory<Protocol: Counted>, C: Factory<Protocol: Counted>> {
    server: Host<Probe<S>>,
    client: Host<Probe<C>>,
    server_code: i32,
    client_code: i32,
    client_lines: Lines,
}

/// Runs a server that serves one connection and exits, and a client program (which
/// exits when its connection is done) connecting to it once the server is listening,
/// side by side on one runtime.
fn serve_one<S, C>(
    server: FactoryProgram<S>,
    client: impl FnOnce(HostPort) -> Probe<C>,
) -> Run<S, C>
where
    S: Factory + 'static,
    C: Factory + 'static,
    S::Protocol: Counted,
    C::Protocol: Counted,
{
    let server = probe(server.listen(HostPort::new("127.0.0.1", 0))).exit_after(1);
    let address = server.address();
    let mut server = Host::new(server);
    let mut server_lines = Lines::new();
    let mut client_lines = Lines::new();
    let (server_code, (client, client_code)) = block_on(async {
        let client_run = async {
            let addr = address.wait().await;
            let mut client = Host::new(client(addr.into()));
            let code = run_on(Tokio, &mut client, &mut client_lines).await;
            (client, code)
        };
        tokio::join!(run_on(Tokio, &mut server, &mut server_lines), client_run)
    });
    Run {
        server,
        client,
        server_code,
        client_code,
        client_lines,
    }
}

/// A client for `factory` that connects to `addr` and exits when done.
fn client<F: Factory + 'static>(factory: F, addr: HostPort) -> Probe<F>
where
    F::Protocol: Counted,
{
    probe(FactoryProgram::new(factory).connect(addr).exit_when_done())
}

fn only_end<F: Factory>(host: &Host<Probe<F>>) -> (Disconnect, Stats)
where
    F::Protocol: Counted,
{
    let ended = host.program().ended();
    assert_eq!(ended.len(), 1, "one connection: {ended:?}");
    (ended[0].reason, ended[0].measured)
}

#[test]
fn pingpong_over_loopback_closes_cleanly_on_both_sides() {
    let run = serve_one(FactoryProgram::new(PingPongFactory::server(None)), |addr| {
        client(PingPongFactory::client(Some(100)), addr)
    });
    let (client_end, client) = only_end(&run.client);
    let (server_end, server) = only_end(&run.server);
    assert_eq!(
        (client_end, server_end),
        (Disconnect::Clean, Disconnect::Clean)
    );
    assert_eq!((run.client_code, run.server_code), (0, 0));

    // Real TCP may deliver two bytes in one read, which takes a ball out of play (the
    // book's coalescing variant), so the exact counts depend on timing. What holds
    // every time: the client stops once it has 100, never writes more than 100,
    // everything it wrote arrives, and the server wrote at most one byte the client
    // never took.
    assert!(client.received >= 100, "{client:?}");
    assert!(client.written <= 100, "{client:?}");
    assert_eq!(
        server.received, client.written,
        "nothing the client wrote is lost"
    );
    assert!(
        server.written == client.received || server.written == client.received + 1,
        "server {server:?}, client {client:?}"
    );
}

#[test]
fn paused_reader_pauses_the_producer_until_it_reads_again() {
    const BUDGET: usize = 16 << 20;
    let log = Log::default();
    let reader = SlowReaderFactory {
        pause: Duration::from_millis(300),
        log: log.clone(),
    };
    let producer = StreamingClientFactory {
        budget: Some(BUDGET),
    };
    let run = serve_one(FactoryProgram::new(reader), |addr| {
        client(producer, addr).log_producer_to(log.clone())
    });
    let (client_end, client) = only_end(&run.client);
    let (server_end, server) = only_end(&run.server);
    assert_eq!(
        (client_end, server_end),
        (Disconnect::Clean, Disconnect::Clean)
    );
    assert!(client.written >= BUDGET as u64);
    assert_eq!(server.received, client.written, "all bytes arrive");

    // The producer is writing 16 MiB and doubling; the kernel's buffers take a few MiB
    // at most while nobody reads. So when the reader starts, the producer must be
    // paused (held by the socket, not drained into memory), and resumed only after.
    let log = log.borrow();
    let start = log
        .iter()
        .position(|e| e == "reading resumed")
        .expect("the reader resumed");
    assert_eq!(
        log[..start].last().map(String::as_str),
        Some("producer paused"),
        "{log:?}"
    );
    assert!(
        log[start..].iter().any(|e| e == "producer resumed"),
        "{log:?}"
    );
}

#[test]
fn connect_to_a_closed_port_is_refused_and_the_client_exits_1() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut client = Host::new(probe(
        FactoryProgram::new(PingPongFactory::client(Some(100)))
            .connect(HostPort::new("127.0.0.1", port))
            .exit_when_done(),
    ));
    let mut lines = Lines::new();
    let code = block_on(run_on(Tokio, &mut client, &mut lines));
    assert_eq!(code, 1);
    assert_eq!(client.program().failed(), [ConnectError::Refused]);
    assert_eq!(
        lines,
        vec![(
            Stream::Stderr,
            "connection failed: connection refused".to_owned()
        )]
    );
}

#[test]
fn an_abort_reaches_the_peer_as_a_reset() {
    let run = serve_one(FactoryProgram::new(AborterFactory), |addr| {
        client(PingPongFactory::client(None), addr)
    });
    let (server_end, server) = only_end(&run.server);
    let (client_end, _) = only_end(&run.client);
    assert_eq!(server_end, Disconnect::Aborted);
    assert_eq!(server.received, 1, "the aborter got the client's greeting");
    assert_eq!(client_end, Disconnect::Reset);
    assert_eq!(run.client_code, 1, "a reset is not a clean end");
}

#[test]
fn half_close_lets_the_asker_read_the_answer_after_its_end_of_stream() {
    let log = Log::default();
    let answerer = HalfCloseFactory {
        asker: false,
        log: log.clone(),
    };
    let asker = HalfCloseFactory {
        asker: true,
        log: log.clone(),
    };
    let run = serve_one(FactoryProgram::new(answerer), |addr| client(asker, addr));
    let (client_end, client) = only_end(&run.client);
    let (server_end, server) = only_end(&run.server);
    assert_eq!(
        (client_end, server_end),
        (Disconnect::Clean, Disconnect::Clean)
    );
    assert_eq!(run.client_code, 0);
    let answer = format!("{} bytes", QUESTION.len());
    assert_eq!(
        client,
        Stats {
            written: QUESTION.len() as u64,
            received: answer.len() as u64
        }
    );
    assert_eq!(
        server,
        Stats {
            written: answer.len() as u64,
            received: QUESTION.len() as u64
        }
    );
    let log = log.borrow();
    assert_eq!(
        *log,
        vec![
            format!(
                "answerer received {:?}, then end-of-stream",
                String::from_utf8_lossy(QUESTION)
            ),
            format!("asker received {answer:?}, then end-of-stream"),
        ]
    );
    assert!(run.client_lines.is_empty());
}

/// Runs the `weft` binary with `args`; returns its exit status, stdout and stderr.
/// Kills it and fails if it runs for more than [`TEST_TIMEOUT`].
fn weft(args: &[&str]) -> (i32, String, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft starts");
    let poll = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if waited > TEST_TIMEOUT {
            let _ = child.kill();
            panic!("weft {args:?} did not finish");
        }
        std::thread::sleep(poll);
        waited += poll;
    };
    let (mut out, mut err) = (String::new(), String::new());
    let _ = child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out);
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    (status.code().expect("exited"), out, err)
}

#[test]
fn weft_pingpong_plays_both_sides_over_loopback_and_exits_0() {
    let (code, out, err) = weft(&["pingpong"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    // Each side's "wrote a byte", on stdout as the book's script prints it.
    let (wrote, lines): (Vec<&str>, Vec<&str>) =
        out.lines().partition(|l| l.ends_with(" wrote a byte"));
    assert!(wrote.contains(&"Client wrote a byte"), "{out}");
    assert!(wrote.contains(&"Server wrote a byte"), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    let addr = lines[0]
        .strip_prefix("listening on 127.0.0.1:")
        .expect("the server says where it listens");
    let port: u16 = addr.parse().expect("a port");
    assert_ne!(port, 0, "the real port, not the one asked for");
    assert!(lines[1].starts_with("client: wrote "), "{out}");
    assert!(
        lines[1].ends_with(&format!("connection with 127.0.0.1:{port} closed cleanly")),
        "{out}"
    );
    assert!(lines[2].starts_with("server: wrote "), "{out}");
    assert!(lines[2].ends_with("closed cleanly"), "{out}");
    assert!(err.contains("Client is closing the connection"), "{err}");
}

#[test]
fn weft_pingpong_client_to_a_closed_port_exits_1_saying_connection_refused() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let (code, out, err) = weft(&["pingpong", "client", &port.to_string()]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.contains("error: connection refused"), "{err}");
}

#[test]
fn weft_pingpong_client_with_a_bad_address_exits_2() {
    let (code, out, err) = weft(&["pingpong", "client", "localhost:http"]);
    assert_eq!(code, 2);
    assert_eq!(out, "");
    assert!(
        err.contains("ports must be integers from 0 to 65535"),
        "{err}"
    );
}

#[test]
fn listening_on_a_port_in_use_fails_and_the_server_exits_1() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let mut server = Host::new(probe(
        FactoryProgram::new(PingPongFactory::server(None)).listen(HostPort::new("127.0.0.1", port)),
    ));
    let mut lines = Lines::new();
    let code = block_on(run_on(Tokio, &mut server, &mut lines));
    assert_eq!(code, 1);
    assert_eq!(server.program().listening(), None);
    assert_eq!(
        lines,
        vec![(
            Stream::Stderr,
            format!("error: address already in use: 127.0.0.1:{port}")
        )]
    );
    drop(holder);
}

/// Pauses accepting from the start and resumes after `open_after`; answers the first
/// connection it hears of with the time it heard, then exits.
struct LateAcceptor {
    open_after: Duration,
    announce: Option<oneshot::Sender<SocketAddr>>,
    listener: Option<weft::host::ListenerId>,
}

impl weft::host::Program for LateAcceptor {
    type Timer = ();
    fn start(&mut self, cx: &mut weft::host::HostContext<'_, ()>) {
        let listener = cx.listen(HostPort::new("127.0.0.1", 0));
        cx.pause_accepting(listener);
        self.listener = Some(listener);
        cx.call_later(self.open_after, ());
    }
    fn listening(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ListenerId,
        addr: SocketAddr,
    ) {
        if let Some(tx) = self.announce.take() {
            let _ = tx.send(addr);
        }
    }
    fn timer_fired(&mut self, cx: &mut weft::host::HostContext<'_, ()>, (): ()) {
        cx.resume_accepting(self.listener.unwrap());
    }
    fn connection_made(
        &mut self,
        cx: &mut weft::host::HostContext<'_, ()>,
        conn: weft::host::ConnId,
    ) {
        let at = cx.now().since_epoch().as_millis();
        cx.write(conn, format!("accepted after {at} ms").as_bytes());
        cx.lose_connection(conn);
    }
    fn data_received(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: &[u8],
    ) {
    }
    fn connection_lost(
        &mut self,
        cx: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: Disconnect,
    ) {
        cx.exit(0);
    }
    fn connect_failed(
        &mut self,
        _: &mut weft::host::HostContext<'_, ()>,
        _: weft::host::ConnId,
        _: ConnectError,
    ) {
    }
}

#[test]
fn a_paused_listener_accepts_only_when_it_resumes() {
    let (tx, rx) = oneshot::channel();
    let mut server = Host::new(LateAcceptor {
        open_after: Duration::from_millis(300),
        announce: Some(tx),
        listener: None,
    });
    let mut server_lines = Lines::new();
    let mut client_lines = Lines::new();
    let (server_code, client_code) = block_on(async {
        let client = async {
            let addr = rx.await.expect("the server listens");
            let raw = weft::programs::raw::RawOptions {
                to: addr.into(),
                send: b"hi".to_vec(),
                half_close: false,
                give_up_after: None,
            };
            let mut client = Host::new(weft::programs::raw::RawClient::new(raw));
            run_on(Tokio, &mut client, &mut client_lines).await
        };
        tokio::join!(run_on(Tokio, &mut server, &mut server_lines), client)
    });
    assert_eq!((server_code, client_code), (0, 0));
    let reply = &client_lines[0].1;
    let ms: u64 = reply
        .trim_start_matches("received ")
        .split("accepted after ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected reply {reply:?}"));
    assert!(ms >= 300, "accepted after {ms} ms, before the resume");
}
