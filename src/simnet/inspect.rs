//! What a network can be asked about itself and its hosts: time, transcript, status,
//! output, and the programs running on them.

use std::any::Any;
use std::net::Ipv4Addr;

use super::{HostStatus, NetConfig, SimNet};
use crate::host::{FactoryProgram, Host, Program, Stream};
use crate::protocol::Factory;
use crate::testing::Transcript;
use crate::time::Instant;

impl SimNet {
    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The settings.
    pub fn config(&self) -> &NetConfig {
        &self.config
    }

    /// Everything that happened so far.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// Takes the transcript out, leaving an empty one (at the end of a run, to keep it
    /// without copying).
    pub fn take_transcript(&mut self) -> Transcript {
        std::mem::take(&mut self.transcript)
    }

    /// Number of events processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    /// How many connections the network still keeps: open ones, and closed ones on
    /// which something may still happen (a memory figure that does not grow with the
    /// number of connections a run has finished with).
    pub fn connections_kept(&self) -> usize {
        self.conns.len()
    }

    /// The names of the hosts, in the order they were added.
    pub fn host_names(&self) -> &[String] {
        &self.names
    }

    /// A host's simulated IPv4 address, as its peers see it.
    pub fn host_addr(&self, host: &str) -> Option<Ipv4Addr> {
        self.host_index(host).map(|h| self.hosts[h].ip)
    }

    /// A host's status.
    pub fn status(&self, host: &str) -> Option<HostStatus> {
        self.host_index(host).map(|h| self.hosts[h].status)
    }

    /// A host's exit status, once its program has exited.
    pub fn exit_code(&self, host: &str) -> Option<i32> {
        match self.status(host)? {
            HostStatus::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// Lines a host's programs printed (all incarnations).
    pub fn output(&self, host: &str) -> &[(Stream, String)] {
        self.host_index(host)
            .map_or(&[], |h| self.hosts[h].output.as_slice())
    }

    /// Lines a host printed on one stream.
    pub fn lines(&self, host: &str, stream: Stream) -> Vec<&str> {
        self.output(host)
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.as_str())
            .collect()
    }

    /// The running node of a host, as `Any`: for a node that is neither a
    /// [`Host`] nor a [`FactoryProgram`] (a hand-written
    /// [`Node`](crate::host::Node)); otherwise [`program`](Self::program) and
    /// [`factory`](Self::factory) say it in one call.
    pub fn node(&self, host: &str) -> Option<&dyn Any> {
        let node = self.hosts[self.host_index(host)?].node.as_deref()?;
        Some(node as &dyn Any)
    }

    /// The program of a running host, if it runs a `Host<P>`: `None` if there is no such
    /// host, it is down, or its program is another type.
    ///
    /// ```
    /// use weft::host::{FactoryProgram, Host};
    /// use weft::programs::pingpong::PingPongFactory;
    /// use weft::simnet::{NetConfig, SimNet};
    ///
    /// let mut net = SimNet::new(NetConfig::default(), 1);
    /// net.add_host("server", || {
    ///     let server = FactoryProgram::new(PingPongFactory::server(None));
    ///     Box::new(Host::new(server.listen("0.0.0.0:8000".parse().unwrap())))
    /// });
    /// net.start();
    /// let server = net.program::<FactoryProgram<PingPongFactory>>("server");
    /// assert!(server.is_some());
    /// assert!(net.factory::<PingPongFactory>("server").is_some());
    /// ```
    pub fn program<P: Program + 'static>(&self, host: &str) -> Option<&P> {
        let host = self.node(host)?.downcast_ref::<Host<P>>()?;
        Some(host.program())
    }

    /// The factory of a running host whose program is a [`FactoryProgram<F>`], to read
    /// the state its protocols share.
    pub fn factory<F: Factory + 'static>(&self, host: &str) -> Option<&F> {
        Some(self.program::<FactoryProgram<F>>(host)?.factory())
    }

    /// The host whose program was running when a panic unwound out of this network
    /// (`None` if none did, or the panic was in the network itself).
    pub fn host_in_call(&self) -> Option<&str> {
        self.calling.map(|h| self.names[h].as_str())
    }
}
