//! `weft bench hold`: what C clients that never read cost a server, as its peak
//! resident memory.
//!
//! The server is this same `weft` binary run as a child process (`fast-poetry`,
//! `slow-poetry`, or `proxy` in front of a `fast-poetry` upstream), so the figure is the
//! server's own memory and nothing of the load generator's. The poem is a file of
//! `--poem-bytes` seeded random bytes. For the proxy, one client first reads the poem
//! whole, so it is cached; then the C clients connect and read nothing. Once the
//! server's resident size has stopped growing, the peak (`VmHWM` from
//! `/proc/PID/status`, Linux only) is printed as `rss_peak_bytes=`.
//!
//! Like the other benchmarks it reads the machine's clock, to wait for the server.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The server under test.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum HoldServer {
    /// `weft fast-poetry POEM`.
    FastPoetry,
    /// `weft slow-poetry --num-bytes 65536 --delay 0.001 POEM` (fast enough to fill
    /// every client's buffers within the run).
    SlowPoetry,
    /// `weft proxy` in front of `weft fast-poetry POEM`, with the poem cached first.
    Proxy,
}

/// Arguments of `weft bench hold`.
#[derive(Debug, Args)]
pub(crate) struct HoldArgs {
    /// Which server to hold.
    #[arg(long, value_enum, default_value = "fast-poetry")]
    server: HoldServer,
    /// Clients that connect and never read.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
    /// Size of the poem served.
    #[arg(long, default_value_t = 10_000_000)]
    poem_bytes: usize,
}

/// Why the benchmark could not measure.
#[derive(Debug, thiserror::Error)]
enum HoldError {
    #[error("cannot start the server: {0}")]
    Spawn(std::io::Error),
    #[error("the server did not say where it listens")]
    NoAddress,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read the server's memory from /proc (Linux only): {0}")]
    NoProc(String),
    #[error("the proxy served {got} bytes, expected {expected}")]
    WrongLength { got: usize, expected: usize },
}

/// A child process killed (and reaped) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A file removed when dropped.
struct TempPoem(PathBuf);

impl Drop for TempPoem {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn run(args: &HoldArgs) -> i32 {
    match hold(args) {
        Ok(peak) => {
            let server = args
                .server
                .to_possible_value()
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default();
            println!(
                "server={server} clients={} poem_bytes={} rss_peak_bytes={peak}",
                args.clients, args.poem_bytes
            );
            0
        }
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

fn hold(args: &HoldArgs) -> Result<u64, HoldError> {
    let path = std::env::temp_dir().join(format!("weft-bench-hold-{}.poem", std::process::id()));
    let mut poem = vec![0; args.poem_bytes];
    ChaCha8Rng::seed_from_u64(0x5eed).fill_bytes(&mut poem);
    std::fs::write(&path, &poem)?;
    let poem_file = TempPoem(path);
    drop(poem);
    let poem_arg = poem_file.0.to_string_lossy().into_owned();
    let (server, addr, _upstream) = match args.server {
        HoldServer::FastPoetry => {
            let (s, a) = spawn(&["fast-poetry", "--port", "0", &poem_arg])?;
            (s, a, None)
        }
        HoldServer::SlowPoetry => {
            let (s, a) = spawn(&[
                "slow-poetry",
                "--port",
                "0",
                "--num-bytes",
                "65536",
                "--delay",
                "0.001",
                &poem_arg,
            ])?;
            (s, a, None)
        }
        HoldServer::Proxy => {
            let (upstream, up_addr) = spawn(&["fast-poetry", "--port", "0", &poem_arg])?;
            let port = up_addr.port().to_string();
            let (proxy, addr) = spawn(&["proxy", "--port", "0", &port])?;
            let mut got = Vec::new();
            TcpStream::connect(addr)?.read_to_end(&mut got)?;
            if got.len() != args.poem_bytes {
                return Err(HoldError::WrongLength {
                    got: got.len(),
                    expected: args.poem_bytes,
                });
            }
            (proxy, addr, Some(upstream))
        }
    };
    let pid = server.0.id();
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        clients.push(TcpStream::connect(addr)?);
    }
    settle(pid)?;
    let peak = proc_status(pid, "VmHWM:")?;
    drop(clients);
    drop(server);
    drop(poem_file);
    Ok(peak)
}

/// Starts `weft ARGS` and reads the address from its startup line (`... on ADDR.`).
fn spawn(args: &[&str]) -> Result<(Server, SocketAddr), HoldError> {
    let exe = std::env::current_exe().map_err(HoldError::Spawn)?;
    let child = Command::new(exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(HoldError::Spawn)?;
    let mut server = Server(child);
    let stdout = server.0.stdout.take().ok_or(HoldError::NoAddress)?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let addr = line
        .trim_end()
        .trim_end_matches('.')
        .rsplit(' ')
        .next()
        .and_then(|text| text.parse().ok())
        .ok_or(HoldError::NoAddress)?;
    Ok((server, addr))
}

/// Waits until the server's resident size has not grown for half a second (at most
/// 20 s): the clients' buffers are full and nothing more is being queued.
fn settle(pid: u32) -> Result<(), HoldError> {
    let start = Instant::now();
    let mut last = proc_status(pid, "VmRSS:")?;
    let mut stable_since = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        let now = proc_status(pid, "VmRSS:")?;
        if now > last {
            last = now;
            stable_since = Instant::now();
        } else if stable_since.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
    Ok(())
}

/// A `kB` field of `/proc/PID/status`, in bytes.
fn proc_status(pid: u32, field: &str) -> Result<u64, HoldError> {
    let path = Path::new("/proc").join(pid.to_string()).join("status");
    let status = std::fs::read_to_string(&path)
        .map_err(|e| HoldError::NoProc(format!("{}: {e}", path.display())))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kb| kb * 1024)
        .ok_or_else(|| HoldError::NoProc(format!("no {field} in {}", path.display())))
}
