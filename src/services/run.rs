//! Running services side by side: one current-thread tokio runtime, one driver loop per
//! service, a panic in one caught so that the others go on.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::task::Poll;

use tracing::Instrument;

use super::Services;
use crate::host::{Node, Stream};
use crate::net::{Output, Tokio};

/// How one service ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceEnd {
    /// It was serving when the stop came; this many connections were open.
    Stopped {
        /// Connections closed by the stop.
        open_connections: usize,
    },
    /// Its program exited by itself (a server whose port was taken exits with 1).
    Exited {
        /// The program's exit status.
        code: i32,
    },
    /// Its program panicked (a bug); the others went on.
    Panicked {
        /// The panic's message.
        message: String,
    },
}

impl ServiceEnd {
    /// Whether this counts against the process's exit status: a non-zero exit or a
    /// panic.
    pub fn failed(&self) -> bool {
        match self {
            Self::Stopped { .. } => false,
            Self::Exited { code } => *code != 0,
            Self::Panicked { .. } => true,
        }
    }
}

/// One service's end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceReport {
    /// Its name in the file.
    pub name: String,
    /// The program it ran.
    pub program: String,
    /// How it ended.
    pub end: ServiceEnd,
}

/// How a run of services ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicesReport {
    /// What stopped the run (`SIGTERM`); `None` if every service ended by itself.
    pub stopped_by: Option<String>,
    /// Every service, in the file's order.
    pub services: Vec<ServiceReport>,
}

impl ServicesReport {
    /// The services that failed, in the file's order.
    pub fn failures(&self) -> impl Iterator<Item = &ServiceReport> {
        self.services.iter().filter(|s| s.end.failed())
    }

    /// The process's exit status: 0 if no service failed, else 1.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failures().next().is_some())
    }

    /// One line naming each failed service and why, or `None` if none failed.
    pub fn failure_summary(&self) -> Option<String> {
        let failed: Vec<String> = self
            .failures()
            .map(|s| match &s.end {
                ServiceEnd::Exited { code } => format!("{:?} (exit status {code})", s.name),
                ServiceEnd::Panicked { .. } => format!("{:?} (panicked)", s.name),
                ServiceEnd::Stopped { .. } => format!("{:?}", s.name),
            })
            .collect();
        if failed.is_empty() {
            return None;
        }
        Some(format!(
            "{} of {} services failed: {}",
            failed.len(),
            self.services.len(),
            failed.join(", ")
        ))
    }
}

/// Lets every service's driver print through one sink.
struct Shared<'s, 'o>(&'s RefCell<&'o mut dyn Output>);

impl Output for Shared<'_, '_> {
    fn line(&mut self, stream: Stream, line: &str) {
        self.0.borrow_mut().line(stream, line);
    }
}

type Running<'a> = Pin<Box<dyn Future<Output = i32> + 'a>>;

impl Services {
    /// Runs every service on real TCP, in a fresh current-thread tokio runtime on this
    /// thread, until `stop` resolves (to what stopped it, such as `SIGTERM`) or every
    /// service has ended. Each service's program prints through `output` and logs in a
    /// `service{name=..}` span; logging is the caller's (see
    /// [`LogOptions::dispatch`](super::LogOptions::dispatch)).
    ///
    /// A service that ends on its own is reported on `output`'s stderr at once, and the
    /// others go on; a panic in one is caught and reported the same way. On a stop,
    /// every service's listener and connections close, and one line on stdout says
    /// how many connections were open: `Stopped by SIGTERM; closing 3 connections.`
    ///
    /// `stop` is polled before any service starts, so a signal handler it installs is
    /// in place before a server says it is listening.
    ///
    /// ```no_run
    /// use weft::net::StdOutput;
    /// use weft::services::ServicesFile;
    ///
    /// let services = ServicesFile::load("services.toml")?.prepare(&weft::programs::catalogue())?;
    /// let stop = async {
    ///     let _ = tokio::signal::ctrl_c().await;
    ///     "SIGINT".to_owned()
    /// };
    /// let report = services.run_until(stop, &mut StdOutput).expect("a tokio runtime");
    /// std::process::exit(report.exit_code());
    /// # Ok::<(), weft::services::ServicesError>(())
    /// ```
    ///
    /// # Errors
    /// If the tokio runtime cannot be built.
    pub fn run_until<F>(self, stop: F, output: &mut dyn Output) -> std::io::Result<ServicesReport>
    where
        F: Future<Output = String>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let report = runtime.block_on(self.serve(stop, output));
        // Dropping the runtime ends every task still running: lingering closes and
        // the sockets of a service that panicked mid-way.
        drop(runtime);
        Ok(report)
    }

    async fn serve<F: Future<Output = String>>(
        self,
        stop: F,
        output: &mut dyn Output,
    ) -> ServicesReport {
        let mut nodes: Vec<Box<dyn Node>> = self.services.iter().map(|s| (s.make)()).collect();
        let sink = RefCell::new(output);
        let mut sinks: Vec<Shared<'_, '_>> = nodes.iter().map(|_| Shared(&sink)).collect();
        let mut running: Vec<Option<Running<'_>>> = nodes
            .iter_mut()
            .zip(sinks.iter_mut())
            .zip(&self.services)
            .map(|((node, out), service)| {
                let span = tracing::info_span!("service", name = %service.name);
                let run = crate::net::run_on(Tokio, node.as_mut(), out).instrument(span);
                Some(Box::pin(run) as Running<'_>)
            })
            .collect();
        let mut ends: Vec<Option<ServiceEnd>> = vec![None; running.len()];
        let mut stop = pin!(stop);
        let stopped_by = poll_fn(|cx| {
            if let Poll::Ready(by) = stop.as_mut().poll(cx) {
                return Poll::Ready(Some(by));
            }
            for (index, slot) in running.iter_mut().enumerate() {
                let Some(service) = slot else { continue };
                let end = match catch_unwind(AssertUnwindSafe(|| service.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => continue,
                    Ok(Poll::Ready(code)) => ServiceEnd::Exited { code },
                    Err(payload) => ServiceEnd::Panicked {
                        message: panic_message(payload.as_ref()),
                    },
                };
                // Dropping a driver closes its listener and connections.
                *slot = None;
                ends[index] = Some(end);
                let left = ends.iter().filter(|end| end.is_none()).count();
                let line = ended_line(&self.services[index].name, ends[index].as_ref(), left);
                sink.borrow_mut().line(Stream::Stderr, &line);
            }
            if ends.iter().all(Option::is_some) {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        drop(running);
        let mut open = 0;
        let services = self
            .services
            .iter()
            .zip(ends)
            .zip(&nodes)
            .map(|((service, end), node)| {
                let end = end.unwrap_or_else(|| {
                    let open_connections = node.connections().len();
                    open += open_connections;
                    ServiceEnd::Stopped { open_connections }
                });
                ServiceReport {
                    name: service.name.clone(),
                    program: service.program.clone(),
                    end,
                }
            })
            .collect();
        if let Some(by) = &stopped_by {
            let line = format!("Stopped by {by}; closing {open} connections.");
            sink.borrow_mut().line(Stream::Stdout, &line);
        }
        // The nodes' connections close as the runtime drops their tasks.
        drop(nodes);
        ServicesReport {
            stopped_by,
            services,
        }
    }
}

/// The line that says a service ended before the stop.
fn ended_line(name: &str, end: Option<&ServiceEnd>, left: usize) -> String {
    let what = match end {
        Some(ServiceEnd::Exited { code }) => format!("exited with status {code}"),
        Some(ServiceEnd::Panicked { message }) => format!("panicked: {message}"),
        Some(ServiceEnd::Stopped { .. }) | None => "stopped".to_owned(),
    };
    let rest = match left {
        0 => "no service is left".to_owned(),
        1 => "1 service goes on".to_owned(),
        n => format!("{n} services go on"),
    };
    format!("service {name:?} {what}; {rest}.")
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ends: &[ServiceEnd]) -> ServicesReport {
        ServicesReport {
            stopped_by: Some("SIGTERM".into()),
            services: ends
                .iter()
                .enumerate()
                .map(|(i, end)| ServiceReport {
                    name: format!("s{i}"),
                    program: "p".into(),
                    end: end.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_run_fails_if_any_service_exited_badly_or_panicked() {
        let stopped = ServiceEnd::Stopped {
            open_connections: 2,
        };
        let done = ServiceEnd::Exited { code: 0 };
        assert_eq!(report(&[stopped.clone(), done.clone()]).exit_code(), 0);
        assert_eq!(report(&[stopped.clone(), done]).failure_summary(), None);
        let bad = report(&[
            stopped,
            ServiceEnd::Exited { code: 1 },
            ServiceEnd::Panicked {
                message: "boom".into(),
            },
        ]);
        assert_eq!(bad.exit_code(), 1);
        assert_eq!(
            bad.failure_summary().as_deref(),
            Some("2 of 3 services failed: \"s1\" (exit status 1), \"s2\" (panicked)")
        );
    }

    #[test]
    fn an_early_end_says_how_many_services_go_on() {
        let end = ServiceEnd::Exited { code: 1 };
        assert_eq!(
            ended_line("slow", Some(&end), 1),
            "service \"slow\" exited with status 1; 1 service goes on."
        );
        let end = ServiceEnd::Panicked {
            message: "oops".into(),
        };
        assert_eq!(
            ended_line("x", Some(&end), 0),
            "service \"x\" panicked: oops; no service is left."
        );
    }
}
