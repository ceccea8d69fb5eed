//! The limits and clean exits of the real commands, as processes on loopback: servers
//! stop on SIGTERM and SIGINT with one line and status 0; unusable poem files, a
//! proxy that is its own upstream and oversized transform requests are refused at
//! start; a server that sends forever fails `get-poetry` at its size limit; an idle
//! connection is closed by the server.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use support::process::{Server, closed_port, weft};

#[test]
fn servers_stop_on_sigterm_and_sigint_with_one_line_and_status_zero() {
    let upstream = Server::weft(&["fast-poetry", "--port", "0", "clock"]);
    let servers: [(&[&str], &str); 4] = [
        (&["fast-poetry", "--port", "0"], "TERM"),
        (&["slow-poetry", "--port", "0"], "INT"),
        (&["transform-server", "--port", "0"], "TERM"),
        (&["proxy", "--port", "0", &upstream.port()], "INT"),
    ];
    for (args, signal) in servers {
        let server = Server::weft(args);
        let (code, lines) = server.signal(signal);
        assert_eq!(code, Some(0), "{args:?} on SIG{signal}");
        assert_eq!(
            lines,
            [format!("Stopped by SIG{signal}; closing 0 connections.")],
            "{args:?}"
        );
    }
}

#[test]
fn a_poem_argument_that_is_not_a_regular_file_is_refused_at_start() {
    for path in ["/dev/zero", "/"] {
        let ran = weft(&["fast-poetry", "--port", "0", path]);
        assert_eq!(ran.code, 2, "{path}");
        assert!(
            ran.stderr
                .contains(&format!("{path} is not a regular file")),
            "{}",
            ran.stderr
        );
    }
}

#[test]
fn a_proxy_whose_upstream_is_its_own_address_refuses_to_start() {
    let port = closed_port();
    let ran = weft(&["proxy", "--port", &port, &port]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("is this proxy's own address"),
        "{}",
        ran.stderr
    );
}

#[test]
fn transform_client_refuses_a_text_over_the_servers_maximum_before_sending() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let text = "x".repeat(100_000);
    let ran = weft(&["transform-client", "--text", &text, &port]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("at most 99999"), "{}", ran.stderr);
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(
        listener.accept().is_err(),
        "nothing was sent: no connection"
    );
}

#[test]
fn a_server_that_sends_forever_fails_get_poetry_at_its_size_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let flood = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let chunk = vec![b'x'; 64 << 10];
        // Until the client gives up: then the write fails.
        while stream.write_all(&chunk).is_ok() {}
    });
    let ran = weft(&[
        "get-poetry",
        "--report",
        "poems",
        "--max-poem-bytes",
        "1000000",
        &port,
    ]);
    assert_eq!(ran.code, 1);
    let all = format!("{}{}", ran.out(), ran.stderr);
    assert!(all.contains("poem larger than 1000000 bytes"), "{all}");
    flood.join().expect("flood thread");
}

#[test]
fn a_server_closes_a_connection_that_sends_nothing_after_its_idle_timeout() {
    let server = Server::weft(&["transform-server", "--port", "0", "--idle-timeout", "0.2"]);
    let mut idle = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    idle.set_read_timeout(Some(support::process::PROCESS_TIMEOUT))
        .expect("timeout");
    let mut buf = [0; 16];
    // Reset or end of stream: either way the server closed it, without a reply.
    let read = idle.read(&mut buf);
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    if let Err(error) = &read {
        assert_ne!(
            error.kind(),
            std::io::ErrorKind::WouldBlock,
            "timed out waiting"
        );
    }
    let log = server.stop();
    assert!(log.contains("closing idle connection"), "{log}");
}
