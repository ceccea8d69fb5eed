//! What get-poetry prints: a line (or a poem) as each download ends, and the summary
//! once they all have, in the chosen [`ReportStyle`]. Shared by the state machine and
//! the async clients, so both print the same lines.

use std::time::Duration;

use crate::host::{HostContext, HostPort};
use crate::time::format_timedelta;

use super::super::client::DownloadError;
use super::super::poems::Poem;
use super::{GetPoetry, GetPoetryTimer, ReportStyle, transform};

/// Where report lines go: a program's context, or a task's handle.
pub(crate) trait ReportLines {
    fn out(&mut self, line: String);
    fn err(&mut self, line: String);
}

impl<T> ReportLines for HostContext<'_, T> {
    fn out(&mut self, line: String) {
        self.print(line);
    }
    fn err(&mut self, line: String) {
        self.eprint(line);
    }
}

impl ReportLines for &crate::task::Tasks {
    fn out(&mut self, line: String) {
        self.print(line);
    }
    fn err(&mut self, line: String) {
        self.eprint(line);
    }
}

/// Reports the end of download `i` (input order) of `server`, which took `took`.
pub(crate) fn result_lines(
    out: &mut dyn ReportLines,
    style: ReportStyle,
    i: usize,
    server: &HostPort,
    took: Duration,
    result: &Result<Poem, DownloadError>,
) {
    let task = i + 1;
    match (result, style) {
        (Ok(poem), ReportStyle::AsArrived | ReportStyle::AsArrivedTerse) => {
            print_poem(out, poem);
        }
        (Err(error), ReportStyle::AsArrived) => {
            out.err(format!("The poem download failed: {error}"));
        }
        (Err(_), ReportStyle::AsArrivedTerse) => out.err("The poem download failed.".into()),
        (Err(error), ReportStyle::Tasks | ReportStyle::Blocking) => {
            out.err(format!("Task {task} failed: {error}"));
        }
        (Err(error), ReportStyle::Numbered | ReportStyle::PoemsAtEnd) => match error.failure {
            super::super::client::Failure::Connect(_) => {
                out.out(format!("Failed to connect to: {server}"));
            }
            _ => out.err(format!("The poem download failed: {error}")),
        },
        (Err(error), ReportStyle::PoemsAtEndErrback) => {
            out.err(format!("Poem failed: {error}"));
        }
        (Ok(poem), ReportStyle::Blocking) => {
            let took = format_timedelta(took);
            out.out(format!(
                "Task {task}: got {} bytes of poetry from {server} in {took}",
                poem.len(),
            ));
        }
        _ => {}
    }
}

/// Reports the end of the run: `results` in input order, whether each poem's transform
/// failed, and the time since the start.
pub(crate) fn end_lines(
    out: &mut dyn ReportLines,
    style: ReportStyle,
    results: &[&Result<Poem, DownloadError>],
    transform_failed: &[bool],
    transform_name: &str,
    elapsed: Duration,
) {
    let elapsed = format_timedelta(elapsed);
    match style {
        ReportStyle::Blocking => {
            let poems = results.iter().filter(|r| r.is_ok()).count();
            out.out(format!("Got {poems} poems in {elapsed}"));
        }
        ReportStyle::Tasks => {
            let mut poems = 0;
            for (i, result) in results.iter().enumerate() {
                if let Ok(poem) = result {
                    poems += 1;
                    out.out(format!("Task {}: {} bytes of poetry", i + 1, poem.len()));
                }
            }
            out.out(format!("Got {poems} poems in {elapsed}"));
        }
        ReportStyle::InOrderAtEnd => {
            for (result, &failed) in results.iter().zip(transform_failed) {
                match result {
                    Ok(poem) => {
                        if failed {
                            out.err(transform::failed_line(transform_name));
                        }
                        print_poem(out, poem);
                    }
                    Err(error) => out.err(format!("The poem download failed: {error}")),
                }
            }
        }
        ReportStyle::AsArrived
        | ReportStyle::AsArrivedTerse
        | ReportStyle::Quiet
        // The state machine's own (`GetPoetry::ladder_end_lines`).
        | ReportStyle::Numbered
        | ReportStyle::PoemsAtEnd
        | ReportStyle::PoemsAtEndErrback => {}
    }
}

impl GetPoetry {
    /// Reports the end of download `i`, as the style does it.
    pub(super) fn report_result(
        &self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        result: &Result<Poem, DownloadError>,
    ) {
        let download = &self.downloads[i];
        let took = cx.now() - download.started_at;
        result_lines(cx, self.options.report, i, &download.server, took, result);
    }

    /// Reports the end of the run, once every download has ended.
    pub(super) fn report_end(&self, cx: &mut HostContext<'_, GetPoetryTimer>) {
        if self.ladder_end_lines(cx) {
            return;
        }
        let results = self.results.results().unwrap_or_default();
        let failed: Vec<bool> = (self.downloads.iter())
            .map(|d| d.transform_error.is_some())
            .collect();
        let elapsed = cx.now() - self.started;
        let name = &self.options.transform_name;
        end_lines(cx, self.options.report, &results, &failed, name, elapsed);
    }
}

fn print_poem(out: &mut dyn ReportLines, poem: &Poem) {
    for line in poem.lines() {
        out.out(line);
    }
}
