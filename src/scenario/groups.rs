//! `[[hosts]]` entries as a file writes them: one host, or a group of identical ones
//! (`count`), at a chosen address (`ip`), the next ones of a subnet (`subnet`), or the
//! default network's by their place in the list. A scenario holds them expanded, one
//! [`HostSpec`] per host, so everything that runs one sees plain hosts; printing a
//! scenario groups them again where a group gives back exactly the same hosts.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{HostSpec, MAX_HOSTS, Table};
use crate::simnet::Subnet;

/// One `[[hosts]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
struct HostEntry {
    name: String,
    program: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    options: Table,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subnet: Option<Subnet>,
}

impl<'de> Deserialize<'de> for HostEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Checked here, inside the entry, so the parser points at it.
        EntryKeys::deserialize(d)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

/// The keys as read, before the checks that need several of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryKeys {
    name: String,
    program: String,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    options: Table,
    #[serde(default)]
    ip: Option<Ipv4Addr>,
    #[serde(default)]
    subnet: Option<Subnet>,
}

impl TryFrom<EntryKeys> for HostEntry {
    type Error = String;

    fn try_from(keys: EntryKeys) -> Result<Self, String> {
        let entry = format!("[[hosts]] name = {:?}", keys.name);
        match keys.count {
            Some(0) => return Err(format!("{entry}: count = 0; a group has at least one host")),
            Some(n) if n as usize > MAX_HOSTS => {
                return Err(format!(
                    "{entry}: count = {n}; at most {MAX_HOSTS} hosts fit a scenario"
                ));
            }
            _ => {}
        }
        if keys.ip.is_some() && keys.subnet.is_some() {
            return Err(format!(
                "{entry}: give either ip (the address) or subnet (the network to take the next addresses of), not both"
            ));
        }
        if let (Some(ip), Some(n)) = (keys.ip, keys.count)
            && u32::from(ip).checked_add(n - 1).is_none()
        {
            return Err(format!(
                "{entry}: ip = \"{ip}\" with count = {n} runs past 255.255.255.255"
            ));
        }
        Ok(Self {
            name: keys.name,
            program: keys.program,
            count: keys.count,
            options: keys.options,
            ip: keys.ip,
            subnet: keys.subnet,
        })
    }
}

/// Reads the `hosts` array and expands its groups, in order: a group's hosts are named
/// `NAME-1` to `NAME-COUNT`; with `ip`, they take consecutive addresses from it; with
/// `subnet`, the next free ones of that subnet (shared by every entry that names it).
pub(super) fn expand<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<HostSpec>, D::Error> {
    let entries = Vec::<HostEntry>::deserialize(d)?;
    let total: u64 = (entries.iter())
        .map(|e| u64::from(e.count.unwrap_or(1)))
        .sum();
    if total > MAX_HOSTS as u64 {
        return Err(serde::de::Error::custom(format!(
            "the [[hosts]] entries make {total} hosts; at most {MAX_HOSTS} fit a scenario"
        )));
    }
    let mut hosts = Vec::with_capacity(total as usize);
    let mut used: BTreeMap<Subnet, u32> = BTreeMap::new();
    for entry in entries {
        let count = entry.count.unwrap_or(1);
        for i in 0..count {
            let ip = match (entry.ip, entry.subnet) {
                (Some(first), _) => Some(Ipv4Addr::from(u32::from(first) + i)),
                (None, Some(subnet)) => {
                    let next = used.entry(subnet).or_insert(0);
                    let ip = subnet.host(*next).ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "[[hosts]] name = {:?}: subnet = \"{subnet}\" has {} host addresses, and the hosts given it need more",
                            entry.name,
                            subnet.capacity()
                        ))
                    })?;
                    *next += 1;
                    Some(ip)
                }
                (None, None) => None,
            };
            let name = match entry.count {
                Some(_) => format!("{}-{}", entry.name, i + 1),
                None => entry.name.clone(),
            };
            hosts.push(HostSpec {
                name,
                program: entry.program.clone(),
                options: entry.options.clone(),
                ip,
            });
        }
    }
    Ok(hosts)
}

/// Writes the hosts, each run that a group gives back exactly as one entry with `count`:
/// two or more hosts named `NAME-1`, `NAME-2`, ... in order, with one program and one
/// set of options, and either no address or consecutive ones.
pub(super) fn regroup<S: Serializer>(hosts: &[HostSpec], s: S) -> Result<S::Ok, S::Error> {
    let mut entries = Vec::new();
    let mut rest = hosts;
    while let Some(first) = rest.first() {
        let run = group_run(rest);
        let entry = match first.name.strip_suffix("-1") {
            Some(prefix) if run >= 2 => HostEntry {
                name: prefix.to_owned(),
                program: first.program.clone(),
                count: Some(run as u32),
                options: first.options.clone(),
                ip: first.ip,
                subnet: None,
            },
            _ => HostEntry {
                name: first.name.clone(),
                program: first.program.clone(),
                count: None,
                options: first.options.clone(),
                ip: first.ip,
                subnet: None,
            },
        };
        entries.push(entry);
        rest = &rest[run.max(1)..];
    }
    entries.serialize(s)
}

/// How many hosts at the start of `hosts` one group would give back (1 if none would).
fn group_run(hosts: &[HostSpec]) -> usize {
    let first = &hosts[0];
    let Some(prefix) = first.name.strip_suffix("-1") else {
        return 1;
    };
    let mut run = 1;
    for (i, host) in hosts.iter().enumerate().skip(1) {
        let same = host.program == first.program && host.options == first.options;
        let named = host
            .name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n == (i + 1).to_string());
        let addressed = match (first.ip, host.ip) {
            (None, None) => true,
            (Some(a), Some(b)) => u32::from(a).checked_add(i as u32) == Some(u32::from(b)),
            _ => false,
        };
        if !(same && named && addressed) {
            break;
        }
        run += 1;
    }
    run
}
