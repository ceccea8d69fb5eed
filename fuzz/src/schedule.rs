//! The schedule fuzzer's input: a seed, a re-segmentation and a fault schedule, drawn
//! with `arbitrary` and laid over a scenario's hosts, ports and duration.

use std::time::Duration;

use arbitrary::Arbitrary;
use weft::scenario::{Expect, Scenario};
use weft::simnet::{Fault, Latency, PartitionMode, Trigger};
use weft::testing::Segmentation;

/// Most faults one input lays over a scenario.
pub const MOST_FAULTS: usize = 8;

/// One fuzz case: everything but the scenario itself.
#[derive(Arbitrary, Debug)]
pub struct ScheduleInput {
    /// The run's seed (latency, seeded reads, program randomness).
    pub seed: u64,
    /// How reads are cut.
    pub reads: Reads,
    /// The faults, in any order (at most [`MOST_FAULTS`] are used).
    pub faults: Vec<FaultInput>,
}

/// A re-segmentation.
#[derive(Arbitrary, Debug)]
pub enum Reads {
    /// The scenario's own.
    Scenario,
    /// Whole reads.
    Whole,
    /// Reads of at most `1 + n % 16` bytes.
    Fixed(u8),
    /// Seeded reads of 1 to `1 + max % 64` bytes.
    Seeded {
        /// The generator's seed.
        seed: u64,
        /// Largest read, before the modulus.
        max: u8,
    },
    /// These read sizes (each `1 + n % 32`) in turn.
    Cuts(Vec<u8>),
}

/// When a fault happens.
#[derive(Arbitrary, Debug)]
pub enum WhenInput {
    /// At a time: `value` scaled by `scale % 4` to microseconds up to 65 ms,
    /// milliseconds up to 65 s, milliseconds up to 5 s, or a fraction of the duration.
    At {
        /// Which scale.
        scale: u8,
        /// The amount.
        value: u16,
    },
    /// Once `n` bytes went from host `from` to host `to` on one connection.
    Bytes {
        /// Sending host (an index, modulo the host count).
        from: u8,
        /// Receiving host.
        to: u8,
        /// How many bytes (1 + n).
        n: u16,
    },
    /// Once `n` netstrings did.
    Netstrings {
        /// Sending host.
        from: u8,
        /// Receiving host.
        to: u8,
        /// How many (1 + n % 16).
        n: u8,
    },
}

/// What goes wrong: one of every kind of fault a scenario can say. Hosts are indices,
/// modulo the host count.
#[derive(Arbitrary, Debug)]
pub enum ActionInput {
    /// A partition.
    Partition {
        /// One host.
        a: u8,
        /// The other (the next host if it is the same).
        b: u8,
        /// Only `a` to `b`.
        one_way: bool,
        /// Hold packets instead of dropping them.
        hold: bool,
    },
    /// A heal.
    Heal {
        /// One host.
        a: u8,
        /// The other.
        b: u8,
        /// Only `a` to `b`.
        one_way: bool,
    },
    /// A crash.
    Crash(u8),
    /// A restart.
    Restart(u8),
    /// A reset of a host's connections, on one of the scenario's ports or all.
    Reset {
        /// Whose.
        host: u8,
        /// A port of the scenario's options (an index), or every connection.
        port: Option<u8>,
    },
    /// A new latency, `min_ms` plus up to `spread_ms`, for a pair or every link.
    Latency {
        /// The pair, or every link.
        pair: Option<(u8, u8)>,
        /// Floor in milliseconds (modulo 200).
        min_ms: u8,
        /// Spread in milliseconds (modulo 200; 0 is a fixed latency).
        spread_ms: u8,
    },
    /// A clock jump of `1 + secs` seconds.
    ClockJump {
        /// Whose clock.
        host: u8,
        /// Seconds, less one.
        secs: u16,
    },
}

/// One fault.
#[derive(Arbitrary, Debug)]
pub struct FaultInput {
    /// When.
    pub when: WhenInput,
    /// What.
    pub action: ActionInput,
}

impl ScheduleInput {
    /// `base` with this input's seed, reads and faults (added to its own scripted
    /// ones). A case with faults expects only what holds whatever faults land
    /// (`connections-end-once`), since faults legitimately change exit codes, output
    /// and transcripts; a case without keeps the scenario's expectations too.
    pub fn lay_over(&self, base: &Scenario) -> Scenario {
        let mut scenario = base.clone();
        scenario.seed = self.seed;
        if let Some(reads) = self.reads.segmentation() {
            scenario.network.segmentation = reads;
        }
        let hosts: Vec<&str> = base.hosts.iter().map(|h| h.name.as_str()).collect();
        let ports = ports_of(base);
        let added: Vec<Fault> = (self.faults.iter().take(MOST_FAULTS))
            .filter_map(|f| f.fault(&hosts, &ports, base.duration))
            .collect();
        if !added.is_empty() {
            scenario.expect = Expect::default();
        }
        scenario.faults.extend(added);
        scenario.expect.connections_end_once = true;
        scenario
    }
}

impl Reads {
    fn segmentation(&self) -> Option<Segmentation> {
        Some(match self {
            Self::Scenario => return None,
            Self::Whole => Segmentation::Whole,
            Self::Fixed(n) => Segmentation::Fixed(1 + usize::from(n % 16)),
            Self::Seeded { seed, max } => Segmentation::Seeded {
                seed: *seed,
                max: 1 + usize::from(max % 64),
            },
            Self::Cuts(cuts) if cuts.is_empty() => Segmentation::Whole,
            Self::Cuts(cuts) => Segmentation::Cuts(
                cuts.iter()
                    .take(8)
                    .map(|c| 1 + usize::from(c % 32))
                    .collect(),
            ),
        })
    }
}

impl FaultInput {
    /// The fault over these hosts and ports, or `None` where it needs two hosts and the
    /// scenario has one.
    fn fault(&self, hosts: &[&str], ports: &[u16], duration: Duration) -> Option<Fault> {
        let host = |i: &u8| hosts[usize::from(*i) % hosts.len()];
        // Two different hosts: `b`, or the one after `a` if they coincide.
        let pair = |a: &u8, b: &u8| -> Option<(&str, &str)> {
            if hosts.len() < 2 {
                return None;
            }
            let (i, mut j) = (usize::from(*a) % hosts.len(), usize::from(*b) % hosts.len());
            if i == j {
                j = (i + 1) % hosts.len();
            }
            Some((hosts[i], hosts[j]))
        };
        let when = match &self.when {
            WhenInput::At { scale, value } => Fault::at(at(*scale, *value, duration)),
            WhenInput::Bytes { from, to, n } => {
                let (from, to) = pair(from, to)?;
                Fault::after(Trigger::bytes(from, to, 1 + u64::from(*n)))
            }
            WhenInput::Netstrings { from, to, n } => {
                let (from, to) = pair(from, to)?;
                Fault::after(Trigger::netstrings(from, to, 1 + u64::from(n % 16)))
            }
        };
        Some(match &self.action {
            ActionInput::Partition {
                a,
                b,
                one_way,
                hold,
            } => {
                let (a, b) = pair(a, b)?;
                let mode = if *hold {
                    PartitionMode::Hold
                } else {
                    PartitionMode::Drop
                };
                let fault = when.partition(a, b).mode(mode);
                if *one_way { fault.one_way() } else { fault }
            }
            ActionInput::Heal { a, b, one_way } => {
                let (a, b) = pair(a, b)?;
                let fault = when.heal(a, b);
                if *one_way { fault.one_way() } else { fault }
            }
            ActionInput::Crash(h) => when.crash(host(h)),
            ActionInput::Restart(h) => when.restart(host(h)),
            ActionInput::Reset { host: h, port } => match port {
                Some(p) if !ports.is_empty() => {
                    when.reset_on_port(host(h), ports[usize::from(*p) % ports.len()])
                }
                _ => when.reset(host(h)),
            },
            ActionInput::Latency {
                pair: between,
                min_ms,
                spread_ms,
            } => {
                let latency = latency(*min_ms, *spread_ms);
                match between.as_ref().and_then(|(a, b)| pair(a, b)) {
                    Some((a, b)) => when.latency(a, b, latency),
                    None => when.latency_everywhere(latency),
                }
            }
            ActionInput::ClockJump { host: h, secs } => {
                when.clock_jump(host(h), Duration::from_secs(1 + u64::from(*secs)))
            }
        })
    }
}

/// A fault time: fine-grained near the start, where handshakes are, and anywhere in the
/// run as well.
fn at(scale: u8, value: u16, duration: Duration) -> Duration {
    match scale % 4 {
        0 => Duration::from_micros(value.into()),
        1 => Duration::from_millis(value.into()),
        2 => Duration::from_millis(u64::from(value) % 5000),
        _ => duration.mul_f64(f64::from(value) / 65536.0),
    }
}

fn latency(min_ms: u8, spread_ms: u8) -> Latency {
    let min = Duration::from_millis(u64::from(min_ms % 200));
    match spread_ms % 200 {
        0 => Latency::Fixed(min),
        spread => Latency::Uniform {
            min,
            max: min + Duration::from_millis(spread.into()),
        },
    }
}

/// The ports the scenario's hosts' options name: `port = N`, or `"host:N"` / `N` in
/// any option, sorted and without repeats.
pub fn ports_of(scenario: &Scenario) -> Vec<u16> {
    fn walk(value: &toml::Value, ports: &mut Vec<u16>) {
        match value {
            toml::Value::Integer(n) => ports.extend(u16::try_from(*n).ok().filter(|&p| p > 0)),
            toml::Value::String(s) => {
                let tail = s.rsplit(':').next().unwrap_or(s);
                ports.extend(tail.parse::<u16>().ok().filter(|&p| p > 0));
            }
            toml::Value::Array(items) => items.iter().for_each(|v| walk(v, ports)),
            toml::Value::Table(table) => table.values().for_each(|v| walk(v, ports)),
            _ => {}
        }
    }
    let mut ports = Vec::new();
    for host in &scenario.hosts {
        for (key, value) in &host.options {
            // Counts, sizes and delays are numbers too: only what names a port.
            if key.contains("port")
                || matches!(value, toml::Value::String(_) | toml::Value::Array(_))
            {
                walk(value, &mut ports);
            }
        }
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}
