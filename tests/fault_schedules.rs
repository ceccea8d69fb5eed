//! Properties of the poetry system under generated fault schedules and
//! re-segmentations, with proptest shrinking a failure to a minimal schedule.
//!
//! Each case builds a SimNet, applies a schedule of partitions (dropping or holding),
//! heals, crashes and restarts of server hosts, connection resets and latency changes,
//! and cuts every read as the generated segmentation says; then it checks a property
//! that must hold whatever the network did.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

use weft::host::{ConnId, ConnectError, Host, HostContext, HostPort, Node, Program};
use weft::programs::poetry::{
    FastPoetryFactory, GetPoetry, GetPoetryOptions, GetPoetryTimer, Pace, Poem, PoetryProxy,
    ProxyOptions, ReportStyle, SlowPoetryFactory,
};
use weft::programs::transform::TransformFactory;
use weft::simnet::{Fault, Latency, NetConfig, SimNet};
use weft::testing::Segmentation;
use weft::testing::strategies::{Schedule, segmentation};
use weft::time::Instant;
use weft::transport::Disconnect;

const TIMEOUT: Duration = Duration::from_secs(5);
const WORST_LATENCY: Duration = Duration::from_millis(20);

/// Faults touching only `hosts`, crashes only of `servers` (clients are never
/// crashed: the properties are about what they report).
fn schedule(
    hosts: &'static [&'static str],
    servers: &'static [&'static str],
    window: Duration,
) -> impl Strategy<Value = Vec<Fault>> {
    Schedule::new(hosts.iter().copied(), window)
        .crashable(servers.iter().copied())
        .strategy()
}

fn net(segmentation: Segmentation, faults: &[Fault]) -> SimNet {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: WORST_LATENCY,
        },
        segmentation,
        retransmit_timeout: Duration::from_secs(10),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, 7);
    for fault in faults {
        net.add_fault(fault.clone());
    }
    net
}

fn node<P: Program + 'static>(program: P) -> Box<dyn Node> {
    Box::new(Host::new(program))
}

fn slow_server(net: &mut SimNet, name: &str, poem: &'static str, port: u16) {
    net.add_host(name, move || {
        let factory = SlowPoetryFactory::new(
            Poem::builtin(poem).unwrap(),
            Pace::new(100, Duration::from_millis(100)),
        );
        node(weft::host::FactoryProgram::new(factory).listen(HostPort::new("0.0.0.0", port)))
    });
}

fn config() -> Config {
    Config {
        cases: 192,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A download client: get-poetry, or (to show the properties catch bugs) get-poetry
/// with its timeouts switched off by a bug.
fn download_net(faults: &[Fault], segmentation: Segmentation, honest: bool) -> SimNet {
    let mut net = net(segmentation, faults);
    slow_server(&mut net, "poet1", "loom", 10000);
    slow_server(&mut net, "poet2", "clock", 10001);
    let options = GetPoetryOptions::new(vec![
        HostPort::new("poet1", 10000),
        HostPort::new("poet2", 10001),
    ])
    .timeout(TIMEOUT)
    .report(ReportStyle::Quiet);
    net.add_host("client", move || {
        let program = GetPoetry::new(options.clone());
        if honest {
            node(program)
        } else {
            node(IgnoresTimeouts(program))
        }
    });
    net
}

/// Every download ends exactly once (the client exits, with one result per server), and
/// within its timeout plus the network's worst latency.
fn downloads_end_once_in_time(
    faults: &[Fault],
    segmentation: Segmentation,
    honest: bool,
) -> Result<(), TestCaseError> {
    let mut net = download_net(faults, segmentation, honest);
    let exited = net.run_until_exit(&["client"], Duration::from_secs(120));
    prop_assert!(exited, "the client never exited");
    let deadline = Instant::ZERO + TIMEOUT + WORST_LATENCY;
    prop_assert!(
        net.now() <= deadline,
        "the client exited at {}, after {deadline}",
        net.now()
    );
    if honest {
        let client = net
            .node("client")
            .unwrap()
            .downcast_ref::<Host<GetPoetry>>()
            .unwrap();
        let results = client.program().results();
        prop_assert!(results.is_done());
        prop_assert_eq!(
            results.settle_order().len(),
            2,
            "each download settled once"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_download_ends_exactly_once_within_its_timeout(
        faults in schedule(&["poet1", "poet2", "client"], &["poet1", "poet2"], Duration::from_secs(6)),
        cuts in segmentation(),
    ) {
        downloads_end_once_in_time(&faults, cuts, true)?;
    }

    #[test]
    fn the_proxy_never_caches_a_poem_cut_short_by_a_reset_or_a_timeout(
        faults in schedule(&["poet", "proxy", "reader1"], &["poet"], Duration::from_secs(8)),
        cuts in segmentation(),
    ) {
        let mut net = net(cuts, &faults);
        slow_server(&mut net, "poet", "ten-bytes", 10000);
        net.add_host("proxy", || {
            // A short upstream timeout, so partitions also end fetches by timing out.
            let options = ProxyOptions::new(HostPort::new("0.0.0.0", 8000), HostPort::new("poet", 10000))
                .upstream_timeout(Some(Duration::from_secs(1)));
            node(PoetryProxy::new(options))
        });
        for reader in ["reader1", "reader2", "reader3"] {
            net.add_host(reader, || {
                let options = GetPoetryOptions::new(vec![HostPort::new("proxy", 8000)])
                    .timeout(Duration::from_secs(20))
                    .report(ReportStyle::Quiet);
                node(GetPoetry::new(options))
            });
        }
        net.run_until(Instant::from_secs(30));
        let full = Poem::builtin("ten-bytes").unwrap();
        if let Some(proxy) = net.node("proxy").and_then(|n| n.downcast_ref::<Host<PoetryProxy>>())
            && let Some(cached) = proxy.program().cached()
        {
            prop_assert_eq!(cached, &full, "the proxy cached a poem cut short");
        }
        // A failed fetch reaches its waiters as an empty close (the protocol has no
        // other way to say so); anything else a reader gets must be the whole poem.
        for reader in ["reader1", "reader2", "reader3"] {
            let client = net.node(reader).unwrap().downcast_ref::<Host<GetPoetry>>().unwrap();
            if let Some(Ok(poem)) = client.program().results().get(0) {
                prop_assert!(poem == &full || poem.is_empty(), "{} was served a poem cut short: {:?}", reader, poem);
            }
        }
    }

    #[test]
    fn a_transformed_poem_is_whole_or_the_original(
        faults in schedule(&["poet", "transformer", "client"], &["poet", "transformer"], Duration::from_secs(3)),
        cuts in segmentation(),
    ) {
        let mut net = net(cuts, &faults);
        net.add_host("poet", || {
            node(weft::host::FactoryProgram::new(FastPoetryFactory::new(Poem::builtin("clock").unwrap()))
                .listen(HostPort::new("0.0.0.0", 10000)))
        });
        net.add_host("transformer", || {
            node(weft::host::FactoryProgram::new(TransformFactory::default()).listen(HostPort::new("0.0.0.0", 11000)))
        });
        net.add_host("client", || {
            let options = GetPoetryOptions::new(vec![HostPort::new("poet", 10000)])
                .timeout(TIMEOUT)
                .transform(HostPort::new("transformer", 11000))
                .report(ReportStyle::Quiet);
            node(GetPoetry::new(options))
        });
        prop_assert!(net.run_until_exit(&["client"], Duration::from_secs(60)));
        let original = Poem::builtin("clock").unwrap();
        let lowered = Poem::new(original.as_bytes().to_ascii_lowercase());
        let client = net.node("client").unwrap().downcast_ref::<Host<GetPoetry>>().unwrap();
        if let Some(Ok(poem)) = client.program().results().get(0) {
            prop_assert!(poem == &lowered || poem == &original, "a partial or malformed reply was taken as a poem");
            let fell_back = client.program().transform_error(0).is_some();
            prop_assert_eq!(poem == &original, fell_back || original == lowered);
        }
    }
}

/// A deliberately broken client: get-poetry whose download timeouts are lost (a bug
/// of the kind the first property exists to catch).
struct IgnoresTimeouts(GetPoetry);

impl Program for IgnoresTimeouts {
    type Timer = GetPoetryTimer;
    fn start(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>) {
        self.0.start(cx);
    }
    fn connection_made(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, conn: ConnId) {
        self.0.connection_made(cx, conn);
    }
    fn data_received(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        data: &[u8],
    ) {
        self.0.data_received(cx, conn, data);
    }
    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, conn: ConnId) {
        self.0.read_connection_lost(cx, conn);
    }
    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        self.0.connection_lost(cx, conn, reason);
    }
    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        self.0.connect_failed(cx, conn, error);
    }
    fn timer_fired(&mut self, cx: &mut HostContext<'_, GetPoetryTimer>, timer: GetPoetryTimer) {
        if !matches!(timer, GetPoetryTimer::Timeout(_)) {
            self.0.timer_fired(cx, timer);
        }
    }
}

#[test]
fn a_client_that_ignores_its_timeout_is_caught_and_the_schedule_shrinks_small() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        schedule(
            &["poet1", "poet2", "client"],
            &["poet1", "poet2"],
            Duration::from_secs(6),
        ),
        segmentation(),
    );
    let result = runner.run(&strategy, |(faults, cuts)| {
        downloads_end_once_in_time(&faults, cuts, false)
    });
    let Err(TestError::Fail(why, (minimal, cuts))) = result else {
        panic!("the broken client was not caught: {result:?}");
    };
    assert!(
        minimal.len() <= 2,
        "the schedule shrank to {} faults: {minimal:#?} ({why})",
        minimal.len()
    );
    // The minimal schedule really breaks the broken client and not the honest one.
    assert!(downloads_end_once_in_time(&minimal, cuts.clone(), false).is_err());
    assert!(downloads_end_once_in_time(&minimal, cuts, true).is_ok());
}

#[test]
fn weft_sim_shrink_reduces_a_seeded_schedule_to_the_fault_that_matters() {
    // A client with no patience for partitions: any partition longer than its timeout
    // fails it. Seeded faults add partitions and resets everywhere.
    let text = r#"
        seed = 3
        duration = "60s"
        [network]
        latency = { uniform = { min = "1ms", max = "10ms" } }
        [[hosts]]
        name = "poet"
        program = "slow-poetry"
        options = { port = 10000, poem = "clock", num-bytes = 10, delay = "0.1s" }
        [[hosts]]
        name = "bystander"
        program = "sink"
        options = { port = 7000 }
        [[hosts]]
        name = "client"
        program = "get-poetry"
        options = { servers = ["poet:10000"], timeout = "10s" }
        [random-faults]
        partition-every = "1s"
        partition-lasting = "4s"
        reset-every = "3s"
        until = "8s"
        [expect]
        exit = { client = 0 }
    "#;
    let catalogue = weft::programs::catalogue();
    let scenario = weft::scenario::Scenario::parse("impatient", text, &catalogue).unwrap();
    let failing = (0..50)
        .find(|&seed| !scenario.run(&catalogue, seed).unwrap().passed())
        .expect("some seed breaks the client");
    let report = weft::scenario::shrink(&catalogue, &scenario, failing)
        .unwrap()
        .expect("it fails");
    assert!(
        report.original_faults > 4,
        "{} faults to start from",
        report.original_faults
    );
    assert!(
        report.minimal.faults.len() <= 2,
        "shrunk to {:#?}",
        report.minimal.faults
    );
    assert!(
        report.minimal.random_faults.is_none(),
        "the schedule is explicit"
    );
    assert!(
        !report.minimal.run(&catalogue, failing).unwrap().passed(),
        "the minimal schedule still fails"
    );
    // It round-trips through its file format.
    let again =
        weft::scenario::Scenario::parse("again", &report.minimal.to_toml(), &catalogue).unwrap();
    assert_eq!(again.faults, report.minimal.faults);
}
