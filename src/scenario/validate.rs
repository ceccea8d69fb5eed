//! Checking a parsed scenario: what serde cannot see (names that must exist, hosts
//! that must differ, ranges that must be ordered), each problem said in the file's keys.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use super::{Catalogue, MAX_HOSTS, Scenario, ScenarioError, expect};
use crate::simnet::{FaultAction, Subnet};

pub(super) fn check(scenario: &Scenario, catalogue: &Catalogue) -> Result<(), ScenarioError> {
    let invalid = |problem: String| Err(scenario.invalid(problem));
    if scenario.hosts.is_empty() {
        return invalid("a scenario needs at least one [[hosts]] entry".into());
    }
    if scenario.hosts.len() > MAX_HOSTS {
        return invalid(format!(
            "{} hosts: at most {MAX_HOSTS} fit a scenario",
            scenario.hosts.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut addresses: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    let mut previous: Option<&super::HostSpec> = None;
    for (i, host) in scenario.hosts.iter().enumerate() {
        if !seen.insert(host.name.as_str()) {
            return invalid(format!("two hosts are named {:?}", host.name));
        }
        // Hosts without an `ip` get the default network's address of their place in
        // the list (within MAX_HOSTS, there is one).
        let ip = host.ip.unwrap_or_else(|| {
            let place = u32::try_from(i).unwrap_or(u32::MAX);
            Subnet::DEFAULT.host(place).unwrap_or(Ipv4Addr::BROADCAST)
        });
        if let Some(other) = addresses.insert(ip, &host.name) {
            return invalid(format!(
                "hosts {other:?} and {:?} both have the address {ip}",
                host.name
            ));
        }
        // A group's hosts share their program and options: checking them once will do.
        let same_as_previous =
            previous.is_some_and(|p| p.program == host.program && p.options == host.options);
        previous = Some(host);
        if same_as_previous {
            continue;
        }
        catalogue
            .prepare(&host.program, &host.options)
            .map_err(|source| ScenarioError::Program {
                name: scenario.name.clone(),
                host: host.name.clone(),
                source,
            })?;
    }
    let known = |h: &str| seen.contains(h);
    let mut named: Vec<&str> = (scenario.links.iter())
        .flat_map(|l| [l.a.as_str(), l.b.as_str()])
        .collect();
    for fault in &scenario.faults {
        named.extend(expect::fault_hosts(fault));
    }
    if let Some(problem) = scenario.network.problems().into_iter().next() {
        return invalid(format!("[network] {problem}"));
    }
    if let Some(problem) = scenario.network.latency.problem() {
        return invalid(format!("[network] {problem}"));
    }
    if let Some(problem) = scenario.limits.problems().into_iter().next() {
        return invalid(format!("[limits] {problem}"));
    }
    if scenario.log_level != "off" && scenario.log_level.parse::<tracing::Level>().is_err() {
        return invalid(format!(
            "log-level {:?} is not one of off, error, warn, info, debug, trace",
            scenario.log_level
        ));
    }
    if let Some(unknown) = named.into_iter().find(|h| !known(h)) {
        return invalid(format!("no host is named {unknown:?}"));
    }
    if let Some(both) =
        (scenario.expect.running.iter()).find(|h| scenario.expect.exit.contains_key(*h))
    {
        return invalid(format!(
            "[expect] {both:?} is in both exit and running: a host cannot exit and keep running"
        ));
    }
    for name in scenario.expect.hosts() {
        if !expect::is_pattern(name) && !known(name) {
            return invalid(format!("[expect]: no host is named {name:?}"));
        }
        if expect::is_pattern(name)
            && !(scenario.hosts.iter()).any(|h| expect::matches(name, &h.name))
        {
            return invalid(format!("[expect]: no host matches {name:?}"));
        }
    }
    if let Some(random) = &scenario.random_faults
        && let Some(unknown) = random.crashable.iter().find(|h| !known(h))
    {
        return invalid(format!(
            "random-faults.crashable: no host is named {unknown:?}"
        ));
    }
    for link in &scenario.links {
        if link.a == link.b {
            return invalid(format!(
                "[[links]] a = b = {:?}: a link joins two different hosts",
                link.a
            ));
        }
        if let Some(problem) = link.latency.problem() {
            return invalid(format!("[[links]] {} <-> {}: {problem}", link.a, link.b));
        }
    }
    for fault in &scenario.faults {
        let describe = fault.describe();
        if fault.at.is_some() == fault.after.is_some() {
            return invalid(format!(
                "fault `{describe}` needs exactly one of `at` and `after`"
            ));
        }
        if let Some(problem) = fault_problem(&fault.action) {
            return invalid(format!("fault `{describe}`: {problem}"));
        }
    }
    Ok(())
}

/// What is wrong with one fault's action, beyond the names it uses.
fn fault_problem(action: &FaultAction) -> Option<String> {
    let same = |a: &str, b: &str| {
        (a == b).then(|| format!("a and b are both {a:?}; it needs two different hosts"))
    };
    match action {
        FaultAction::Partition(p) => same(&p.a, &p.b),
        FaultAction::Heal(h) => same(&h.a, &h.b),
        FaultAction::Latency(l) => match (&l.a, &l.b) {
            (Some(a), Some(b)) if a == b => same(a, b),
            (Some(_), None) | (None, Some(_)) => {
                Some("give both a and b, or neither for every link".into())
            }
            _ => l.latency.problem(),
        },
        _ => None,
    }
}
