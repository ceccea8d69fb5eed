//! Async programs on the sans-IO core: one async program under every driver (the
//! MemoryReactor, SimNet, real loopback TCP, turmoil), the async connection API, timers
//! on the host clock (TV-25's idle timeout, Part 19's cancelled poem), and the async
//! ping-pong against the state machine's transcript.

mod support;

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use weft::host::{ConnectError, FactoryProgram, Host, HostPort, Node, Stream};
use weft::net::{Tokio, Turmoil, run_on};
use weft::programs::pingpong::PingPongFactory;
use weft::programs::pingpong_async::{self, play};
use weft::programs::streaming::ReceivingServerFactory;
use weft::simnet::{NetConfig, SimNet};
use weft::task::{ConnectionError, TaskProgram, TimedOut};
use weft::testing::{EventKind, MemoryReactor, Segmentation};
use weft::transport::{Disconnect, ipv4};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn boxed<P: weft::host::Program + 'static>(program: P) -> Box<dyn Node> {
    Box::new(Host::new(program))
}

const PEER: fn() -> SocketAddr = || ipv4(10, 0, 0, 9, 50000);

// One program, every driver: the async ping-pong client.

#[test]
fn async_client_under_memory_reactor_plays_and_exits_0() {
    let mut reactor = MemoryReactor::new(pingpong_async::client(
        HostPort::new("server", 8000),
        Some(3),
    ));
    assert_eq!(reactor.tcp_clients()[0].port, 8000);
    let conn = reactor.complete_connect(0);
    assert_eq!(reactor.value(conn), b"*");
    reactor.data_received(conn, b"*");
    reactor.data_received(conn, b"**");
    assert_eq!(
        reactor.value(conn),
        b"**",
        "one answer per read, none at the maximum"
    );
    assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
    assert_eq!(reactor.exit_code(), Some(0));
}

fn async_pingpong_net(seed: u64, config: NetConfig, pings: u64) -> SimNet {
    let mut net = SimNet::new(config, seed);
    net.add_host("server", || {
        boxed(pingpong_async::server(HostPort::new("0.0.0.0", 8000), None))
    });
    net.add_host("client", move || {
        boxed(pingpong_async::client(
            HostPort::new("server", 8000),
            Some(pings),
        ))
    });
    net
}

fn state_machine_pingpong_net(seed: u64, config: NetConfig, pings: u64) -> SimNet {
    let mut net = SimNet::new(config, seed);
    net.add_host("server", || {
        boxed(
            FactoryProgram::new(PingPongFactory::server(None))
                .listen(HostPort::new("0.0.0.0", 8000)),
        )
    });
    net.add_host("client", move || {
        boxed(
            FactoryProgram::new(PingPongFactory::client(Some(pings)))
                .connect(HostPort::new("server", 8000))
                .exit_when_done(),
        )
    });
    net
}

#[test]
fn async_client_under_simnet_exits_0() {
    let mut net = async_pingpong_net(1, NetConfig::default(), 100);
    assert!(net.run_until_exit(&["client"], secs(60)));
    assert_eq!(net.exit_code("client"), Some(0));
}

#[test]
fn async_pingpong_has_the_state_machines_transcript_in_simnet() {
    for seed in 0..20 {
        let config = NetConfig {
            segmentation: Segmentation::Seeded { seed, max: 3 },
            ..NetConfig::default()
        };
        let run = |mut net: SimNet| {
            net = net.capture_logs(tracing::Level::INFO);
            assert!(net.run_until_exit(&["client"], secs(60)));
            net.run_for(secs(1));
            net.transcript().render()
        };
        let state_machine = run(state_machine_pingpong_net(seed, config.clone(), 100));
        let tasks = run(async_pingpong_net(seed, config, 100));
        assert_eq!(tasks, state_machine, "seed {seed}");
        assert!(tasks.contains("Client is closing the connection"));
    }
}

#[test]
fn async_client_over_loopback_plays_against_an_async_server() {
    let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    let mut tx = Some(tx);
    // The server program: one connection, then exit (so the run ends).
    let mut server = Host::new(TaskProgram::new(move |tasks| async move {
        let mut listener = tasks.listen(HostPort::new("127.0.0.1", 0));
        let Ok(addr) = listener.listening().await else {
            return tasks.exit(1);
        };
        if let Some(tx) = tx.take() {
            let _ = tx.send(addr);
        }
        let Ok(conn) = listener.accept().await else {
            return tasks.exit(1);
        };
        let played = play(conn, "Server", None).await;
        tasks.exit(i32::from(!played.reason.is_clean()));
    }));
    let (mut server_lines, mut client_lines) = (Vec::new(), Vec::new());
    let (server_code, client_code) = support::block_on(secs(30), async {
        let client_run = async {
            let addr = rx.await.expect("the server listens");
            let mut client = Host::new(pingpong_async::client(addr.into(), Some(100)));
            run_on(Tokio, &mut client, &mut client_lines).await
        };
        tokio::join!(run_on(Tokio, &mut server, &mut server_lines), client_run)
    });
    assert_eq!(
        (client_code, server_code),
        (0, 0),
        "{client_lines:?} {server_lines:?}"
    );
}

#[test]
fn async_client_under_turmoil_plays_against_an_async_server() {
    let mut sim = turmoil::Builder::new()
        .rng_seed(7)
        .simulation_duration(secs(10))
        .build();
    let codes = Rc::new(RefCell::new(Vec::new()));
    let server_codes = codes.clone();
    sim.client("server", async move {
        let mut host = Host::new(TaskProgram::new(|tasks| async move {
            let mut listener = tasks.listen(HostPort::new("0.0.0.0", 8000));
            let Ok(conn) = listener.accept().await else {
                return tasks.exit(1);
            };
            let played = play(conn, "Server", None).await;
            tasks.exit(i32::from(!played.reason.is_clean()));
        }));
        let code = run_on(Turmoil, &mut host, &mut Vec::new()).await;
        server_codes.borrow_mut().push(("server", code));
        Ok(())
    });
    let client_codes = codes.clone();
    sim.client("client", async move {
        let mut host = Host::new(pingpong_async::client(
            HostPort::new("server", 8000),
            Some(100),
        ));
        let code = run_on(Turmoil, &mut host, &mut Vec::new()).await;
        client_codes.borrow_mut().push(("client", code));
        Ok(())
    });
    sim.run().expect("the simulation runs");
    let mut codes = codes.borrow().clone();
    codes.sort();
    assert_eq!(codes, [("client", 0), ("server", 0)]);
}

// The connection API.

#[test]
fn a_refused_connect_is_a_typed_error_reported_later() {
    let mut reactor = MemoryReactor::new(pingpong_async::client(
        HostPort::new("server", 8000),
        Some(3),
    ));
    assert_eq!(reactor.exit_code(), None, "never inside connect");
    reactor.fail_connect(0, ConnectError::Refused);
    assert_eq!(
        reactor.lines(Stream::Stderr),
        ["connection failed: connection refused"]
    );
    assert_eq!(reactor.exit_code(), Some(1));
}

/// A client that reports how its connect ended, under a 5 s overall limit.
fn connect_reporter() -> TaskProgram {
    TaskProgram::new(|tasks| async move {
        let connect = tasks
            .connect(HostPort::new("server", 8000))
            .connect_timeout(secs(3));
        match tasks.timeout(secs(5), connect).await {
            Ok(Ok(_conn)) => tasks.print("connected"),
            Ok(Err(error)) => tasks.print(format!("connect failed: {error}")),
            Err(timed_out) => tasks.print(timed_out.to_string()),
        }
        tasks.exit(0);
    })
}

#[test]
fn a_connect_timeout_is_passed_to_the_driver() {
    let mut reactor = MemoryReactor::new(connect_reporter());
    assert_eq!(reactor.tcp_clients()[0].timeout, secs(3));
    reactor.fail_connect(0, ConnectError::TimedOut);
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["connect failed: connection timed out"]
    );
}

#[test]
fn a_timed_out_connect_is_withdrawn() {
    let mut reactor = MemoryReactor::new(connect_reporter());
    reactor.advance(secs(5));
    assert_eq!(reactor.lines(Stream::Stdout), ["timed out after 0:00:05"]);
    assert_eq!(
        reactor.cancelled_connects(),
        [reactor.tcp_clients()[0].conn]
    );
}

/// A client that connects, then does `act` with the connection and exits.
fn with_connection(
    act: impl FnOnce(weft::task::Connection) -> Pin<Box<dyn Future<Output = ()>>> + 'static,
) -> TaskProgram {
    TaskProgram::new(move |tasks| async move {
        if let Ok(conn) = tasks.connect(HostPort::new("server", 8000)).await {
            act(conn).await;
        }
        tasks.exit(0);
    })
}

#[test]
fn dropping_a_connection_closes_it_cleanly_after_its_writes() {
    let mut reactor = MemoryReactor::new(with_connection(|mut conn| {
        Box::pin(async move {
            let _ = conn.write(b"bye".to_vec()).await;
        })
    }));
    let conn = reactor.complete_connect(0);
    assert_eq!(reactor.value(conn), b"bye");
    assert_eq!(reactor.lost(conn), Some(Disconnect::Clean));
}

#[test]
fn abort_discards_unsent_bytes_and_resets() {
    let mut reactor = MemoryReactor::new(with_connection(|mut conn| {
        Box::pin(async move {
            let _ = conn.write(b"lost".to_vec()).await;
            conn.abort();
        })
    }));
    let conn = reactor.complete_connect(0);
    assert_eq!(reactor.value(conn), b"");
    assert_eq!(reactor.lost(conn), Some(Disconnect::Aborted));
}

#[test]
fn half_close_sends_end_of_stream_and_keeps_reading() {
    let got = Rc::new(RefCell::new(Vec::new()));
    let seen = got.clone();
    let mut reactor = MemoryReactor::new(with_connection(move |mut conn| {
        Box::pin(async move {
            let _ = conn.write(b"question".to_vec()).await;
            conn.half_close();
            while let Ok(Some(chunk)) = conn.read().await {
                seen.borrow_mut().push(chunk);
            }
            assert_eq!(
                conn.write(b"late".to_vec()).await,
                Err(ConnectionError::Closed)
            );
        })
    }));
    let conn = reactor.complete_connect(0);
    assert!(reactor.is_write_closed(conn));
    reactor.data_received(conn, b"ans");
    reactor.data_received(conn, b"wer");
    reactor.read_connection_lost(conn);
    assert_eq!(
        *got.borrow(),
        [b"ans".to_vec(), b"wer".to_vec()],
        "chunks kept"
    );
    assert_eq!(reactor.value(conn), b"question");
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn a_reset_is_read_as_an_error_after_the_buffered_bytes() {
    // Reading after a reset: what arrived first, then the error.
    let log = Rc::new(RefCell::new(Vec::new()));
    let seen = log.clone();
    let mut reactor = MemoryReactor::new(TaskProgram::new(move |tasks| async move {
        let Ok(mut conn) = tasks.connect(HostPort::new("server", 8000)).await else {
            return;
        };
        tasks.sleep(secs(1)).await;
        loop {
            let read = conn.read().await;
            let end = !matches!(read, Ok(Some(_)));
            seen.borrow_mut().push(read);
            if end {
                break;
            }
        }
    }));
    let conn = reactor.complete_connect(0);
    reactor.data_received(conn, b"poem");
    reactor.connection_lost(conn, Disconnect::Reset);
    reactor.advance(secs(1));
    assert_eq!(
        *log.borrow(),
        [
            Ok(Some(b"poem".to_vec())),
            Err(ConnectionError::Lost(Disconnect::Reset))
        ]
    );
}

#[test]
fn peer_and_own_addresses_are_the_connections() {
    let mut reactor = MemoryReactor::new(TaskProgram::new(|tasks| async move {
        let mut listener = tasks.listen(HostPort::new("0.0.0.0", 8000));
        if let Ok(conn) = listener.accept().await {
            tasks.print(format!("{:?} {:?}", conn.peer(), conn.local()));
        }
    }));
    assert_eq!(reactor.tcp_servers()[0].port, 8000);
    reactor.accept(0, PEER());
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["Some(10.0.0.9:50000) Some(10.0.0.1:8000)"]
    );
}

#[test]
fn writes_wait_under_back_pressure_until_the_queue_drains() {
    // A slow consumer; the async client writes 1 MiB in 8 KiB writes and counts how
    // often a write had to wait.
    const TOTAL: usize = 1 << 20;
    let mut net = SimNet::new(NetConfig::default(), 3);
    net.add_host("server", || {
        boxed(
            FactoryProgram::new(ReceivingServerFactory {
                read_pause: Some(Duration::from_millis(10)),
            })
            .listen(HostPort::new("0.0.0.0", 8000)),
        )
    });
    net.add_host("client", || {
        boxed(TaskProgram::new(|tasks| async move {
            let Ok(mut conn) = tasks.connect(HostPort::new("server", 8000)).await else {
                return tasks.exit(2);
            };
            let mut waited = 0;
            for _ in 0..TOTAL / 8192 {
                let before = tasks.now();
                if conn.write(vec![b'x'; 8192]).await.is_err() {
                    return tasks.exit(1);
                }
                waited += usize::from(tasks.now() > before);
            }
            tasks.print(format!("waited {waited}"));
            let reason = conn.close().await;
            tasks.exit(i32::from(!reason.is_clean()));
        }))
    });
    assert!(net.run_until_exit(&["client"], secs(600)));
    assert_eq!(net.exit_code("client"), Some(0));
    net.run_for(secs(60));
    let waited: usize = net.lines("client", Stream::Stdout)[0]
        .strip_prefix("waited ")
        .and_then(|n| n.parse().ok())
        .expect("the count");
    assert!(waited > 0, "some writes waited for the queue to drain");
    let events = net.transcript().events();
    let received: usize = events
        .iter()
        .filter(|e| e.who.starts_with("client") && e.who.contains('>'))
        .filter_map(|e| match &e.what {
            EventKind::Data(bytes) => Some(bytes.len()),
            _ => None,
        })
        .sum();
    assert_eq!(received, TOTAL, "every byte arrived");
}

// Timers on the host clock.

#[test]
fn tv25_an_idle_timeout_is_reset_by_data() {
    // TimeoutMixin: setTimeout(30) at 0, data at 20 resets it to 50.
    let mut reactor = MemoryReactor::new(TaskProgram::new(|tasks| async move {
        let mut listener = tasks.listen(HostPort::new("0.0.0.0", 8000));
        let Ok(mut conn) = listener.accept().await else {
            return;
        };
        loop {
            match tasks.timeout(secs(30), conn.read()).await {
                Ok(Ok(Some(_))) => continue,
                Ok(_) => break,
                Err(TimedOut { .. }) => {
                    tasks.print(format!("idle at {}", tasks.now()));
                    break;
                }
            }
        }
        // Dropping the connection: timeoutConnection's loseConnection.
    }));
    let conn = reactor.accept(0, PEER());
    reactor.advance(secs(20));
    reactor.data_received(conn, b"still here");
    reactor.advance(secs(29));
    assert!(reactor.is_connected(conn), "still connected at 49 s");
    reactor.advance(secs(1));
    assert_eq!(
        reactor.lost(conn),
        Some(Disconnect::Clean),
        "closed at 50 s"
    );
    assert_eq!(reactor.lines(Stream::Stdout), ["idle at 50.000000"]);
}

#[test]
fn an_interval_skips_missed_ticks_like_looping_call() {
    let mut reactor = MemoryReactor::new(TaskProgram::new(|tasks| async move {
        let mut every = tasks.interval(secs(30));
        loop {
            let at = every.tick().await;
            tasks.print(format!("tick at {at}"));
        }
    }));
    reactor.advance(secs(60));
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["tick at 0.000000", "tick at 60.000000"],
        "the tick due at 30 s is skipped, as the heartbeat's"
    );
    reactor.advance(secs(30));
    assert_eq!(reactor.lines(Stream::Stdout).len(), 3);
}

/// Part 19's `get_poem`: the poem is sent at 5 s.
async fn get_poem(tasks: &weft::task::Tasks) -> &'static str {
    tasks.sleep(secs(5)).await;
    tasks.print("Sending poem");
    "Once upon a midnight dreary"
}

#[test]
fn part19_cancelling_the_poem_future_cancels_its_timer() {
    // defer-cancel-11: the canceller cancels the delayed call: nothing at 5 s.
    let mut reactor = MemoryReactor::new(TaskProgram::new(|tasks| async move {
        match tasks.timeout(secs(2), get_poem(&tasks)).await {
            Ok(poem) => tasks.print(format!("I got a poem: {poem}")),
            Err(error) => tasks.print(format!("get_poem failed: {error}")),
        }
        tasks.sleep(secs(8)).await;
        tasks.exit(0);
    }));
    reactor.advance(secs(2));
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["get_poem failed: timed out after 0:00:02"]
    );
    reactor.advance(secs(3));
    assert_eq!(reactor.lines(Stream::Stdout).len(), 1, "nothing at 5 s");
    reactor.advance(secs(5));
    assert_eq!(reactor.exit_code(), Some(0));
}

#[test]
fn part19_a_spawned_poem_goes_on_when_its_waiter_gives_up() {
    // defer-cancel-10: cancelling the Deferred does not stop the operation.
    let mut reactor = MemoryReactor::new(TaskProgram::new(|tasks| async move {
        let poem = tasks.spawn({
            let tasks = tasks.clone();
            async move { get_poem(&tasks).await }
        });
        match tasks.timeout(secs(2), poem).await {
            Ok(poem) => tasks.print(format!("I got a poem: {poem:?}")),
            Err(error) => tasks.print(format!("get_poem failed: {error}")),
        }
    }));
    reactor.advance(secs(2));
    reactor.advance(secs(3));
    assert_eq!(
        reactor.lines(Stream::Stdout),
        ["get_poem failed: timed out after 0:00:02", "Sending poem"]
    );
}

#[test]
fn a_spawned_task_hands_its_result_to_its_join_handle() {
    // ensureDeferred: the coroutine runs as a task; its handle is the Deferred.
    let mut reactor = MemoryReactor::new(TaskProgram::new(|tasks| async move {
        let (d, awaited) = weft::task::oneshot::channel::<i64>();
        let add = tasks.spawn(async move { awaited.await.map(|x| x + 1) });
        tasks.sleep(secs(1)).await;
        d.send(1).unwrap();
        tasks.print(format!("{:?}", add.await));
    }));
    reactor.advance(secs(1));
    assert_eq!(reactor.lines(Stream::Stdout), ["Some(Ok(2))"]);
    assert_eq!(reactor.program().live_tasks(), 0);
}

/// sim/pingpong-async.toml is sim/pingpong.toml with both sides as async tasks: the same
/// transcript, byte for byte, whatever the seed (the scenario files through the catalogue,
/// as `weft sim` runs them).
#[test]
fn the_async_pingpong_scenario_replays_the_state_machines_transcript() {
    let catalogue = weft::programs::catalogue();
    let load = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sim")
            .join(name);
        weft::scenario::Scenario::load(&path, &catalogue).unwrap_or_else(|e| panic!("{e}"))
    };
    let (state_machine, tasks) = (load("pingpong.toml"), load("pingpong-async.toml"));
    for seed in 0..20 {
        let expected = state_machine.run(&catalogue, seed).expect("runs");
        let actual = tasks.run(&catalogue, seed).expect("runs");
        assert!(actual.passed(), "seed {seed}: {:?}", actual.failures);
        assert_eq!(
            actual.transcript.render(),
            expected.transcript.render(),
            "seed {seed}"
        );
    }
}
