//! The same programs on turmoil's simulated network, through the tokio driver's
//! turmoil backend: hosts find each other by name, ports are simulated.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use weft::host::{FactoryProgram, Host, HostPort, Stream};
use weft::net::{Turmoil, run_on};
use weft_kv::{ClientOptions, KvClient, KvFactory, kv_client_async};

type Lines = Vec<(Stream, String)>;

fn sim(seed: u64) -> turmoil::Sim<'static> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(60))
        .build()
}

fn add_server(sim: &mut turmoil::Sim<'_>) {
    sim.host("server", || async {
        let server =
            FactoryProgram::new(KvFactory::new(None)).listen(HostPort::new("0.0.0.0", 7000));
        let mut host = Host::new(server);
        run_on(Turmoil, &mut host, &mut Lines::new()).await;
        Ok(())
    });
}

/// Runs the client `form` builds to its end; returns its exit status and lines.
fn run_client(sim: &mut turmoil::Sim<'_>, async_form: bool) -> Rc<RefCell<(i32, Lines)>> {
    let out = Rc::new(RefCell::new((-1, Lines::new())));
    let result = out.clone();
    sim.client("client", async move {
        let options = ClientOptions::new(HostPort::new("server", 7000), &["SET k 1", "GET k"]);
        let mut lines = Lines::new();
        let code = if async_form {
            run_on(
                Turmoil,
                &mut Host::new(kv_client_async(options)),
                &mut lines,
            )
            .await
        } else {
            run_on(Turmoil, &mut Host::new(KvClient::new(options)), &mut lines).await
        };
        *result.borrow_mut() = (code, lines);
        Ok(())
    });
    out
}

#[test]
fn both_clients_are_answered_under_turmoil() {
    for async_form in [false, true] {
        let mut sim = sim(7);
        add_server(&mut sim);
        let out = run_client(&mut sim, async_form);
        sim.run().expect("the simulation ends");
        let (code, lines) = &*out.borrow();
        assert_eq!(*code, 0, "{lines:?}");
        let stdout: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            stdout,
            ["SET k 1 -> OK", "GET k -> VALUE 1"],
            "async: {async_form}"
        );
    }
}

#[test]
fn a_client_retries_through_a_turmoil_partition() {
    let mut sim = sim(3);
    add_server(&mut sim);
    let out = run_client(&mut sim, false);
    sim.partition("client", "server");
    // Two seconds of a cut link, then the network heals.
    for _ in 0..2000 {
        sim.step().expect("a step");
    }
    sim.repair("client", "server");
    sim.run().expect("the simulation ends");
    let (code, lines) = &*out.borrow();
    assert_eq!(*code, 0, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|(s, l)| *s == Stream::Stderr && l.contains("retrying in")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|(_, l)| l == "GET k -> VALUE 1"),
        "{lines:?}"
    );
}
