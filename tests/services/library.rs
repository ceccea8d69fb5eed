//! A crate's own programs as services, through the library API.

use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;

use weft::host::{ConnId, ConnectError, HostContext, HostPort, ListenerId, Program, Stream};
use weft::net::Output;
use weft::scenario::{Catalogue, OptionDoc, ProgramOptions};
use weft::services::{ServiceEnd, ServicesFile};
use weft::transport::Disconnect;

use super::{TIMEOUT, exchange, folder, port_of, refused};
/// Says where it listens, greets each client and closes.
struct Greeter;

/// Says where it listens, and panics (a bug) when a client arrives.
struct Buggy;

fn listen_here(cx: &mut HostContext<'_, ()>) {
    cx.listen(HostPort::new("127.0.0.1", 0));
}

macro_rules! quiet_program {
    () => {
        fn data_received(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: &[u8]) {}
        fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}
        fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
    };
}

impl Program for Greeter {
    type Timer = ();
    fn start(&mut self, cx: &mut HostContext<'_, ()>) {
        listen_here(cx);
    }
    fn listening(&mut self, cx: &mut HostContext<'_, ()>, _: ListenerId, addr: SocketAddr) {
        cx.print(format!("Greeting on {addr}."));
    }
    fn connection_made(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId) {
        cx.write(conn, b"hello\n");
        cx.lose_connection(conn);
    }
    quiet_program!();
}

impl Program for Buggy {
    type Timer = ();
    fn start(&mut self, cx: &mut HostContext<'_, ()>) {
        listen_here(cx);
    }
    fn listening(&mut self, cx: &mut HostContext<'_, ()>, _: ListenerId, addr: SocketAddr) {
        cx.print(format!("Crashing on {addr}."));
    }
    fn connection_made(&mut self, _: &mut HostContext<'_, ()>, _: ConnId) {
        panic!("a bug in connection_made");
    }
    quiet_program!();
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

impl ProgramOptions for Nothing {
    fn describe() -> Vec<OptionDoc> {
        Vec::new()
    }
}

fn my_catalogue() -> Catalogue {
    Catalogue::new()
        .program("greeter", "greets and closes", |_: &Nothing| Greeter)
        .program("buggy", "panics on a client", |_: &Nothing| Buggy)
}

/// Lines to a channel, so the test sees them while the services run.
struct ToChannel(mpsc::Sender<(Stream, String)>);

impl Output for ToChannel {
    fn line(&mut self, stream: Stream, line: &str) {
        let _ = self.0.send((stream, line.to_owned()));
    }
}

#[test]
fn a_panicking_service_is_reported_and_closed_while_the_others_serve() {
    let file = ServicesFile::parse(
        "mine.toml",
        "[[service]]\nname = \"hello\"\nprogram = \"greeter\"\n\
         [[service]]\nname = \"crash\"\nprogram = \"buggy\"\n",
    )
    .expect("parses");
    let services = file.prepare(&my_catalogue()).expect("prepares");
    let (lines_tx, lines) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = std::thread::spawn(move || {
        let stop = async move {
            let _ = stop_rx.await;
            "the test".to_owned()
        };
        services.run_until(stop, &mut ToChannel(lines_tx))
    });
    let next = || lines.recv_timeout(TIMEOUT).expect("a line");
    let (_, hello) = next();
    let (_, crash) = next();
    assert!(hello.starts_with("Greeting on 127.0.0.1:"), "{hello}");
    assert!(crash.starts_with("Crashing on 127.0.0.1:"), "{crash}");
    let (hello, crash) = (port_of(&hello), port_of(&crash));

    let _ = TcpStream::connect(("127.0.0.1", crash)).expect("accepted before the panic");
    assert_eq!(
        next(),
        (
            Stream::Stderr,
            "service \"crash\" panicked: a bug in connection_made; 1 service goes on.".to_owned()
        )
    );
    // The other service serves on; by the time it has (several turns of the runtime),
    // the crashed one's port is closed, without a connect to find out.
    assert_eq!(exchange(hello, b""), b"hello\n");
    assert!(refused(crash), "the crashed service's port is closed");

    stop_tx.send(()).expect("the run waits");
    let report = run.join().expect("no panic escapes").expect("a runtime");
    assert_eq!(
        next(),
        (
            Stream::Stdout,
            "Stopped by the test; closing 0 connections.".to_owned()
        )
    );
    assert_eq!(report.stopped_by.as_deref(), Some("the test"));
    let ends: Vec<(&str, &ServiceEnd)> = report
        .services
        .iter()
        .map(|s| (s.name.as_str(), &s.end))
        .collect();
    assert_eq!(
        ends,
        [
            (
                "hello",
                &ServiceEnd::Stopped {
                    open_connections: 0
                }
            ),
            (
                "crash",
                &ServiceEnd::Panicked {
                    message: "a bug in connection_made".to_owned()
                }
            ),
        ]
    );
    assert_eq!(report.exit_code(), 1);
    assert!(refused(hello));
}

#[test]
fn a_crates_own_binary_gets_serve_over_its_catalogue() {
    let dir = folder("user-bin");
    let path = dir.join("mine.toml");
    std::fs::write(
        &path,
        "[[service]]\nname = \"hello\"\nprogram = \"greeter\"\n",
    )
    .expect("write");
    let mut out = Vec::new();
    let path = path.to_str().expect("utf-8");
    let status = weft::cli::run_from(
        &my_catalogue(),
        ["mybin", "serve", "--check", path],
        &mut out,
    );
    assert_eq!(status, std::process::ExitCode::SUCCESS);
    assert_eq!(
        String::from_utf8(out).expect("text"),
        "hello: greeter\n1 service; logs to stderr\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}
