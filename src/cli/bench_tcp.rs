//! `weft bench tcp`: poems per second from a fast poetry server on loopback.
//!
//! The server is weft's fast poetry server run by the tokio driver on its own thread
//! (one current-thread runtime, as `weft fast-poetry` runs it), or any server given with
//! `--server` (a Twisted one, for comparison). The load generator is plain tokio on the
//! calling thread: C clients that each connect, read the whole poem until the server
//! closes, close, and connect again, until N requests have completed. Every response
//! must have the poem's length (with `--server`: the first response's length), or the
//! run fails: a benchmark that counts broken downloads measures nothing.
//!
//! Like the other benchmarks it reads the machine's clock, and only to time the runs.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Args;
use tokio::io::AsyncReadExt;

use super::bench::{Measured, report, sorted};
use super::serve::{Announced, DEFAULT_POEM, PoemArg};
use crate::host::{FactoryProgram, Host, HostPort, Stream};
use crate::programs::poetry::FastPoetryFactory;

/// Arguments of `weft bench tcp`.
#[derive(Debug, Args)]
pub(crate) struct TcpArgs {
    /// Clients connecting at once.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    clients: u64,
    /// Requests (connect, whole poem, close) to complete in each run.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    requests: u64,
    /// Measure the poetry server at this address instead of starting weft's.
    #[arg(long, value_name = "[HOST:]PORT")]
    server: Option<HostPort>,
    /// The poem weft's server serves: a file, or a built-in poem.
    #[arg(long, default_value = DEFAULT_POEM)]
    poem: PoemArg,
}

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("cannot start the benchmark: {0}")]
    Setup(String),
    #[error("request failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("a response had {got} bytes, expected {expected}")]
    WrongLength { got: usize, expected: usize },
    #[error("the server sent an empty response")]
    Empty,
}

pub(crate) fn run(args: &TcpArgs, runs: usize) -> i32 {
    match bench(args, runs) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

fn bench(args: &TcpArgs, runs: usize) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (server, addr, expected) = match &args.server {
        Some(target) => {
            let addr = runtime
                .block_on(tokio::net::lookup_host((target.host.as_str(), target.port)))?
                .next()
                .ok_or_else(|| BenchError::Setup(format!("{target} does not resolve")))?;
            (None, addr, None)
        }
        None => {
            let server = WeftServer::start(&args.poem)?;
            let addr = server.addr;
            (Some(server), addr, Some(args.poem.poem.len()))
        }
    };
    let mut rates = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        match runtime.block_on(one_run(addr, args.clients, args.requests, expected)) {
            Ok((measured, length)) => {
                rates.push(measured);
                bytes = length;
            }
            Err(error) => {
                if let Some(server) = server {
                    server.stop();
                }
                return Err(error);
            }
        }
    }
    if let Some(server) = server {
        server.stop();
    }
    let rates = sorted(rates);
    let which = match &args.server {
        Some(target) => target.to_string(),
        None => "weft".to_owned(),
    };
    report(
        &format!(
            "tcp server={which} clients={} requests={} bytes_per_response={bytes}",
            args.clients, args.requests
        ),
        "requests_per_s",
        &rates,
    );
    Ok(())
}

/// One run: `clients` loops sharing `requests` tickets. Returns the rate and the
/// response length.
async fn one_run(
    addr: SocketAddr,
    clients: u64,
    requests: u64,
    expected: Option<usize>,
) -> Result<(Measured, usize), BenchError> {
    // Learn the length first (outside the timing) when the server is not ours.
    let expected = match expected {
        Some(n) => n,
        None => fetch(addr, &mut Vec::new()).await?,
    };
    if expected == 0 {
        return Err(BenchError::Empty);
    }
    let tickets = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let tickets = Arc::clone(&tickets);
        tasks.spawn(async move {
            let mut buf = Vec::with_capacity(expected + 1);
            while tickets.fetch_add(1, Ordering::Relaxed) < requests {
                let got = fetch(addr, &mut buf).await?;
                if got != expected {
                    return Err(BenchError::WrongLength { got, expected });
                }
            }
            Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.map_err(|e| BenchError::Setup(e.to_string()))??;
    }
    let elapsed = start.elapsed();
    Ok((Measured::new(requests, elapsed), expected))
}

/// Connects, reads until the server closes, closes; returns the bytes read.
async fn fetch(addr: SocketAddr, buf: &mut Vec<u8>) -> Result<usize, BenchError> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    buf.clear();
    stream.read_to_end(buf).await?;
    Ok(buf.len())
}

/// weft's fast poetry server on a thread of its own, on 127.0.0.1, port 0.
struct WeftServer {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl WeftServer {
    fn start(poem: &PoemArg) -> Result<Self, BenchError> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let poem = poem.clone();
        let thread = std::thread::Builder::new()
            .name("weft-server".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                else {
                    return;
                };
                let program = Announced::new(
                    FactoryProgram::new(FastPoetryFactory::new(poem.poem))
                        .listen(HostPort::new("127.0.0.1", 0)),
                    format!("Serving {}", poem.label),
                )
                .notify(addr_tx);
                let mut host = Host::new(program);
                let mut output: Vec<(Stream, String)> = Vec::new();
                runtime.block_on(async {
                    tokio::select! {
                        _ = crate::net::run_on(crate::net::Tokio, &mut host, &mut output) => {}
                        _ = stop_rx => {}
                    }
                });
            })?;
        let addr = addr_rx
            .recv()
            .map_err(|_| BenchError::Setup("weft's server did not start".into()))?;
        Ok(Self { addr, stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_bench_completes_every_request_and_checks_each_length() {
        let server = WeftServer::start(&PoemArg::default()).expect("the server starts");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let done = runtime.block_on(one_run(server.addr, 4, 40, Some(3003)));
        assert!(matches!(done, Ok((_, 3003))), "{done:?}");
        // Learning the length from the server, as with --server.
        let learned = runtime.block_on(one_run(server.addr, 2, 10, None));
        assert!(matches!(learned, Ok((_, 3003))), "{learned:?}");
        let wrong = runtime.block_on(one_run(server.addr, 2, 10, Some(3000)));
        assert!(
            matches!(
                wrong,
                Err(BenchError::WrongLength {
                    got: 3003,
                    expected: 3000
                })
            ),
            "{wrong:?}"
        );
        server.stop();
    }
}
