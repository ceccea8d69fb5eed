//! The open catalogue of programs a scenario host can run, by name.

mod fields;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::host::{FactoryProgram, Host, HostPort, Node, Program};
use crate::protocol::Factory;

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
        /// What the parser or the options' own check said.
        message: String,
    },
}

/// One option of a program, as `sim programs` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionDoc {
    /// The key in a host's `options` table.
    pub name: String,
    /// What its value is, in the file's terms (`host:port`, `duration`, ...).
    pub kind: String,
    /// Its default as a file would write it; `None` if the option is required.
    pub default: Option<String>,
}

impl OptionDoc {
    /// An option a host must give.
    pub fn required(name: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            default: None,
        }
    }

    /// An option with a default.
    pub fn optional(
        name: impl Into<String>,
        kind: impl Into<String>,
        default: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            kind: kind.into(),
            default: Some(default.into()),
        }
    }
}

impl fmt::Display for OptionDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.default {
            Some(default) => write!(f, "{} ({}, default {default})", self.name, self.kind),
            None => write!(f, "{} ({}, required)", self.name, self.kind),
        }
    }
}

/// The typed options of a registered program: what a host's `options` table parses into.
///
/// Derive `Deserialize` with `#[serde(deny_unknown_fields, rename_all = "kebab-case")]`
/// on a plain struct (no `flatten`), and list every field in [`describe`](Self::describe).
/// Registration checks the listing against the keys serde accepts and panics if they
/// differ, so the listing cannot drift from the struct.
///
/// ```
/// use serde::Deserialize;
/// use weft::scenario::{OptionDoc, ProgramOptions};
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields, rename_all = "kebab-case")]
/// struct Echo {
///     port: u16,
///     #[serde(default)]
///     greeting: String,
/// }
///
/// impl ProgramOptions for Echo {
///     fn describe() -> Vec<OptionDoc> {
///         vec![
///             OptionDoc::required("port", "port"),
///             OptionDoc::optional("greeting", "text", "\"\""),
///         ]
///     }
///
///     fn check(&self) -> Result<(), String> {
///         if self.port == 0 {
///             return Err("port 0 is not allowed here".into());
///         }
///         Ok(())
///     }
/// }
/// # weft::scenario::assert_options_listed::<Echo>();
/// ```
pub trait ProgramOptions: DeserializeOwned + Send + Sync + 'static {
    /// Every option: its key, type and default, in the order to list them.
    fn describe() -> Vec<OptionDoc>;

    /// Checks what parsing cannot (a name that must exist, two options that exclude each
    /// other). Runs when a scenario is validated, so a bad file fails before any run.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The options of a program that takes none: any key is refused.
#[derive(Clone, Copy, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

impl ProgramOptions for NoOptions {
    fn describe() -> Vec<OptionDoc> {
        Vec::new()
    }
}

/// Checks that `O`'s [`describe`](ProgramOptions::describe) lists exactly the keys its
/// `Deserialize` accepts; returns what differs.
pub fn options_listing_problems<O: ProgramOptions>() -> Option<String> {
    let Some(accepted) = fields::accepted_keys::<O>() else {
        return Some(
            "its options are not a plain struct (flatten or a hand-written Deserialize); \
             the listed keys cannot be checked"
                .to_owned(),
        );
    };
    let listed: Vec<String> = O::describe().into_iter().map(|o| o.name).collect();
    let missing: Vec<&str> = accepted
        .iter()
        .copied()
        .filter(|k| !listed.iter().any(|l| l == k))
        .collect();
    let extra: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|l| !accepted.contains(l))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return None;
    }
    Some(format!(
        "accepted but not listed: [{}]; listed but not accepted: [{}]",
        missing.join(", "),
        extra.join(", ")
    ))
}

/// Panics unless `O`'s listing is exactly the keys it accepts (for a unit test).
///
/// # Panics
/// If the listing and the accepted keys differ.
pub fn assert_options_listed<O: ProgramOptions>() {
    if let Some(problem) = options_listing_problems::<O>() {
        panic!("{}: {problem}", std::any::type_name::<O>());
    }
}

/// Parses options from TOML text rather than from a value, so that an error has a
/// place: a value's own parser cannot say which key it was under, and a message such as
/// `invalid duration "soon"` must name the key it is about.
fn parse_options<O: DeserializeOwned>(table: &toml::Table) -> Result<O, String> {
    let text = toml::to_string(table).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e: toml::de::Error| {
        let message = super::words::in_file_words(e.message());
        match e.span().and_then(|span| key_on_line(&text, span.start)) {
            Some(key) if !message.contains(&format!("`{key}`")) => format!("`{key}`: {message}"),
            _ => message,
        }
    })
}

/// The key of the `key = value` line of `text` that holds byte `at`.
fn key_on_line(text: &str, at: usize) -> Option<&str> {
    let start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let (key, _) = text[start..].split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.contains('\n')).then_some(key)
}

/// Builds a fresh program for a host: called at its start and at each restart.
pub type Constructor = Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

type Prepare = Box<dyn Fn(&toml::Table) -> Result<Constructor, String> + Send + Sync>;

struct Entry {
    summary: String,
    options: Vec<OptionDoc>,
    prepare: Prepare,
}

/// The programs scenario hosts can run, each under a name, with typed options.
///
/// A catalogue is plain data shared by every run of a sweep (it is `Send + Sync`); the
/// constructors it holds are called at every start and restart of a host. weft's own
/// programs are [`weft::programs::catalogue()`](crate::programs::catalogue), registered
/// through this same API; a crate adds its own to that or to [`Catalogue::new`].
///
/// ```
/// use serde::Deserialize;
/// use weft::host::{ConnId, ConnectError, HostContext, Program};
/// use weft::transport::Disconnect;
/// use weft::scenario::{Catalogue, OptionDoc, ProgramOptions, Scenario};
///
/// /// Prints a greeting and exits.
/// struct Greeter(String);
///
/// impl Program for Greeter {
///     type Timer = ();
///     fn start(&mut self, cx: &mut HostContext<'_, ()>) {
///         cx.print(format!("hello, {}", self.0));
///         cx.exit(0);
///     }
///     fn connection_made(&mut self, _: &mut HostContext<'_, ()>, _: ConnId) {}
///     fn data_received(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: &[u8]) {}
///     fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}
///     fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
/// }
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields, rename_all = "kebab-case")]
/// struct GreeterOptions {
///     #[serde(default = "world")]
///     name: String,
/// }
/// fn world() -> String {
///     "world".into()
/// }
///
/// impl ProgramOptions for GreeterOptions {
///     fn describe() -> Vec<OptionDoc> {
///         vec![OptionDoc::optional("name", "text", "world")]
///     }
/// }
///
/// let catalogue = weft::programs::catalogue().program(
///     "greeter",
///     "prints a greeting and exits",
///     |o: &GreeterOptions| Greeter(o.name.clone()),
/// );
/// let scenario = Scenario::parse(
///     "greet",
///     r#"
///     [[hosts]]
///     name = "g"
///     program = "greeter"
///     options = { name = "weft" }
///     [expect]
///     exit = { g = 0 }
///     stdout = { g = ["hello, weft"] }
///     "#,
///     &catalogue,
/// )?;
/// assert!(scenario.run(&catalogue, scenario.seed)?.passed());
/// # Ok::<(), weft::scenario::ScenarioError>(())
/// ```
#[derive(Default)]
pub struct Catalogue {
    programs: BTreeMap<String, Entry>,
}

impl fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.programs.keys()).finish()
    }
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers any node: `make` builds it from the host's options.
    ///
    /// # Panics
    /// If `name` is already registered, or if `O`'s listed options are not exactly the
    /// keys it accepts (see [`ProgramOptions`]).
    #[must_use]
    pub fn node<O, M>(mut self, name: &str, summary: &str, make: M) -> Self
    where
        O: ProgramOptions,
        M: Fn(&O) -> Box<dyn Node> + Send + Sync + 'static,
    {
        if let Some(problem) = options_listing_problems::<O>() {
            panic!("program {name:?}: {problem}");
        }
        assert!(
            !self.programs.contains_key(name),
            "program {name:?} is registered twice"
        );
        let make = Arc::new(make);
        let prepare: Prepare = Box::new(move |table| {
            let options: O = parse_options(table)?;
            options.check()?;
            let (options, make) = (Arc::new(options), make.clone());
            Ok(Arc::new(move || make(&options)) as Constructor)
        });
        self.programs.insert(
            name.to_owned(),
            Entry {
                summary: summary.to_owned(),
                options: O::describe(),
                prepare,
            },
        );
        self
    }

    /// Registers a [`Program`], run in a [`Host`].
    ///
    /// # Panics
    /// As [`node`](Self::node).
    #[must_use]
    pub fn program<O, P, M>(self, name: &str, summary: &str, make: M) -> Self
    where
        O: ProgramOptions,
        P: Program + 'static,
        M: Fn(&O) -> P + Send + Sync + 'static,
    {
        self.node(name, summary, move |o: &O| {
            Box::new(Host::new(make(o))) as Box<dyn Node>
        })
    }

    /// Registers a server: `make` gives the address to listen on and the factory whose
    /// protocol serves each accepted connection.
    ///
    /// # Panics
    /// As [`node`](Self::node).
    #[must_use]
    pub fn listening<O, F, M>(self, name: &str, summary: &str, make: M) -> Self
    where
        O: ProgramOptions,
        F: Factory + 'static,
        M: Fn(&O) -> (HostPort, F) + Send + Sync + 'static,
    {
        self.program(name, summary, move |o: &O| {
            let (addr, factory) = make(o);
            FactoryProgram::new(factory).listen(addr)
        })
    }

    /// Registers a client: `make` gives the address to connect to and the factory whose
    /// protocol runs the connection; the host exits once it is done (status 0 if it
    /// closed cleanly).
    ///
    /// # Panics
    /// As [`node`](Self::node).
    #[must_use]
    pub fn connecting<O, F, M>(self, name: &str, summary: &str, make: M) -> Self
    where
        O: ProgramOptions,
        F: Factory + 'static,
        M: Fn(&O) -> (HostPort, F) + Send + Sync + 'static,
    {
        self.program(name, summary, move |o: &O| {
            let (to, factory) = make(o);
            FactoryProgram::new(factory).connect(to).exit_when_done()
        })
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.programs.keys().map(String::as_str)
    }

    /// A program's one-line summary and its options.
    pub fn describe(&self, name: &str) -> Option<(&str, &[OptionDoc])> {
        let entry = self.programs.get(name)?;
        Some((&entry.summary, &entry.options))
    }

    /// Parses and checks `options` for `program`, and returns its constructor.
    pub fn prepare(
        &self,
        program: &str,
        options: &super::Table,
    ) -> Result<Constructor, ProgramError> {
        let entry = self
            .programs
            .get(program)
            .ok_or_else(|| ProgramError::Unknown {
                name: program.to_owned(),
                known: self.names().collect::<Vec<_>>().join(", "),
            })?;
        (entry.prepare)(options).map_err(|message| ProgramError::Options {
            program: program.to_owned(),
            message,
        })
    }

    /// The listing `sim programs` prints: each program, its summary, and one line per
    /// option with its type and default.
    pub fn listing(&self) -> String {
        let mut text = String::new();
        for (name, entry) in &self.programs {
            text.push_str(&format!("{name}\n    {}\n", entry.summary));
            if entry.options.is_empty() {
                text.push_str("    (no options)\n");
            }
            for option in &entry.options {
                let default = option
                    .default
                    .as_deref()
                    .map_or_else(|| "required".to_owned(), |d| format!("default {d}"));
                text.push_str(&format!(
                    "    {:<20} {:<28} {default}\n",
                    option.name, option.kind
                ));
            }
        }
        text
    }
}
