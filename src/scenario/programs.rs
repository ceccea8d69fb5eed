//! The programs a scenario host can run, by name, with their options.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::HostSpec;
use crate::host::{FactoryProgram, Host, HostPort, Node, Program};
use crate::programs::heartbeat::HeartbeatFactory;
use crate::programs::pingpong::PingPongFactory;
use crate::programs::poetry::{
    FastPoetryFactory, GetPoetry, GetPoetryOptions, Pace, Poem, PoetryProxy, ProxyOptions,
    ReportStyle, SerialPoetryServer, SlowPoetryFactory, TruncationPolicy,
};
use crate::programs::raw::{RawClient, RawOptions};
use crate::programs::streaming::{ReceivingServerFactory, StreamingClientFactory};
use crate::programs::transform::TransformFactory;
use crate::protocol::Factory;
use crate::simnet::opt_human_duration;

/// Every program a scenario can name, with a one-line description of its options.
pub const PROGRAMS: &[(&str, &str)] = &[
    (
        "pingpong-server",
        "ping-pong, accepting side; options: port, iface, maximum",
    ),
    (
        "pingpong-client",
        "ping-pong, connecting side; exits when done; options: connect, maximum (100)",
    ),
    (
        "heartbeat",
        "writes * every 30 s to its peer; options: connect",
    ),
    (
        "sink",
        "receives and counts bytes; options: port, iface, read-pause (a slow consumer)",
    ),
    (
        "streaming-client",
        "push producer doubling its writes every 1 ms; exits when done; options: connect, budget",
    ),
    (
        "fast-poetry",
        "sends a whole poem and closes; options: port, iface, poem (loom, ten-bytes, clock)",
    ),
    (
        "slow-poetry",
        "sends a poem num-bytes every delay, each client on its own timer; options: port, iface, poem, num-bytes, delay",
    ),
    (
        "serial-poetry",
        "the blocking slow server, one client at a time; options: port, iface, poem, num-bytes, delay",
    ),
    (
        "get-poetry",
        "downloads a poem from each server, exits when all have ended; options: servers, \
         timeout, connect-timeout, retries (0), retry-delay (1s), accept-truncated, sequential, \
         report (tasks, as-arrived, as-arrived-terse, in-order, blocking, quiet), \
         transform ([host:]port), transform-name (cummingsify), transform-timeout",
    ),
    (
        "proxy",
        "caching poetry proxy with one upstream fetch in flight; options: port, iface, upstream, expiry (or never)",
    ),
    (
        "transform-server",
        "the netstring transform service (cummingsify, ...); options: port, iface",
    ),
    (
        "raw-client",
        "sends bytes, prints what comes back; options: connect, send, half-close, give-up-after",
    ),
];

/// A host's program cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// No such program.
    #[error("unknown program {name:?}; known programs: {known}")]
    Unknown {
        /// What was asked for.
        name: String,
        /// What exists.
        known: String,
    },
    /// Its options do not fit.
    #[error("bad options for {program}: {message}")]
    Options {
        /// Which program.
        program: String,
        /// What the parser said.
        message: String,
    },
}

/// Builds a fresh program for a host; called at start and after each restart.
pub(crate) type NodeFactory = Box<dyn FnMut() -> Box<dyn Node>>;

/// Options of every listening program.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Listen<T> {
    port: u16,
    #[serde(default = "any_interface")]
    iface: String,
    #[serde(flatten)]
    extra: T,
}

fn any_interface() -> String {
    "0.0.0.0".to_owned()
}

impl<T> Listen<T> {
    fn addr(&self) -> HostPort {
        HostPort::new(self.iface.clone(), self.port)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PingPongServer {
    #[serde(default)]
    maximum: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PingPongClient {
    connect: HostPort,
    #[serde(default = "default_maximum")]
    maximum: u64,
}

fn default_maximum() -> u64 {
    100
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Connect {
    connect: HostPort,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Sink {
    #[serde(default, with = "opt_human_duration")]
    read_pause: Option<Duration>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Streaming {
    connect: HostPort,
    #[serde(default)]
    budget: Option<usize>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PoetryServer {
    #[serde(default = "default_poem")]
    poem: String,
    #[serde(default = "default_num_bytes")]
    num_bytes: usize,
    #[serde(default = "default_delay", with = "crate::simnet::human_duration")]
    delay: Duration,
}

fn default_poem() -> String {
    "loom".to_owned()
}

fn default_num_bytes() -> usize {
    crate::programs::poetry::DEFAULT_NUM_BYTES
}

fn default_delay() -> Duration {
    crate::programs::poetry::DEFAULT_DELAY
}

impl PoetryServer {
    fn poem(&self, program: &str) -> Result<Poem, ProgramError> {
        Poem::builtin(&self.poem).ok_or_else(|| ProgramError::Options {
            program: program.to_owned(),
            message: format!("no built-in poem named {:?}", self.poem),
        })
    }

    fn pace(&self) -> Pace {
        Pace::new(self.num_bytes, self.delay)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct GetPoetryScenario {
    servers: Vec<HostPort>,
    #[serde(default, with = "opt_human_duration")]
    timeout: Option<Duration>,
    #[serde(default)]
    report: Report,
    #[serde(default)]
    sequential: bool,
    #[serde(default)]
    accept_truncated: bool,
    #[serde(default, with = "opt_human_duration")]
    connect_timeout: Option<Duration>,
    #[serde(default)]
    retries: u32,
    #[serde(
        default = "default_retry_delay",
        with = "crate::simnet::human_duration"
    )]
    retry_delay: Duration,
    #[serde(default)]
    transform: Option<HostPort>,
    #[serde(default)]
    transform_name: Option<String>,
    #[serde(default, with = "opt_human_duration")]
    transform_timeout: Option<Duration>,
}

fn default_retry_delay() -> Duration {
    crate::programs::poetry::DEFAULT_RETRY_DELAY
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Report {
    #[default]
    Tasks,
    AsArrived,
    AsArrivedTerse,
    InOrder,
    Blocking,
    Quiet,
}

impl From<Report> for ReportStyle {
    fn from(report: Report) -> Self {
        match report {
            Report::Tasks => Self::Tasks,
            Report::AsArrived => Self::AsArrived,
            Report::AsArrivedTerse => Self::AsArrivedTerse,
            Report::InOrder => Self::InOrderAtEnd,
            Report::Blocking => Self::Blocking,
            Report::Quiet => Self::Quiet,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Proxy {
    upstream: HostPort,
    #[serde(default)]
    expiry: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    connect: HostPort,
    #[serde(default)]
    send: String,
    #[serde(default)]
    half_close: bool,
    #[serde(default, with = "opt_human_duration")]
    give_up_after: Option<Duration>,
}

/// An empty option set, for programs that only listen.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

fn options<T: DeserializeOwned>(host: &HostSpec) -> Result<T, ProgramError> {
    toml::Value::Table(host.options.clone())
        .try_into()
        .map_err(|e: toml::de::Error| ProgramError::Options {
            program: host.program.clone(),
            message: e.message().to_owned(),
        })
}

fn node<P: Program + 'static>(program: P) -> Box<dyn Node> {
    Box::new(Host::new(program))
}

/// A factory for a program that listens with `F`.
fn listening<F>(addr: HostPort, factory: F) -> NodeFactory
where
    F: Factory + Clone + 'static,
{
    Box::new(move || node(FactoryProgram::new(factory.clone()).listen(addr.clone())))
}

/// A factory for a program that connects with `F` and exits when done.
fn connecting<F>(to: HostPort, factory: F) -> NodeFactory
where
    F: Factory + Clone + 'static,
{
    Box::new(move || {
        node(
            FactoryProgram::new(factory.clone())
                .connect(to.clone())
                .exit_when_done(),
        )
    })
}

/// Checks a host's program and options without building it.
pub(super) fn check(host: &HostSpec) -> Result<(), ProgramError> {
    factory(host).map(drop)
}

/// The factory for a host's program.
pub(super) fn factory(host: &HostSpec) -> Result<NodeFactory, ProgramError> {
    Ok(match host.program.as_str() {
        "pingpong-server" => {
            let o: Listen<PingPongServer> = options(host)?;
            listening(o.addr(), PingPongFactory::server(o.extra.maximum))
        }
        "pingpong-client" => {
            let o: PingPongClient = options(host)?;
            connecting(o.connect, PingPongFactory::client(Some(o.maximum)))
        }
        "heartbeat" => {
            let o: Connect = options(host)?;
            let to = o.connect;
            Box::new(move || node(FactoryProgram::new(HeartbeatFactory).connect(to.clone())))
        }
        "sink" => {
            let o: Listen<Sink> = options(host)?;
            listening(
                o.addr(),
                ReceivingServerFactory {
                    read_pause: o.extra.read_pause,
                },
            )
        }
        "streaming-client" => {
            let o: Streaming = options(host)?;
            connecting(o.connect, StreamingClientFactory { budget: o.budget })
        }
        "fast-poetry" => {
            let o: Listen<PoetryServer> = options(host)?;
            listening(
                o.addr(),
                FastPoetryFactory::new(o.extra.poem(&host.program)?),
            )
        }
        "slow-poetry" => {
            let o: Listen<PoetryServer> = options(host)?;
            let factory = SlowPoetryFactory::new(o.extra.poem(&host.program)?, o.extra.pace());
            listening(o.addr(), factory)
        }
        "serial-poetry" => {
            let o: Listen<PoetryServer> = options(host)?;
            let (addr, poem, pace) = (o.addr(), o.extra.poem(&host.program)?, o.extra.pace());
            Box::new(move || node(SerialPoetryServer::new(addr.clone(), poem.clone(), pace)))
        }
        "get-poetry" => {
            let o: GetPoetryScenario = options(host)?;
            let mut get = GetPoetryOptions::new(o.servers)
                .report(o.report.into())
                .retries(o.retries)
                .retry_delay(o.retry_delay);
            if let Some(timeout) = o.timeout {
                get = get.timeout(timeout);
            }
            if let Some(timeout) = o.connect_timeout {
                get = get.connect_timeout(timeout);
            }
            if let Some(server) = o.transform {
                get = get.transform(server);
            }
            if let Some(name) = o.transform_name {
                get = get.transform_name(name);
            }
            if let Some(timeout) = o.transform_timeout {
                get = get.transform_timeout(timeout);
            }
            if o.sequential {
                get = get.sequential();
            }
            if o.accept_truncated {
                get = get.truncation(TruncationPolicy::Accept);
            }
            Box::new(move || node(GetPoetry::new(get.clone())))
        }
        "proxy" => {
            let o: Listen<Proxy> = options(host)?;
            let expiry = match o.extra.expiry.as_deref() {
                None => Some(crate::programs::poetry::DEFAULT_EXPIRY),
                Some("never") => None,
                Some(text) => Some(crate::simnet::parse_duration(text).map_err(|e| {
                    ProgramError::Options {
                        program: host.program.clone(),
                        message: e.to_string(),
                    }
                })?),
            };
            let proxy = ProxyOptions::new(o.addr(), o.extra.upstream.clone()).expiry(expiry);
            Box::new(move || node(PoetryProxy::new(proxy.clone())))
        }
        "transform-server" => {
            let o: Listen<Nothing> = options(host)?;
            listening(o.addr(), TransformFactory::default())
        }
        "raw-client" => {
            let o: Raw = options(host)?;
            let raw = RawOptions {
                to: o.connect,
                send: o.send.into_bytes(),
                half_close: o.half_close,
                give_up_after: o.give_up_after,
            };
            Box::new(move || node(RawClient::new(raw.clone())))
        }
        name => {
            return Err(ProgramError::Unknown {
                name: name.to_owned(),
                known: PROGRAMS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use std::any::Any;

    use super::*;

    fn host(program: &str, options: &str) -> HostSpec {
        HostSpec {
            name: "h".into(),
            program: program.into(),
            options: toml::from_str(options).expect("options parse"),
            ip: None,
        }
    }

    fn get_poetry_options(options: &str) -> GetPoetryOptions {
        let mut factory = factory(&host("get-poetry", options)).expect("builds");
        let node = factory();
        let any: &dyn Any = node.as_ref();
        any.downcast_ref::<Host<GetPoetry>>()
            .expect("a get-poetry host")
            .program()
            .options()
            .clone()
    }

    #[test]
    fn every_listed_program_is_known_to_the_factory() {
        for (name, _) in PROGRAMS {
            // No listed program runs without options, so each must complain about them.
            assert!(
                matches!(factory(&host(name, "")), Err(ProgramError::Options { .. })),
                "{name} is listed but not built"
            );
        }
    }

    #[test]
    fn get_poetry_takes_retries_and_the_transform_stage() {
        let o = get_poetry_options(
            r#"
            servers = ["poet:10000"]
            report = "as-arrived-terse"
            retries = 3
            retry-delay = "250ms"
            connect-timeout = "2s"
            transform = "xform:11000"
            transform-name = "reverse-lines"
            transform-timeout = "3s"
            "#,
        );
        assert_eq!(o.report, ReportStyle::AsArrivedTerse);
        assert_eq!((o.retries, o.retry_delay), (3, Duration::from_millis(250)));
        assert_eq!(o.connect_timeout, Duration::from_secs(2));
        assert_eq!(o.transform, Some(HostPort::new("xform", 11000)));
        assert_eq!(o.transform_name, "reverse-lines");
        assert_eq!(o.transform_timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn get_poetry_defaults_to_no_retries_and_no_transform() {
        let o = get_poetry_options(r#"servers = ["poet:10000"]"#);
        assert_eq!(o.retries, 0);
        assert_eq!(o.retry_delay, Duration::from_secs(1));
        assert_eq!(o.transform, None);
        assert_eq!(o.transform_name, "cummingsify");
    }

    #[test]
    fn a_misspelt_get_poetry_option_is_rejected() {
        let error = factory(&host(
            "get-poetry",
            r#"servers = [10000]
            retry = 2"#,
        ))
        .err()
        .expect("rejected");
        assert!(error.to_string().contains("retry"), "{error}");
    }
}
