//! `weft serve FILE.toml` as a user runs it — several servers in one process, on
//! loopback and free ports (cli.rs) — and `weft::services` as a crate uses it, over its
//! own catalogue (library.rs). Every process is killed if the test fails or it outlives
//! its timeout.

mod cli;
mod library;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

/// How long a process may take to say something, or a socket to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh folder for one test's files.
fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-services-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// Everything a server at `port` sends after `request`, until it closes.
fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connects");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(request).expect("sends");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reads to the end");
    reply
}

fn refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// The port at the end of a startup line (`Serving loom on 127.0.0.1:PORT.`).
fn port_of(line: &str) -> u16 {
    let digits = line.trim_end_matches('.').rsplit(':').next().unwrap_or("");
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no port in {line:?}"))
}
