//! Reviewing runs: a run as a sequence diagram in the browser, as a packet capture for
//! Wireshark, as JSON lines; a sweep as JSON lines, JUnit XML and shard reports that
//! merge.
//!
//! Every view is computed from what a run already records — its [`Transcript`] — plus
//! the little the transcript does not say: the hosts' simulated addresses and the
//! run's name, seed and failures ([`RunInfo`]).
//!
//! | Output | Function | Read by |
//! |---|---|---|
//! | HTML sequence diagram | [`html::page`] | a browser, offline |
//! | pcap capture | [`pcap::write`] | Wireshark, tshark |
//! | transcript as JSON lines | [`json::events`] | `jq`, scripts |
//! | sweep as JSON lines, shard reports | [`sweep::SweepReport`] | `weft sim merge`, CI |
//! | JUnit XML | [`junit::write`] | CI systems (Jenkins, GitLab, GitHub Actions) |
//!
//! ```
//! use weft::report::{RunInfo, html, pcap};
//! use weft::scenario::Scenario;
//!
//! let catalogue = weft::programs::catalogue();
//! let scenario = Scenario::load("sim/pingpong.toml".as_ref(), &catalogue).unwrap();
//! let net = scenario.network(&catalogue, 1).unwrap();
//! let outcome = scenario.run(&catalogue, 1).unwrap();
//! let info = RunInfo::new(&scenario.name, 1, &net).with_failures(&outcome.failures);
//! let page = html::page(&outcome.transcript, &info);
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! let mut capture = Vec::new();
//! pcap::write(&outcome.transcript, &info, &mut capture).unwrap();
//! assert!(capture.len() > 24);
//! ```
//!
//! [`Transcript`]: crate::testing::Transcript

pub mod html;
pub mod json;
pub mod junit;
mod merge;
pub mod pcap;
pub mod sweep;
mod timeline;

pub use timeline::{Endpoint, FaultMark, Subject};

use std::net::Ipv4Addr;

use crate::simnet::SimNet;

/// What a view of a run needs besides its transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The scenario's name.
    pub scenario: String,
    /// A line saying what the scenario shows (may be empty).
    pub description: String,
    /// The run's seed.
    pub seed: u64,
    /// The hosts in the order they were added, with their simulated addresses.
    pub hosts: Vec<(String, Ipv4Addr)>,
    /// Broken expectations; empty if the run passed.
    pub failures: Vec<String>,
}

impl RunInfo {
    /// The hosts and addresses of `net` (built, not necessarily run), for a run of
    /// `scenario` with `seed`.
    pub fn new(scenario: &str, seed: u64, net: &SimNet) -> Self {
        let hosts = (net.host_names().iter())
            .filter_map(|name| Some((name.clone(), net.host_addr(name)?)))
            .collect();
        Self {
            scenario: scenario.to_owned(),
            description: String::new(),
            seed,
            hosts,
            failures: Vec::new(),
        }
    }

    /// With the run's broken expectations.
    pub fn with_failures(mut self, failures: &[String]) -> Self {
        self.failures = failures.to_vec();
        self
    }

    /// With a description of the scenario.
    pub fn with_description(mut self, description: &str) -> Self {
        description.trim().clone_into(&mut self.description);
        self
    }

    /// A host's address.
    pub fn addr(&self, host: &str) -> Option<Ipv4Addr> {
        (self.hosts.iter()).find_map(|(name, ip)| (name == host).then_some(*ip))
    }
}
