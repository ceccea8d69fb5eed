//! The poetry scenarios of `sim/` twice: on SimNet (the file as written, through
//! `Scenario`), and through the tokio driver over turmoil's simulated network, with the
//! same hosts, programs, options and faults read from the same file. The outcomes must
//! agree.
//!
//! Compared, per awaited client: the exit status; every download's result (the poem's
//! bytes, or the failure's text); stderr, line for line; stdout without the lines that
//! carry read sizes, times or resolved addresses (`Task 1: got 30 bytes ... from
//! 10.0.0.1:10000`, `Got 3 poems in ...`, `Task 1 finished`), which depend on how each
//! network cuts reads and names hosts; and when get-poetry finished, on its own clock.
//! For the servers: how many connections each accepted (the proxy's upstream fetches).
//!
//! Both networks get the same latency (turmoil's fixed at 1 ms, equal to its tick; the
//! scenario's set to 1 ms for the SimNet run, where the files say 0), so the finishing
//! times must be equal, and equal to the protocol's figure plus the hops it needs. What
//! the two do not share: SimNet models kernel buffers, windows, re-segmentation and
//! retransmission; turmoil delivers each write as one message, and its dropping
//! partition loses messages for good.
//!

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use weft::host::{Host, Node, Stream};
use weft::net::{Turmoil, run_on};
use weft::programs::poetry::{GetPoetry, PoetryProxy};
use weft::programs::raw::RawClient;
use weft::scenario::{HostSpec, Scenario};
use weft::simnet::{FaultAction, Latency, PartitionMode, SimNet};
use weft::time::Instant;

use support::{Watch, Watched};

/// Both networks' one-way latency, and turmoil's tick.
const LATENCY: Duration = Duration::from_millis(1);

type Lines = Vec<(Stream, String)>;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sim").join(name);
    let mut scenario =
        Scenario::load(&path, &weft::programs::catalogue()).expect("the scenario loads");
    scenario.network.latency = Latency::Fixed(LATENCY);
    scenario
}

/// What one host ended with, on either network.
#[derive(Clone, Debug, Default, PartialEq)]
struct Ended {
    code: Option<i32>,
    lines: Lines,
    /// get-poetry only: each download's poem or failure, in input order.
    results: Vec<Result<Vec<u8>, String>>,
    /// get-poetry only: when the last download ended, on the host's clock.
    finished_at: Option<Instant>,
}

impl Ended {
    fn of(node: &dyn Node, code: Option<i32>, lines: Lines) -> Self {
        let mut ended = Self {
            code,
            lines,
            ..Self::default()
        };
        if let Some(host) = (node as &dyn std::any::Any).downcast_ref::<Host<GetPoetry>>() {
            let results = host.program().results();
            ended.results = (0..results.len())
                .filter_map(|i| results.get(i))
                .map(|r| match r {
                    Ok(poem) => Ok(poem.as_bytes().to_vec()),
                    Err(error) => Err(error.to_string()),
                })
                .collect();
            ended.finished_at = host.program().finished_at();
        }
        ended
    }

    fn stdout(&self) -> Vec<&str> {
        self.lines(Stream::Stdout)
    }

    fn lines(&self, stream: Stream) -> Vec<&str> {
        (self.lines.iter())
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.as_str())
            .collect()
    }
}

/// A scenario's outcome on one network: the awaited hosts' ends, and for the others
/// (the servers) how many connections they accepted.
#[derive(Debug, Default)]
struct Run {
    clients: BTreeMap<String, Ended>,
    accepted: BTreeMap<String, usize>,
    /// SimNet only: the proxy's upstream fetches.
    fetches: Option<u64>,
}

fn on_simnet(scenario: &Scenario) -> Run {
    let mut net: SimNet = scenario
        .network(&weft::programs::catalogue(), scenario.seed)
        .expect("the network builds");
    let awaited: Vec<&str> = scenario.expect.exit.keys().map(String::as_str).collect();
    assert!(
        net.run_until_exit(&awaited, scenario.duration),
        "every client exits"
    );
    let mut run = Run::default();
    for name in awaited {
        let node = net.node(name).expect("a node");
        let node = node
            .downcast_ref::<Host<GetPoetry>>()
            .map(|h| h as &dyn Node)
            .or_else(|| {
                node.downcast_ref::<Host<RawClient>>()
                    .map(|h| h as &dyn Node)
            })
            .expect("a get-poetry or raw client");
        let ended = Ended::of(node, net.exit_code(name), net.output(name).to_vec());
        run.clients.insert(name.to_owned(), ended);
    }
    run.fetches = (scenario.hosts.iter())
        .filter_map(|h| net.program::<PoetryProxy>(&h.name))
        .map(|proxy| proxy.stats().fetches)
        .next();
    let transcript = net.transcript().render();
    for host in &scenario.hosts {
        if !scenario.expect.exit.contains_key(&host.name) && host.program != "proxy" {
            let count = (transcript.lines())
                .filter(|l| l.split_whitespace().nth(1) == Some(host.name.as_str()))
                .filter(|l| l.contains("| log: Somebody at"))
                .count();
            run.accepted.insert(host.name.clone(), count);
        }
    }
    run
}

/// The program a scenario host runs, built from weft's built-in catalogue.
fn program(spec: &HostSpec) -> Box<dyn Node> {
    spec.node(&weft::programs::catalogue())
        .expect("the scenario's programs build")
}

fn on_turmoil(scenario: &Scenario) -> Run {
    let mut sim = turmoil::Builder::new()
        .rng_seed(scenario.seed)
        .tick_duration(LATENCY)
        .min_message_latency(LATENCY)
        .max_message_latency(LATENCY)
        .simulation_duration(scenario.duration)
        .build();
    let clients: Rc<RefCell<BTreeMap<String, Ended>>> = Rc::default();
    let mut watches: BTreeMap<String, Watch> = BTreeMap::new();
    for spec in &scenario.hosts {
        let name = spec.name.clone();
        if scenario.expect.exit.contains_key(&name) {
            let (spec, out) = (spec.clone(), clients.clone());
            sim.client(name.as_str(), async move {
                let mut node = program(&spec);
                let mut lines = Lines::new();
                let code = run_on(Turmoil, node.as_mut(), &mut lines).await;
                let ended = Ended::of(node.as_ref(), Some(code), lines);
                out.borrow_mut().insert(spec.name.clone(), ended);
                Ok(())
            });
        } else {
            // A server runs until the simulation ends; the test reads what it saw.
            let seen = Watch::default();
            watches.insert(name.clone(), seen.clone());
            let spec = spec.clone();
            sim.host(name.as_str(), move || {
                let (spec, seen) = (spec.clone(), seen.clone());
                async move {
                    let mut node = Watched::sharing(program(&spec), seen);
                    run_on(Turmoil, &mut node, &mut Lines::new()).await;
                    Ok(())
                }
            });
        }
    }
    let mut faults: Vec<(Duration, FaultAction)> = (scenario.faults.iter())
        .map(|f| (f.at.expect("faults at a time"), f.action.clone()))
        .collect();
    faults.sort_by_key(|(at, _)| *at);
    let mut faults = faults.into_iter().peekable();
    loop {
        while let Some((_, action)) = faults.next_if(|(at, _)| *at <= sim.elapsed()) {
            match action {
                FaultAction::Partition(p) if p.mode == PartitionMode::Drop => {
                    sim.partition(p.a.as_str(), p.b.as_str());
                }
                FaultAction::Partition(p) => sim.hold(p.a.as_str(), p.b.as_str()),
                FaultAction::Heal(b) => {
                    sim.release(b.a.as_str(), b.b.as_str());
                    sim.repair(b.a.as_str(), b.b.as_str());
                }
                other => panic!("no turmoil translation for {other:?}"),
            }
        }
        if sim.step().expect("the simulation runs") {
            break;
        }
    }
    let accepted = (watches.iter())
        .filter(|(name, _)| {
            let spec = scenario.hosts.iter().find(|h| &h.name == *name);
            spec.is_some_and(|h| h.program != "proxy")
        })
        .map(|(name, seen)| (name.clone(), seen.borrow().accepted))
        .collect();
    let clients = clients.borrow().clone();
    Run {
        clients,
        accepted,
        fetches: None,
    }
}

/// Asserts the two runs' clients agree on status and poems (and on the lines that do
/// not carry times or addresses); returns both.
fn agree(name: &str) -> (Run, Run) {
    let scenario = scenario(name);
    let simnet = on_simnet(&scenario);
    let turmoil = on_turmoil(&scenario);
    assert_eq!(
        simnet.clients.keys().collect::<Vec<_>>(),
        turmoil.clients.keys().collect::<Vec<_>>(),
        "every client ended on both"
    );
    for (host, sim) in &simnet.clients {
        let tur = &turmoil.clients[host];
        assert_eq!((host, sim.code), (host, tur.code), "exit status");
        assert_eq!(sim.results, tur.results, "{host}: poems and failures");
        assert_eq!(
            sim.lines(Stream::Stderr),
            tur.lines(Stream::Stderr),
            "{host}"
        );
        let stable = |e: &Ended| -> Vec<String> {
            (e.stdout().into_iter())
                .filter(|l| !l.contains(" got ") && !l.contains(" in ") && !l.contains("finished"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            stable(sim),
            stable(tur),
            "{host}: stdout without times and reads"
        );
    }
    (simnet, turmoil)
}

#[test]
fn part2_async_client_takes_the_longest_download_on_both_networks() {
    let (simnet, turmoil) = agree("part2-async-client.toml");
    let (sim, tur) = (&simnet.clients["client"], &turmoil.clients["client"]);
    assert_eq!(sim.code, Some(0));
    assert_eq!(sim.results.len(), 3);
    // 101 chunks of 30 bytes, 0.1 s apart: the close 10.1 s after the first chunk.
    // The server writes that chunk as it accepts, one hop after the client's connect,
    // and the close reaches the client one hop after the server sends it: 10.1 s and
    // two latencies, to the nanosecond on both networks (and not the 23 s sum).
    let expected = Instant::ZERO + Duration::from_millis(10_100) + 2 * LATENCY;
    assert_eq!(sim.finished_at, Some(expected), "simnet");
    assert_eq!(tur.finished_at, Some(expected), "turmoil");
    assert!(
        sim.stdout()
            .last()
            .is_some_and(|l| l.starts_with("Got 3 poems in 0:00:10.1"))
    );
    assert!(
        tur.stdout()
            .last()
            .is_some_and(|l| l.starts_with("Got 3 poems in 0:00:10.1"))
    );
}

#[test]
fn part2_blocking_client_takes_the_sum_on_both_networks() {
    let (simnet, turmoil) = agree("part2-blocking-client.toml");
    let (sim, tur) = (&simnet.clients["client"], &turmoil.clients["client"]);
    assert_eq!(sim.code, Some(0));
    // 10.1 + 6.3 + 6.6 = 23 s, one download after the other, each with its two hops.
    let expected = Instant::ZERO + Duration::from_secs(23) + 6 * LATENCY;
    assert_eq!(sim.finished_at, Some(expected), "simnet");
    assert_eq!(tur.finished_at, Some(expected), "turmoil");
    let per_task = |e: &Ended| -> Vec<String> {
        (e.stdout().iter())
            .filter_map(|l| l.split_once(" in ").map(|(head, _)| head.to_owned()))
            .collect()
    };
    assert_eq!(per_task(sim), per_task(tur));
    assert_eq!(
        per_task(sim),
        [
            "Task 1: got 3003 bytes of poetry from poet1:10000",
            "Task 2: got 623 bytes of poetry from poet2:10001",
            "Task 3: got 653 bytes of poetry from poet3:10002",
            "Got 3 poems",
        ]
    );
}

#[test]
fn proxy_fetches_once_for_three_readers_and_serves_the_late_one_from_the_cache_on_both() {
    let (simnet, turmoil) = agree("proxy-three-clients.toml");
    for run in [&simnet, &turmoil] {
        for reader in ["reader1", "reader2", "reader3"] {
            let ended = &run.clients[reader];
            assert_eq!(ended.code, Some(0), "{reader}");
            assert_eq!(ended.results.len(), 1);
            let poem = ended.results[0].as_ref().expect("a poem");
            assert_eq!(
                poem.as_slice(),
                weft::programs::poetry::poems::TEN_BYTES.as_bytes()
            );
        }
        let late = &run.clients["late"];
        assert_eq!(late.code, Some(0));
        assert!(
            late.stdout()[0].starts_with("received 623 bytes"),
            "{late:?}"
        );
    }
    assert_eq!(simnet.fetches, Some(1), "one upstream fetch on SimNet");
    assert_eq!(simnet.accepted["poet"], 1);
    assert_eq!(
        turmoil.accepted["poet"], 1,
        "one upstream connection under turmoil"
    );
    let (sim, tur) = (&simnet.clients["late"], &turmoil.clients["late"]);
    assert_eq!(
        sim.stdout(),
        tur.stdout(),
        "the late reader's bytes and close"
    );
}

#[test]
fn a_server_partitioned_mid_poem_makes_get_poetry_time_out_on_both() {
    let (simnet, turmoil) = agree("partition-mid-poem.toml");
    for run in [&simnet, &turmoil] {
        let client = &run.clients["client"];
        assert_eq!(client.code, Some(1));
        assert_eq!(
            client.lines(Stream::Stderr),
            ["Task 1 failed: poet:10000: timed out after 0:00:05"]
        );
        // The timeout starts with the connect, at zero on the client's clock.
        assert_eq!(
            client.finished_at,
            Some(Instant::ZERO + Duration::from_secs(5))
        );
    }
}

#[test]
fn client_8_with_the_transform_service_cummingsifies_every_poem_on_both_networks() {
    let (simnet, turmoil) = agree("client8-transform.toml");
    for run in [&simnet, &turmoil] {
        let client = &run.clients["client"];
        assert_eq!(client.code, Some(0));
        assert!(
            client.lines(Stream::Stderr).is_empty(),
            "no Cummingsify failed!"
        );
        let stdout = client.stdout().join("\n");
        for title in [
            "the loom of wires",
            "ten bytes at a time",
            "the clock that never ticks alone",
        ] {
            assert!(stdout.contains(title), "{title} missing from {stdout}");
        }
        assert!(
            !stdout.contains("The Loom of Wires"),
            "a poem was not transformed"
        );
    }
    // SimNet counts accepts from the poetry servers' log lines; turmoil counts them all.
    let poets = |run: &Run| -> Vec<usize> {
        ["poet1", "poet2", "poet3"]
            .iter()
            .map(|p| run.accepted[*p])
            .collect()
    };
    assert_eq!(
        poets(&simnet),
        [1, 1, 1],
        "one connection per poetry server"
    );
    assert_eq!(poets(&turmoil), [1, 1, 1]);
    assert_eq!(
        turmoil.accepted["xform"], 3,
        "one transform request per poem"
    );
}
