//! The catalogue `weft serve` runs: the real-TCP servers of `weft slow-poetry`,
//! `fast-poetry`, `transform-server` and `proxy`, each with its command's flags as
//! options (`--num-bytes 30` is `num-bytes = 30`) and the same defaults: loopback,
//! port 0, the same limits, the same startup line.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::serve::{Announced, DEFAULT_IFACE, DEFAULT_POEM, DEFAULT_PORT, PoemArg, paced_limits};
use crate::host::{FactoryProgram, Host, HostPort, Node};
use crate::programs::limits::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, LimitedFactory, ServerLimits,
};
use crate::programs::poetry::{
    DEFAULT_DELAY, DEFAULT_EXPIRY, DEFAULT_MAX_POEM_BYTES, DEFAULT_NUM_BYTES,
    DEFAULT_UPSTREAM_TIMEOUT, FastPoetryFactory, Pace, PoetryProxy, ProxyOptions,
    SerialPoetryServer, SlowPoetryFactory,
};
use crate::programs::transform::TransformFactory;
use crate::scenario::{Catalogue, OptionDoc, ProgramOptions};
use crate::simnet::{format_duration, human_duration};

/// weft's servers, as services.
pub(crate) fn catalogue() -> Catalogue {
    Catalogue::new()
        .node(
            "slow-poetry",
            "a poem num-bytes every delay, to every client at once (or one at a time: serial)",
            slow_poetry,
        )
        .node(
            "fast-poetry",
            "the whole poem on connect, then close",
            |o: &FastPoetry| {
                let factory =
                    LimitedFactory::new(FastPoetryFactory::new(o.poem.poem.clone()), o.limits());
                let program = FactoryProgram::new(factory).listen(o.addr());
                let what = format!("Serving {}", o.poem.label);
                Box::new(Host::new(Announced::new(program, what))) as Box<dyn Node>
            },
        )
        .node(
            "transform-server",
            "poem transformations over netstrings (cummingsify, ...)",
            |o: &TransformServer| {
                let factory = LimitedFactory::new(TransformFactory::default(), o.limits());
                let program = FactoryProgram::new(factory).listen(o.addr());
                let what = "Serving transforms".to_owned();
                Box::new(Host::new(Announced::new(program, what))) as Box<dyn Node>
            },
        )
        .node(
            "proxy",
            "a caching poetry proxy in front of one upstream server",
            |o: &Proxy| {
                let options = ProxyOptions::new(o.addr(), o.upstream.clone())
                    .expiry(o.expiry)
                    .upstream_timeout(o.upstream_timeout)
                    .max_poem_bytes(o.max_poem_bytes)
                    .limits(o.limits());
                Box::new(Host::new(PoetryProxy::new(options))) as Box<dyn Node>
            },
        )
}

fn slow_poetry(o: &SlowPoetry) -> Box<dyn Node> {
    let pace = Pace::new(o.num_bytes, o.delay);
    let (poem, label) = (o.poem.poem.clone(), &o.poem.label);
    if o.serial {
        let server = SerialPoetryServer::new(o.addr(), poem, pace);
        let what = format!("Serving {label} one client at a time");
        return Box::new(Host::new(Announced::new(server, what)));
    }
    let limits = paced_limits(o.limits(), o.delay);
    let factory = LimitedFactory::new(SlowPoetryFactory::new(poem, pace), limits);
    let program = FactoryProgram::new(factory).listen(o.addr());
    Box::new(Host::new(Announced::new(
        program,
        format!("Serving {label}"),
    )))
}

fn default_iface() -> String {
    DEFAULT_IFACE.to_owned()
}

fn default_port() -> u16 {
    DEFAULT_PORT
}

fn default_idle_timeout() -> Option<Duration> {
    Some(DEFAULT_IDLE_TIMEOUT)
}

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}

fn default_num_bytes() -> usize {
    DEFAULT_NUM_BYTES
}

fn default_delay() -> Duration {
    DEFAULT_DELAY
}

fn default_expiry() -> Option<Duration> {
    Some(DEFAULT_EXPIRY)
}

fn default_upstream_timeout() -> Option<Duration> {
    Some(DEFAULT_UPSTREAM_TIMEOUT)
}

fn default_max_poem_bytes() -> usize {
    DEFAULT_MAX_POEM_BYTES
}

/// A poem as the commands take it: a built-in poem's name, or a file (read now).
fn poem<'de, D: Deserializer<'de>>(d: D) -> Result<PoemArg, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// The options every server has: where it listens and the limits on its clients.
fn server_docs() -> [OptionDoc; 4] {
    [
        OptionDoc::optional("port", "port", format!("{DEFAULT_PORT} (a free port)")),
        OptionDoc::optional("iface", "address", DEFAULT_IFACE),
        OptionDoc::optional(
            "idle-timeout",
            "seconds or never",
            format_duration(DEFAULT_IDLE_TIMEOUT),
        ),
        OptionDoc::optional(
            "max-connections",
            "integer",
            DEFAULT_MAX_CONNECTIONS.to_string(),
        ),
    ]
}

fn poem_doc() -> OptionDoc {
    OptionDoc::optional("poem", "file or built-in poem", DEFAULT_POEM)
}

/// What every server's options check: the limits the commands' flags refuse too.
fn check_limits(idle_timeout: Option<Duration>, max_connections: usize) -> Result<(), String> {
    if idle_timeout.is_some_and(|d| d.is_zero()) {
        return Err("idle-timeout must be more than 0 seconds (or \"never\")".to_owned());
    }
    if max_connections == 0 {
        return Err("max-connections must be at least 1".to_owned());
    }
    Ok(())
}

/// Fields, `addr` and `limits` shared by every server's options.
macro_rules! server_options {
    ($name:ident { $($field:tt)* }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        struct $name {
            #[serde(default = "default_port")]
            port: u16,
            #[serde(default = "default_iface")]
            iface: String,
            #[serde(default = "default_idle_timeout", with = "human_duration::or_never")]
            idle_timeout: Option<Duration>,
            #[serde(default = "default_max_connections")]
            max_connections: usize,
            $($field)*
        }

        impl $name {
            fn addr(&self) -> HostPort {
                HostPort::new(self.iface.clone(), self.port)
            }

            fn limits(&self) -> ServerLimits {
                ServerLimits::default()
                    .idle_timeout(self.idle_timeout)
                    .max_connections(Some(self.max_connections))
            }
        }
    };
}

server_options!(SlowPoetry {
    #[serde(default = "default_num_bytes")]
    num_bytes: usize,
    #[serde(default = "default_delay", with = "human_duration")]
    delay: Duration,
    #[serde(default)]
    serial: bool,
    #[serde(default, deserialize_with = "poem")]
    poem: PoemArg,
});

impl ProgramOptions for SlowPoetry {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = server_docs().to_vec();
        docs.extend([
            OptionDoc::optional("num-bytes", "bytes", DEFAULT_NUM_BYTES.to_string()),
            OptionDoc::optional("delay", "seconds", format_duration(DEFAULT_DELAY)),
            OptionDoc::optional("serial", "bool", "false"),
            poem_doc(),
        ]);
        docs
    }

    fn check(&self) -> Result<(), String> {
        check_limits(self.idle_timeout, self.max_connections)?;
        if self.num_bytes == 0 {
            return Err("num-bytes must be at least 1".to_owned());
        }
        Ok(())
    }
}

server_options!(FastPoetry {
    #[serde(default, deserialize_with = "poem")]
    poem: PoemArg,
});

impl ProgramOptions for FastPoetry {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = server_docs().to_vec();
        docs.push(poem_doc());
        docs
    }

    fn check(&self) -> Result<(), String> {
        check_limits(self.idle_timeout, self.max_connections)
    }
}

server_options!(TransformServer {});

impl ProgramOptions for TransformServer {
    fn describe() -> Vec<OptionDoc> {
        server_docs().to_vec()
    }

    fn check(&self) -> Result<(), String> {
        check_limits(self.idle_timeout, self.max_connections)
    }
}

server_options!(Proxy {
    upstream: HostPort,
    #[serde(default = "default_expiry", with = "human_duration::or_never")]
    expiry: Option<Duration>,
    #[serde(default = "default_upstream_timeout", with = "human_duration::or_never")]
    upstream_timeout: Option<Duration>,
    #[serde(default = "default_max_poem_bytes")]
    max_poem_bytes: usize,
});

impl ProgramOptions for Proxy {
    fn describe() -> Vec<OptionDoc> {
        let mut docs = server_docs().to_vec();
        docs.extend([
            OptionDoc::required("upstream", "[host:]port"),
            OptionDoc::optional(
                "expiry",
                "seconds or never",
                format_duration(DEFAULT_EXPIRY),
            ),
            OptionDoc::optional(
                "upstream-timeout",
                "seconds or never",
                format_duration(DEFAULT_UPSTREAM_TIMEOUT),
            ),
            OptionDoc::optional(
                "max-poem-bytes",
                "bytes",
                DEFAULT_MAX_POEM_BYTES.to_string(),
            ),
        ]);
        docs
    }

    fn check(&self) -> Result<(), String> {
        check_limits(self.idle_timeout, self.max_connections)?;
        if self.upstream_timeout.is_some_and(|d| d.is_zero()) {
            return Err("upstream-timeout must be more than 0 seconds (or \"never\")".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Command, ListenerId};
    use crate::time::Instant;
    use crate::transport::ipv4;

    fn prepare(program: &str, options: &str) -> Result<Box<dyn Node>, String> {
        let table: toml::Table = toml::from_str(options).expect("toml");
        let make = catalogue()
            .prepare(program, &table)
            .map_err(|e| e.to_string())?;
        Ok(make())
    }

    /// What `node` prints once its listener is bound to 127.0.0.1:10000.
    fn startup_lines(mut node: Box<dyn Node>) -> Vec<String> {
        node.start(Instant::ZERO);
        node.handle_listening(Instant::ZERO, ListenerId(0), ipv4(127, 0, 0, 1, 10000));
        std::iter::from_fn(|| node.poll_command())
            .filter_map(|command| match command {
                Command::Print { line, .. } => Some(line),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn each_server_says_where_it_serves_as_its_command_does() {
        let cases = [
            (
                "slow-poetry",
                "num-bytes = 30",
                "Serving loom on 127.0.0.1:10000.",
            ),
            (
                "slow-poetry",
                "serial = true\npoem = \"clock\"",
                "Serving clock one client at a time on 127.0.0.1:10000.",
            ),
            (
                "fast-poetry",
                "poem = \"ten-bytes\"",
                "Serving ten-bytes on 127.0.0.1:10000.",
            ),
            (
                "transform-server",
                "",
                "Serving transforms on 127.0.0.1:10000.",
            ),
            (
                "proxy",
                "upstream = 10001",
                "Proxying 127.0.0.1:10001 on 127.0.0.1:10000.",
            ),
        ];
        for (program, options, line) in cases {
            let node = prepare(program, options).expect("builds");
            assert_eq!(startup_lines(node), [line], "{program} {options}");
        }
    }

    #[test]
    fn durations_are_seconds_or_text_and_never_where_the_flag_takes_it() {
        let o: Proxy = toml::from_str(
            "upstream = \"poet:10001\"\nexpiry = \"never\"\nupstream-timeout = 2.5\nidle-timeout = \"90s\"",
        )
        .expect("parses");
        assert_eq!(o.expiry, None);
        assert_eq!(o.upstream_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(o.idle_timeout, Some(Duration::from_secs(90)));
        assert_eq!(o.upstream, HostPort::new("poet", 10001));
        for (expiry, expected) in [
            ("\"never\"", None),
            ("\"90s\"", Some(Duration::from_secs(90))),
            ("60", Some(Duration::from_secs(60))),
            ("1.5", Some(Duration::from_millis(1500))),
        ] {
            let o: Proxy =
                toml::from_str(&format!("upstream = 1\nexpiry = {expiry}")).expect("parses");
            assert_eq!(o.expiry, expected, "expiry = {expiry}");
        }
    }

    #[test]
    fn a_services_file_takes_a_duration_a_number_of_seconds_or_never() {
        let file = crate::services::ServicesFile::parse(
            "services.toml",
            r#"
            [[service]]
            name = "text"
            program = "proxy"
            upstream = 10001
            expiry = "2h"
            upstream-timeout = "never"

            [[service]]
            name = "numbers"
            program = "proxy"
            upstream = 10002
            port = 10003
            expiry = 60
            idle-timeout = 1.5
            "#,
        )
        .expect("parses");
        assert!(file.prepare(&catalogue()).is_ok());
        let bad = crate::services::ServicesFile::parse(
            "services.toml",
            "[[service]]\nname = \"p\"\nprogram = \"proxy\"\nupstream = 1\nexpiry = \"soon\"",
        )
        .expect("parses");
        let Err(refused) = bad.prepare(&catalogue()) else {
            panic!("expiry = \"soon\" was taken");
        };
        let refused = refused.to_string();
        assert!(
            refused.contains("`expiry`: invalid duration \"soon\"")
                && refused.contains("or \"never\""),
            "{refused}"
        );
    }

    #[test]
    fn a_bad_duration_is_refused_with_its_key_and_the_forms_it_takes() {
        for (options, key) in [
            ("expiry = \"soon\"", "expiry"),
            ("upstream-timeout = \"later\"", "upstream-timeout"),
        ] {
            let error = prepare("proxy", &format!("upstream = 1\n{options}"))
                .err()
                .expect("refused");
            assert!(
                error.contains(&format!("`{key}`: invalid duration"))
                    && error.contains("like 150ms, 1.5s, 2m, 1h, or \"never\""),
                "{error}"
            );
        }
        let error = prepare("proxy", "upstream = 1\nexpiry = true")
            .err()
            .expect("refused");
        assert!(
            error.contains("`expiry`")
                && error
                    .contains("a duration such as \"150ms\", a number of seconds, or \"never\""),
            "{error}"
        );
    }

    #[test]
    fn bad_options_are_named_in_the_file_words() {
        let error = prepare("slow-poetry", "num-bytes = 0")
            .err()
            .expect("refused");
        assert_eq!(
            error,
            "bad options for slow-poetry: num-bytes must be at least 1"
        );
        let error = prepare("proxy", "port = 1").err().expect("refused");
        assert!(error.contains("missing field `upstream`"), "{error}");
        let error = prepare("fast-poetry", "poem = \"no/such.txt\"")
            .err()
            .expect("refused");
        assert!(
            error.contains("no such file or built-in poem: no/such.txt"),
            "{error}"
        );
        let error = prepare("transform-server", "idle-timeout = \"soon\"")
            .err()
            .expect("refused");
        assert!(
            error.contains("`idle-timeout`: invalid duration \"soon\""),
            "{error}"
        );
        let error = prepare("transform-server", "port = 70000")
            .err()
            .expect("refused");
        assert!(
            error.contains("expected a whole number from 0 to 65535"),
            "{error}"
        );
        assert!(!error.contains("u16"), "{error}");
    }

    #[test]
    fn every_server_lists_exactly_the_options_it_takes() {
        crate::scenario::assert_options_listed::<SlowPoetry>();
        crate::scenario::assert_options_listed::<FastPoetry>();
        crate::scenario::assert_options_listed::<TransformServer>();
        crate::scenario::assert_options_listed::<Proxy>();
    }
}
