//! A SimNet with the key-value server and one client, shared by the network tests.

use std::time::Duration;

use weft::host::{FactoryProgram, Host, HostPort, Node};
use weft::simnet::{Fault, Latency, NetConfig, SimNet};
use weft_kv::{ClientOptions, KvClient, KvFactory, kv_client_async};

/// Which form of the client runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Form {
    /// `KvClient`.
    StateMachine,
    /// `kv_client_async`.
    Async,
}

/// A server on `server:7000` and a client named `client` sending `commands`, on a
/// network of 1 to 20 ms latency with `faults`.
pub(crate) fn kv_net(seed: u64, form: Form, options: ClientOptions, faults: &[Fault]) -> SimNet {
    let config = NetConfig {
        latency: Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(20),
        },
        retransmit_timeout: Duration::from_secs(10),
        ..NetConfig::default()
    };
    let mut net = SimNet::new(config, seed);
    net.add_host("server", || {
        let server =
            FactoryProgram::new(KvFactory::new(None)).listen(HostPort::new("0.0.0.0", 7000));
        Box::new(Host::new(server)) as Box<dyn Node>
    });
    net.add_host("client", move || match form {
        Form::StateMachine => Box::new(Host::new(KvClient::new(options.clone()))) as Box<dyn Node>,
        Form::Async => Box::new(Host::new(kv_client_async(options.clone()))),
    });
    for fault in faults {
        net.add_fault(fault.clone());
    }
    net
}

/// The client's options: `commands` to the server, with the defaults for the rest.
pub(crate) fn options(commands: &[&str]) -> ClientOptions {
    ClientOptions::new(HostPort::new("server", 7000), commands)
}
