//! Several servers in one process, from a file: weft's answer to Twisted's `twistd` and
//! its `.tac` files.
//!
//! Twisted's Part 16 turns a server script into an *application*: a `.tac` file builds
//! a `MultiService` of `TCPServer`s, and `twistd` runs it, logs to a file it rotates,
//! and stops every service when told to. In weft the application is data, a TOML file,
//! and its programs come from a [`Catalogue`] — the same one its scenarios use, so a
//! crate's own servers are services too:
//!
//! ```toml
//! [log]                     # optional; without it, logs go to stderr
//! file = "poetry.log"       # rotated files are poetry.log.2026-12-01 and so on
//! rotate = "daily"          # never (the default), minutely, hourly, daily or weekly
//! keep = 7                  # how many rotated files to keep (default: all)
//! level = "info"            # a RUST_LOG filter (default: RUST_LOG, else info)
//!
//! [[service]]
//! name = "slow"             # each service has a name of its own
//! program = "slow-poetry"   # a program of the catalogue
//! port = 10001              # every other key is one of the program's options
//! num-bytes = 30
//! ```
//!
//! [`ServicesFile::parse`] reads such a file and checks its own keys (unknown keys,
//! duplicate names, two services on one port); [`ServicesFile::prepare`] checks every
//! service's options against its program and gives [`Services`], which
//! [`run_until`](Services::run_until) runs on real TCP in one tokio runtime, each
//! service with its own listener, until a stop (a signal, for `weft serve`). A service
//! that fails — its port is taken, it exits, it panics — is reported and the others go
//! on serving; the [`ServicesReport`] says how each ended.
//!
//! ```
//! use weft::services::ServicesFile;
//!
//! let file = ServicesFile::parse(
//!     "services.toml",
//!     r#"
//!     [[service]]
//!     name = "ping"
//!     program = "pingpong-server"
//!     iface = "127.0.0.1"
//!     port = 0
//!     "#,
//! )?;
//! let services = file.prepare(&weft::programs::catalogue())?;
//! assert_eq!(services.names().collect::<Vec<_>>(), ["ping"]);
//!
//! // A misspelt option is refused by name, before anything listens.
//! let error = ServicesFile::parse(
//!     "services.toml",
//!     "[[service]]\nname = \"ping\"\nprogram = \"pingpong-server\"\nprot = 1",
//! )?
//! .prepare(&weft::programs::catalogue())
//! .err()
//! .expect("refused");
//! assert!(error.to_string().contains("unknown field `prot`"), "{error}");
//! # Ok::<(), weft::services::ServicesError>(())
//! ```
//!
//! `weft serve FILE.toml` runs a file over weft's real-TCP servers (the options of
//! `weft slow-poetry`, `fast-poetry`, `transform-server` and `proxy`); a crate's binary
//! that calls [`weft::cli::main`](crate::cli::main) gets `serve` over its own catalogue.

mod log;
mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::scenario::{Catalogue, Constructor, ProgramError, Table};

pub use log::{LogOptions, Rotation};
pub use run::{ServiceEnd, ServiceReport, ServicesReport};

/// A services file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file's own keys are wrong: malformed TOML, an unknown key, a service without
    /// a name or a program, two services with one name or port.
    #[error("{origin}: {message}")]
    Invalid {
        /// Which file.
        origin: String,
        /// What is wrong, in the file's words.
        message: String,
    },
    /// A service's program is unknown or its options do not fit it.
    #[error("{origin}: service {service:?}: {source}")]
    Program {
        /// Which file.
        origin: String,
        /// Which service.
        service: String,
        /// What the catalogue said.
        source: ProgramError,
    },
    /// The log file cannot be opened.
    #[error("cannot open the log file {path}: {message}")]
    LogFile {
        /// The `file` of the `[log]` table.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// One `[[service]]` table: a name, a program of the catalogue, and its options.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    /// The service's name, unique in its file; logs and reports use it.
    pub name: String,
    /// The catalogue program it runs.
    pub program: String,
    /// Every other key of the table: the program's options.
    pub options: Table,
}

/// A parsed services file: how to log, and the services in the order written.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicesFile {
    /// Where the file came from, for messages.
    pub origin: String,
    /// The `[log]` table.
    pub log: LogOptions,
    /// The `[[service]]` tables.
    pub services: Vec<ServiceSpec>,
}

/// The file's top level as serde reads it; a service's keys are checked by hand, since
/// every key but `name` and `program` belongs to its program.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    log: LogOptions,
    #[serde(default)]
    service: Vec<Table>,
}

impl ServicesFile {
    /// Reads and parses the file at `path`.
    ///
    /// # Errors
    /// If it cannot be read, or as [`parse`](Self::parse).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ServicesError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ServicesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path.display().to_string(), &text)
    }

    /// Parses a services file's text; `origin` names it in messages.
    ///
    /// # Errors
    /// [`ServicesError::Invalid`] for malformed TOML, a key the file format does not
    /// have, a bad `[log]` table, no services, a service without a `name` or `program`,
    /// two services of one name, or two on one `iface` and non-zero `port`. The
    /// programs' own options are checked by [`prepare`](Self::prepare).
    pub fn parse(origin: impl Into<String>, text: &str) -> Result<Self, ServicesError> {
        let origin = origin.into();
        let invalid = |message: String| ServicesError::Invalid {
            origin: origin.clone(),
            message,
        };
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| invalid(crate::scenario::in_file_words(&e.to_string())))?;
        raw.log.check().map_err(invalid)?;
        if raw.service.is_empty() {
            return Err(invalid(
                "no services: add a [[service]] table with a name and a program".to_owned(),
            ));
        }
        let mut services: Vec<ServiceSpec> = Vec::with_capacity(raw.service.len());
        for (index, table) in raw.service.into_iter().enumerate() {
            let spec = service_spec(index + 1, table).map_err(invalid)?;
            if services.iter().any(|s| s.name == spec.name) {
                return Err(invalid(format!(
                    "two services are named {:?}: each needs a name of its own",
                    spec.name
                )));
            }
            services.push(spec);
        }
        check_ports(&services).map_err(invalid)?;
        Ok(Self {
            origin,
            log: raw.log,
            services,
        })
    }

    /// Checks every service's options against its program in `catalogue` and returns
    /// the services, ready to run.
    ///
    /// # Errors
    /// [`ServicesError::Program`] for the first service whose program is unknown or
    /// whose options do not fit.
    pub fn prepare(&self, catalogue: &Catalogue) -> Result<Services, ServicesError> {
        let mut services = Vec::with_capacity(self.services.len());
        for spec in &self.services {
            let make = catalogue
                .prepare(&spec.program, &spec.options)
                .map_err(|source| ServicesError::Program {
                    origin: self.origin.clone(),
                    service: spec.name.clone(),
                    source,
                })?;
            services.push(Prepared {
                name: spec.name.clone(),
                program: spec.program.clone(),
                make,
            });
        }
        Ok(Services {
            log: self.log.clone(),
            services,
        })
    }
}

/// The `index`th `[[service]]` table, split into name, program and options.
fn service_spec(index: usize, mut table: Table) -> Result<ServiceSpec, String> {
    let mut text = |key: &str, what: &str| match table.remove(key) {
        Some(toml::Value::String(value)) if !value.trim().is_empty() => Ok(value),
        Some(toml::Value::String(_)) => Err(format!("service {index}: `{key}` is empty")),
        Some(other) => Err(format!(
            "service {index}: `{key}` must be a string ({what}), not {}",
            with_article(other.type_str())
        )),
        None => Err(format!("service {index} has no `{key}` ({what})")),
    };
    let name = text("name", "the service's own name")?;
    let program = text("program", "the program it runs").map_err(|e| {
        // Say which service by the name the author gave it.
        e.replacen(&format!("service {index}"), &format!("service {name:?}"), 1)
    })?;
    Ok(ServiceSpec {
        name,
        program,
        options: table,
    })
}

/// `an integer`, `a table`.
fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

/// Two services may not ask for one port on one interface (port 0 picks a free one).
fn check_ports(services: &[ServiceSpec]) -> Result<(), String> {
    let mut taken: BTreeMap<(String, i64), &str> = BTreeMap::new();
    for spec in services {
        let Some(port) = spec.options.get("port").and_then(toml::Value::as_integer) else {
            continue;
        };
        if port == 0 {
            continue;
        }
        let iface = spec
            .options
            .get("iface")
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(first) = taken.insert((iface, port), &spec.name) {
            return Err(format!(
                "services {first:?} and {:?} both listen on port {port}",
                spec.name
            ));
        }
    }
    Ok(())
}

/// One service, its options checked.
struct Prepared {
    name: String,
    program: String,
    make: Constructor,
}

/// Services ready to run: from [`ServicesFile::prepare`].
pub struct Services {
    log: LogOptions,
    services: Vec<Prepared>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("log", &self.log)
            .field("services", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl Services {
    /// The services' names, in the file's order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.name.as_str())
    }

    /// Each service's name and program, in the file's order.
    pub fn programs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.services
            .iter()
            .map(|s| (s.name.as_str(), s.program.as_str()))
    }

    /// The file's `[log]` table.
    pub fn log(&self) -> &LogOptions {
        &self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ServicesFile, String> {
        ServicesFile::parse("s.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_service_is_a_name_a_program_and_its_options() {
        let file = parse(
            "[[service]]\nname = \"slow\"\nprogram = \"slow-poetry\"\nport = 10001\nnum-bytes = 30",
        )
        .expect("parses");
        let spec = &file.services[0];
        assert_eq!(
            (spec.name.as_str(), spec.program.as_str()),
            ("slow", "slow-poetry")
        );
        let keys: Vec<&String> = spec.options.keys().collect();
        assert_eq!(keys, ["num-bytes", "port"]);
        assert_eq!(file.log, LogOptions::default());
    }

    #[test]
    fn a_misspelt_top_level_key_is_named() {
        let error = parse("[[services]]\nname = \"a\"").expect_err("refused");
        assert!(error.contains("unknown field `services`"), "{error}");
        assert!(error.starts_with("s.toml: "), "{error}");
    }

    #[test]
    fn a_file_without_services_is_refused() {
        let error = parse("[log]\nrotate = \"daily\"").expect_err("refused");
        assert_eq!(
            error,
            "s.toml: no services: add a [[service]] table with a name and a program"
        );
    }

    #[test]
    fn a_service_needs_a_name_and_a_program() {
        let error = parse("[[service]]\nprogram = \"proxy\"").expect_err("refused");
        assert_eq!(
            error,
            "s.toml: service 1 has no `name` (the service's own name)"
        );
        let error = parse("[[service]]\nname = \"p\"\nprogram = 3").expect_err("refused");
        assert_eq!(
            error,
            "s.toml: service \"p\": `program` must be a string (the program it runs), not an integer"
        );
    }

    #[test]
    fn two_services_of_one_name_or_port_are_refused() {
        let one = "[[service]]\nname = \"a\"\nprogram = \"x\"\nport = 7000\n";
        let error = parse(&format!("{one}{one}")).expect_err("refused");
        assert!(error.contains("two services are named \"a\""), "{error}");
        let other = "[[service]]\nname = \"b\"\nprogram = \"y\"\nport = 7000\n";
        let error = parse(&format!("{one}{other}")).expect_err("refused");
        assert!(
            error.ends_with("services \"a\" and \"b\" both listen on port 7000"),
            "{error}"
        );
        let elsewhere = "[[service]]\nname = \"b\"\nprogram = \"y\"\nport = 7000\niface = \"::1\"";
        assert!(parse(&format!("{one}{elsewhere}")).is_ok());
        let free = "[[service]]\nname = \"c\"\nprogram = \"y\"\nport = 0\n";
        let also_free = "[[service]]\nname = \"d\"\nprogram = \"y\"\nport = 0\n";
        assert!(parse(&format!("{free}{also_free}")).is_ok());
    }

    #[test]
    fn an_unknown_program_is_named_with_the_service() {
        let file = parse("[[service]]\nname = \"p\"\nprogram = \"poxy\"").expect("parses");
        let error = file
            .prepare(&crate::programs::catalogue())
            .expect_err("refused")
            .to_string();
        assert!(
            error.starts_with("s.toml: service \"p\": unknown program \"poxy\"; known programs: "),
            "{error}"
        );
    }
}
