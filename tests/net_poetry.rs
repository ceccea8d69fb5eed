//! The poetry programs on real loopback TCP through the tokio driver: every server with
//! its client, and bad peers (garbage, malformed and oversized netstrings, clients that
//! never read, clients that leave mid-poem, 200 clients at once) against the real
//! servers. Every port is picked by the kernel (port 0); every test gives up after a
//! timeout instead of hanging. Servers and clients share one current-thread runtime;
//! the bad peers are plain tokio sockets.

mod support;

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use weft::flow::HIGH_WATER_MARK;
use weft::host::{FactoryProgram, Host, HostPort, Node, Stream};
use weft::net::{Tokio, run_on};
use weft::programs::poetry::poems::{LOOM, TEN_BYTES};
use weft::programs::poetry::sender::PIECE;
use weft::programs::poetry::{
    FastPoetryFactory, GetPoetry, GetPoetryOptions, Pace, Poem, PoetryProxy, ProxyOptions,
    ReportStyle, SerialPoetryServer, SlowPoetryFactory,
};
use weft::programs::transform::{TransformClientFactory, TransformError, TransformFactory};
use weft::time::Instant;
use weft::transport::Disconnect;

use support::{Watch, Watched};

const TEST_TIMEOUT: Duration = Duration::from_secs(60);

type Lines = Vec<(Stream, String)>;

/// Runs `f` on a fresh current-thread runtime; a hang fails the test.
fn block_on<F: Future>(f: F) -> F::Output {
    support::block_on(TEST_TIMEOUT, f)
}

fn loopback() -> HostPort {
    HostPort::new("127.0.0.1", 0)
}

/// A server node, watched, announcing its address on the returned receiver.
fn server<N: Node>(node: N) -> (Watched<N>, Watch, oneshot::Receiver<SocketAddr>) {
    let (tx, rx) = oneshot::channel();
    let (node, seen) = Watched::new(node);
    (node.announce(tx), seen, rx)
}

/// A server's run on the test's runtime, boxed so the test can stop it (drop it) and
/// then look at the node.
type Running<'a> = Pin<Box<dyn Future<Output = i32> + 'a>>;

/// Starts running `node`; returns once it listens.
async fn start<'a>(
    node: &'a mut dyn Node,
    listening: oneshot::Receiver<SocketAddr>,
    lines: &'a mut Lines,
) -> (Running<'a>, SocketAddr) {
    let mut run: Running<'a> = Box::pin(run_on(Tokio, node, lines));
    tokio::select! {
        code = &mut run => panic!("the server exited with {code} before listening"),
        addr = listening => (run, addr.expect("the server announces its address")),
    }
}

/// Runs `test` while the servers keep running; a server that exits fails the test.
async fn while_serving<T>(servers: &mut [Running<'_>], test: impl Future<Output = T>) -> T {
    let any_exit = poll_fn(|cx| {
        for server in servers.iter_mut() {
            if let Poll::Ready(code) = server.as_mut().poll(cx) {
                return Poll::Ready(code);
            }
        }
        Poll::Pending
    });
    tokio::select! {
        code = any_exit => panic!("a server exited with {code}"),
        out = test => out,
    }
}

/// Runs a get-poetry program to its exit; returns it and its status.
async fn get_poetry(options: GetPoetryOptions, lines: &mut Lines) -> (Host<GetPoetry>, i32) {
    let mut host = Host::new(GetPoetry::new(options));
    let code = run_on(Tokio, &mut host, lines).await;
    (host, code)
}

fn poems(host: &Host<GetPoetry>) -> Vec<Vec<u8>> {
    let results = host.program().results();
    (0..results.len())
        .map(|i| match results.get(i) {
            Some(Ok(poem)) => poem.as_bytes().to_vec(),
            other => panic!("download {i}: {other:?}"),
        })
        .collect()
}

/// Connects, reads until the server closes; a reset ends the read like a close.
async fn fetch(addr: SocketAddr) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    buf
}

/// Sends `request` (ignoring a server that stops reading), then reads what comes
/// back until the server closes or resets.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(request).await;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    buf
}

/// Polls `seen` until `done` holds (the test's timeout bounds the wait).
async fn until(seen: &Watch, done: impl Fn(&support::Seen) -> bool) {
    while !done(&seen.borrow()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn fast_server_gives_get_poetry_the_whole_poem_twice() {
    let program = FactoryProgram::new(FastPoetryFactory::new(LOOM.into())).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let mut lines = Lines::new();
    let (client, code) = block_on(async {
        let mut server_lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut server_lines).await;
        let options =
            GetPoetryOptions::new(vec![addr.into(), addr.into()]).report(ReportStyle::AsArrived);
        while_serving(&mut [run], get_poetry(options, &mut lines)).await
    });
    assert_eq!(code, 0);
    assert_eq!(poems(&client), [LOOM.as_bytes(), LOOM.as_bytes()]);
    let printed: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
    let once: Vec<&str> = LOOM.lines().collect();
    assert_eq!(
        printed,
        [once.clone(), once].concat(),
        "each poem printed whole"
    );
    assert_eq!(seen.borrow().accepted, 2);
}

#[test]
fn slow_server_paces_the_poem_and_get_poetry_waits_for_the_close() {
    // 3,003 bytes at 300 per 20 ms: 11 chunks, the close 220 ms after the first.
    let pace = Pace::new(300, Duration::from_millis(20));
    let program = FactoryProgram::new(SlowPoetryFactory::new(LOOM.into(), pace)).listen(loopback());
    let (mut node, _seen, rx) = server(Host::new(program));
    let mut lines = Lines::new();
    let (client, code) = block_on(async {
        let mut server_lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut server_lines).await;
        let options = GetPoetryOptions::new(vec![addr.into()]);
        while_serving(&mut [run], get_poetry(options, &mut lines)).await
    });
    assert_eq!(code, 0);
    assert_eq!(poems(&client), [LOOM.as_bytes()]);
    let reads = lines
        .iter()
        .filter(|(_, l)| l.starts_with("Task 1: got "))
        .count();
    assert!(reads >= 2, "the poem came in paced chunks: {lines:?}");
    assert!(lines.contains(&(Stream::Stdout, "Task 1: 3003 bytes of poetry".into())));
    let took = client.program().finished_at().expect("finished") - Instant::ZERO;
    assert!(took >= pace.duration(LOOM.len()), "{took:?}");
}

#[test]
fn serial_server_serves_three_clients_one_after_another() {
    // 623 bytes at 200 per 10 ms: 4 chunks, 40 ms a client; 120 ms for three in turn
    // (served at once they would all be done in about 40 ms).
    let pace = Pace::new(200, Duration::from_millis(10));
    let program = SerialPoetryServer::new(loopback(), TEN_BYTES.into(), pace);
    let (mut node, _seen, rx) = server(Host::new(program));
    let mut lines = Lines::new();
    let (client, code) = block_on(async {
        let mut server_lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut server_lines).await;
        let options = GetPoetryOptions::new(vec![addr.into(); 3]).report(ReportStyle::Quiet);
        while_serving(&mut [run], get_poetry(options, &mut lines)).await
    });
    assert_eq!(code, 0);
    assert_eq!(poems(&client), vec![TEN_BYTES.as_bytes(); 3]);
    let took = client.program().finished_at().expect("finished") - Instant::ZERO;
    assert!(took >= pace.duration(TEN_BYTES.len()) * 3, "{took:?}");
    assert_eq!(node.inner.program().served().len(), 3);
}

#[test]
fn transform_server_answers_the_transform_client_and_refuses_unknown_transforms() {
    let program = FactoryProgram::new(TransformFactory::default()).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let (good, unknown) = block_on(async {
        let mut server_lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut server_lines).await;
        while_serving(&mut [run], async {
            let mut outcomes = Vec::new();
            for name in ["cummingsify", "bogus"] {
                let factory = TransformClientFactory::new(name, "HERE IS MY POEM");
                let program = FactoryProgram::new(factory)
                    .connect(addr.into())
                    .exit_when_done();
                let mut host = Host::new(program);
                let code = run_on(Tokio, &mut host, &mut Lines::new()).await;
                assert_eq!(code, 0, "both end in a clean close");
                let client = host.program().last_protocol().expect("connected");
                outcomes.push(client.outcome().cloned().expect("decided"));
            }
            (outcomes[0].clone(), outcomes[1].clone())
        })
        .await
    });
    assert_eq!(good, Ok(b"here is my poem".to_vec()));
    assert_eq!(unknown, Err(TransformError::NoReply));
    assert_eq!(seen.borrow().closed, [Disconnect::Clean, Disconnect::Clean]);
}

#[test]
fn proxy_in_front_of_a_slow_server_fetches_once_for_three_clients_then_serves_the_cache() {
    let pace = Pace::new(100, Duration::from_millis(20));
    let slow =
        FactoryProgram::new(SlowPoetryFactory::new(TEN_BYTES.into(), pace)).listen(loopback());
    let (mut slow, slow_seen, slow_rx) = server(Host::new(slow));
    let (proxy_tx, proxy_rx) = oneshot::channel();
    let mut proxy = None;
    let (mut first, mut second) = (Lines::new(), Lines::new());
    let (three, code3, one, code1) = block_on(async {
        let (mut l1, mut l2) = (Lines::new(), Lines::new());
        let (slow_run, upstream) = start(&mut slow, slow_rx, &mut l1).await;
        let options = ProxyOptions::new(loopback(), upstream.into());
        let (node, _) = Watched::new(Host::new(PoetryProxy::new(options)));
        let node = proxy.insert(node.announce(proxy_tx));
        let (proxy_run, addr) = start(node, proxy_rx, &mut l2).await;
        while_serving(&mut [slow_run, proxy_run], async {
            let options = GetPoetryOptions::new(vec![addr.into(); 3]).report(ReportStyle::Quiet);
            let (three, code3) = get_poetry(options, &mut first).await;
            let options = GetPoetryOptions::new(vec![addr.into()]).report(ReportStyle::Quiet);
            let (one, code1) = get_poetry(options, &mut second).await;
            (three, code3, one, code1)
        })
        .await
    });
    assert_eq!((code3, code1), (0, 0));
    assert_eq!(poems(&three), vec![TEN_BYTES.as_bytes(); 3]);
    assert_eq!(poems(&one), [TEN_BYTES.as_bytes()]);
    let stats = proxy.expect("ran").inner.program().stats();
    assert_eq!((stats.fetches, stats.cache_hits, stats.served), (1, 1, 4));
    assert_eq!(slow_seen.borrow().accepted, 1, "one upstream connection");
}

/// A poem of `len` bytes that is not a repetition of a short pattern.
fn big_poem(len: usize) -> Vec<u8> {
    let mut poem = vec![0; len];
    ChaCha8Rng::seed_from_u64(11).fill_bytes(&mut poem);
    poem
}

#[test]
fn a_reader_that_stalls_holds_one_piece_of_the_poem_in_the_fast_servers_queue() {
    // The fast server shares its poem and writes it a piece at a time as the
    // connection drains, so a client that never reads costs its socket buffers and one
    // piece, however large the poem: the queue never passes one piece (the driver
    // keeps at most one 64 KiB chunk besides). Another client is served meanwhile, and
    // the stalled one gets the whole poem once it reads.
    const BIG: usize = 32 << 20;
    let poem = big_poem(BIG);
    let program =
        FactoryProgram::new(FastPoetryFactory::new(Poem::new(poem.clone()))).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let (stalled_queue, other, late) = block_on(async {
        let mut lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut lines).await;
        while_serving(&mut [run], async {
            let mut stalled = TcpStream::connect(addr).await.expect("connect");
            until(&seen, |s| s.accepted == 1).await;
            let other = fetch(addr).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let stalled_queue = seen.borrow().queued.values().copied().max();
            let mut late = Vec::new();
            stalled.read_to_end(&mut late).await.expect("read");
            (stalled_queue, other, late)
        })
        .await
    });
    assert!(
        other == poem,
        "the other client got the whole poem meanwhile"
    );
    assert!(
        late == poem,
        "the stalled client gets the whole poem in the end"
    );
    let stalled_queue = stalled_queue.expect("the stalled connection is up");
    assert!(stalled_queue <= PIECE, "one piece queued: {stalled_queue}");
    let seen = seen.borrow();
    assert!(seen.max_queued <= PIECE, "{}", seen.max_queued);
    assert_eq!(seen.closed, [Disconnect::Clean, Disconnect::Clean]);
}

#[test]
fn a_reader_that_stalls_costs_the_slow_server_one_piece_and_it_keeps_its_pace() {
    // The slow server releases a chunk per tick, and the sender copies released bytes
    // only as the connection drains: a stalled client costs at most the high-water mark
    // and one piece of the poem, not the poem.
    const BIG: usize = 2 << 20;
    let poem = big_poem(BIG);
    let pace = Pace::new(128 << 10, Duration::from_millis(1));
    let factory = SlowPoetryFactory::new(Poem::new(poem.clone()), pace);
    let (mut node, seen, rx) = server(Host::new(FactoryProgram::new(factory).listen(loopback())));
    let late = block_on(async {
        let mut lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut lines).await;
        while_serving(&mut [run], async {
            let mut stalled = TcpStream::connect(addr).await.expect("connect");
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut late = Vec::new();
            stalled.read_to_end(&mut late).await.expect("read");
            late
        })
        .await
    });
    assert!(late == poem);
    let seen = seen.borrow();
    // A tick may release a piece while the last one is still queued (under the mark).
    assert!(
        seen.max_queued > 0 && seen.max_queued <= HIGH_WATER_MARK + PIECE,
        "{}",
        seen.max_queued
    );
}

#[test]
fn two_hundred_clients_at_once_all_get_the_poem() {
    let program = FactoryProgram::new(FastPoetryFactory::new(LOOM.into())).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let got = block_on(async {
        let mut lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut lines).await;
        while_serving(&mut [run], async {
            let mut clients = tokio::task::JoinSet::new();
            for _ in 0..200 {
                clients.spawn(fetch(addr));
            }
            let mut got = Vec::new();
            while let Some(poem) = clients.join_next().await {
                got.push(poem.expect("client task"));
            }
            got
        })
        .await
    });
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|poem| poem == LOOM.as_bytes()));
    let seen = seen.borrow();
    assert_eq!(seen.accepted, 200);
    assert!(seen.closed.iter().all(|r| *r == Disconnect::Clean));
}

#[test]
fn clients_that_leave_mid_poem_stop_their_senders_and_others_are_served() {
    // 3,003 bytes at 30 per 5 ms: half a second per client.
    let pace = Pace::new(30, Duration::from_millis(5));
    let program = FactoryProgram::new(SlowPoetryFactory::new(LOOM.into(), pace)).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let stayers = block_on(async {
        let mut lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut lines).await;
        while_serving(&mut [run], async {
            let stayers = tokio::spawn(async move {
                let (a, b) = tokio::join!(fetch(addr), fetch(addr));
                vec![a, b]
            });
            for reset in [false, true, false, true] {
                let mut leaver = TcpStream::connect(addr).await.expect("connect");
                let mut first = [0; 30];
                leaver.read_exact(&mut first).await.expect("a first chunk");
                if reset {
                    // SO_LINGER 0: the close is a reset.
                    #[allow(deprecated)]
                    leaver.set_linger(Some(Duration::ZERO)).expect("linger");
                }
                drop(leaver);
            }
            let stayers = stayers.await.expect("stayers");
            // The server notices every leaver (at its next write, for a reset).
            until(&seen, |s| s.closed.len() == 6).await;
            stayers
        })
        .await
    });
    assert_eq!(stayers, vec![LOOM.as_bytes().to_vec(); 2]);
    assert!(
        node.inner.clock().pending_count() == 0,
        "no sender is left running: {:?}",
        node.inner.clock().pending_calls()
    );
    assert!(seen.borrow().queued.is_empty());
}

#[test]
fn fast_server_shrugs_off_clients_that_reset_at_once() {
    let program = FactoryProgram::new(FastPoetryFactory::new(LOOM.into())).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let after = block_on(async {
        let mut lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut lines).await;
        while_serving(&mut [run], async {
            for _ in 0..20 {
                let stream = TcpStream::connect(addr).await.expect("connect");
                #[allow(deprecated)]
                stream.set_linger(Some(Duration::ZERO)).expect("linger");
                drop(stream);
            }
            let after = fetch(addr).await;
            // Most resets beat the accept (the kernel or the driver drops those); each
            // one that was accepted must end, as a reset or a failed write.
            until(&seen, |s| {
                s.queued.is_empty() && s.closed.len() == s.accepted
            })
            .await;
            after
        })
        .await
    });
    assert_eq!(after, LOOM.as_bytes());
    assert!(seen.borrow().queued.is_empty());
}

#[test]
fn transform_server_closes_on_bad_netstrings_and_garbage_and_keeps_serving() {
    const GOOD: &[u8] = b"27:cummingsify.HERE IS MY POEM,";
    const REPLY: &[u8] = b"15:here is my poem,";
    let mut garbage = vec![0; 64 << 10];
    ChaCha8Rng::seed_from_u64(5).fill_bytes(&mut garbage);
    let oversized = [b"100000:".as_slice(), &[b'x'; 4096]].concat();
    let undotted = [b"99999:".as_slice(), &[b'x'; 99_999], b","].concat();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("leading zeros", b"007:abc.def,".to_vec()),
        ("missing comma", b"5:a.bcdX".to_vec()),
        ("not a netstring", b"cummingsify.HERE IS MY POEM".to_vec()),
        ("length too long", b"1234567890:".to_vec()),
        ("oversized", oversized),
        ("no dot, maximum length", undotted),
        ("unknown transform", b"9:bogus.ABC,".to_vec()),
        ("random garbage", garbage),
    ];
    let program = FactoryProgram::new(TransformFactory::default()).listen(loopback());
    let (mut node, seen, rx) = server(Host::new(program));
    let replies = block_on(async {
        let mut lines = Lines::new();
        let (run, addr) = start(&mut node, rx, &mut lines).await;
        while_serving(&mut [run], async {
            let mut replies = Vec::new();
            for (what, request) in &bad {
                let reply = exchange(addr, request).await;
                let next = exchange(addr, GOOD).await;
                replies.push((*what, reply, next));
            }
            // Half a request, then the client's end-of-stream: closed, no reply.
            let mut half = TcpStream::connect(addr).await.expect("connect");
            half.write_all(b"27:cummingsify.HERE").await.expect("write");
            half.shutdown().await.expect("half-close");
            let mut reply = Vec::new();
            let _ = half.read_to_end(&mut reply).await;
            replies.push(("half a request", reply, exchange(addr, GOOD).await));
            until(&seen, |s| s.queued.is_empty()).await;
            replies
        })
        .await
    });
    for (what, reply, next) in &replies {
        assert!(
            reply.is_empty(),
            "{what}: no reply, got {:?}",
            reply.escape_ascii()
        );
        assert_eq!(next, REPLY, "{what}: the next client is served");
    }
    assert_eq!(seen.borrow().accepted, 2 * replies.len());
}

#[test]
fn poetry_servers_ignore_what_clients_send_and_still_send_the_poem() {
    // The poetry protocol's clients send nothing; one that does (256 KiB of garbage
    // while it reads) still gets the whole poem, from either server. (One that also
    // half-closes gets what was sent so far: the servers take the end-of-stream as
    // the client leaving, as Twisted does for a protocol that is not half-closeable.)
    let mut garbage = vec![0; 256 << 10];
    ChaCha8Rng::seed_from_u64(9).fill_bytes(&mut garbage);
    let pace = Pace::new(500, Duration::from_millis(5));
    let fast = FactoryProgram::new(FastPoetryFactory::new(LOOM.into())).listen(loopback());
    let slow = FactoryProgram::new(SlowPoetryFactory::new(LOOM.into(), pace)).listen(loopback());
    let (mut fast, _, fast_rx) = server(Host::new(fast));
    let (mut slow, _, slow_rx) = server(Host::new(slow));
    let got = block_on(async {
        let (mut l1, mut l2) = (Lines::new(), Lines::new());
        let (fast_run, fast_addr) = start(&mut fast, fast_rx, &mut l1).await;
        let (slow_run, slow_addr) = start(&mut slow, slow_rx, &mut l2).await;
        while_serving(&mut [fast_run, slow_run], async {
            let mut got = Vec::new();
            for addr in [fast_addr, slow_addr] {
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                let (mut reader, mut writer) = stream.split();
                let send = async {
                    writer.write_all(&garbage).await.expect("the server reads");
                };
                let mut poem = Vec::new();
                let receive = reader.read_to_end(&mut poem);
                let ((), read) = tokio::join!(send, receive);
                read.expect("a clean end");
                got.push(poem);
            }
            got
        })
        .await
    });
    let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
    assert!(got.iter().all(|poem| poem == LOOM.as_bytes()), "{sizes:?}");
}
