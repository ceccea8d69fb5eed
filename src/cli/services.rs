//! `serve FILE.toml`: several services in one process (Part 16's `twistd` with a `.tac`
//! file). `weft serve` runs weft's servers; a user's binary runs its catalogue's
//! programs.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use crate::host::Stream;
use crate::net::Output;
use crate::scenario::Catalogue;
use crate::services::{Services, ServicesFile};

/// Arguments of `serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
An example file (docs/services.toml in weft's source has a longer one):

  [log]                       # optional; without it, logs go to stderr
  file = \"poetry.log\"         # poetry.log.2026-12-01, ...; poetry.log links to the newest
  rotate = \"daily\"            # never (the default), minutely, hourly, daily, weekly
  keep = 7                    # rotated files kept (default: all)

  [[service]]
  name = \"slow\"
  program = \"slow-poetry\"     # slow-poetry, fast-poetry, transform-server, proxy
  port = 10001                # every other key is the command's flag: --num-bytes 30
  num-bytes = 30

  [[service]]
  name = \"proxy\"
  program = \"proxy\"
  port = 10000
  upstream = 10001

Each service prints its startup line as its own command does, then all serve until
SIGINT or SIGTERM: every listener and connection closes and one line says how many
connections were open. A service that fails (its port is taken, it panics) is reported
on stderr at once; the others go on. Options and defaults: `weft serve --programs`.

Exit status: 0 if stopped and no service failed, 1 if one failed, 2 for a bad file.")]
pub(crate) struct ServeArgs {
    /// The services file: [[service]] tables (name, program, options) and an optional
    /// [log] table.
    #[arg(value_name = "FILE.toml", required_unless_present = "programs")]
    file: Option<PathBuf>,
    /// Check the file and list its services, without serving.
    #[arg(long)]
    check: bool,
    /// List the programs a service can run, with their options and defaults.
    #[arg(long, conflicts_with = "check")]
    programs: bool,
}

/// Runs `serve` over `catalogue`, printing the services' lines to `out`.
pub(crate) fn run(args: &ServeArgs, catalogue: &Catalogue, out: &mut dyn Write) -> i32 {
    if args.programs {
        let _ = write!(out, "{}", catalogue.listing());
        return 0;
    }
    // clap requires a file unless --programs is given.
    let Some(path) = &args.file else {
        return 2;
    };
    let services = match ServicesFile::load(path).and_then(|file| file.prepare(catalogue)) {
        Ok(services) => services,
        Err(error) => {
            eprintln!("error: {error}");
            return 2;
        }
    };
    if args.check {
        let _ = write!(out, "{}", check_listing(&services));
        return 0;
    }
    match services.log().dispatch() {
        // A binary that installed its own subscriber keeps it.
        Ok(dispatch) => {
            let _ = tracing::dispatcher::set_global_default(dispatch);
        }
        Err(error) => {
            eprintln!("error: {error}");
            return 2;
        }
    }
    super::serve::raise_fd_limit();
    let stop = async { super::serve::stop_signal().await.to_owned() };
    match services.run_until(stop, &mut Lines(out)) {
        Ok(report) => {
            if let Some(summary) = report.failure_summary() {
                eprintln!("{summary}");
            }
            report.exit_code()
        }
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

/// What `--check` prints: each service and its program, and where the log goes.
fn check_listing(services: &Services) -> String {
    let mut text = String::new();
    let count = services.names().count();
    for (name, program) in services.programs() {
        text.push_str(&format!("{name}: {program}\n"));
    }
    let log = services.log();
    let to = match &log.file {
        Some(file) => {
            let rotate = format!("{:?}", log.rotate).to_lowercase();
            format!("{} (rotate: {rotate})", file.display())
        }
        None => "stderr".to_owned(),
    };
    let plural = if count == 1 { "" } else { "s" };
    text.push_str(&format!("{count} service{plural}; logs to {to}\n"));
    text
}

/// Stdout lines to the command's output, flushed one by one (a caller waits for a
/// startup line); stderr lines to stderr.
struct Lines<'a>(&'a mut dyn Write);

impl Output for Lines<'_> {
    fn line(&mut self, stream: Stream, line: &str) {
        match stream {
            Stream::Stdout => {
                let _ = writeln!(self.0, "{line}").and_then(|()| self.0.flush());
            }
            Stream::Stderr => eprintln!("{line}"),
        }
    }
}
