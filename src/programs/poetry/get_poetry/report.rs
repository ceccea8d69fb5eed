//! What get-poetry prints: a line (or a poem) as each download ends, and the summary
//! once they all have, in the chosen [`ReportStyle`].

use crate::host::HostContext;
use crate::time::format_timedelta;

use super::super::client::DownloadError;
use super::super::poems::Poem;
use super::{GetPoetry, GetPoetryTimer, ReportStyle, transform};

impl GetPoetry {
    /// Reports the end of download `i`, as the style does it.
    pub(super) fn report_result(
        &self,
        cx: &mut HostContext<'_, GetPoetryTimer>,
        i: usize,
        result: &Result<Poem, DownloadError>,
    ) {
        let task = i + 1;
        match (result, self.options.report) {
            (Ok(poem), ReportStyle::AsArrived | ReportStyle::AsArrivedTerse) => {
                print_poem(cx, poem);
            }
            (Err(error), ReportStyle::AsArrived) => {
                cx.eprint(format!("The poem download failed: {error}"));
            }
            (Err(_), ReportStyle::AsArrivedTerse) => cx.eprint("The poem download failed."),
            (Err(error), ReportStyle::Tasks | ReportStyle::Blocking) => {
                cx.eprint(format!("Task {task} failed: {error}"));
            }
            (Ok(poem), ReportStyle::Blocking) => {
                let download = &self.downloads[i];
                let took = format_timedelta(cx.now() - download.started_at);
                cx.print(format!(
                    "Task {task}: got {} bytes of poetry from {} in {took}",
                    poem.len(),
                    download.server
                ));
            }
            _ => {}
        }
    }

    /// Reports the end of the run, once every download has ended.
    pub(super) fn report_end(&self, cx: &mut HostContext<'_, GetPoetryTimer>) {
        let results = self.results.results().unwrap_or_default();
        let elapsed = format_timedelta(cx.now() - self.started);
        match self.options.report {
            ReportStyle::Blocking => {
                let poems = results.iter().filter(|r| r.is_ok()).count();
                cx.print(format!("Got {poems} poems in {elapsed}"));
            }
            ReportStyle::Tasks => {
                let mut poems = 0;
                for (i, result) in results.iter().enumerate() {
                    if let Ok(poem) = result {
                        poems += 1;
                        cx.print(format!("Task {}: {} bytes of poetry", i + 1, poem.len()));
                    }
                }
                cx.print(format!("Got {poems} poems in {elapsed}"));
            }
            ReportStyle::InOrderAtEnd => {
                for (result, download) in results.iter().zip(&self.downloads) {
                    match result {
                        Ok(poem) => {
                            if download.transform_error.is_some() {
                                cx.eprint(transform::failed_line(&self.options.transform_name));
                            }
                            print_poem(cx, poem);
                        }
                        Err(error) => cx.eprint(format!("The poem download failed: {error}")),
                    }
                }
            }
            ReportStyle::AsArrived | ReportStyle::AsArrivedTerse | ReportStyle::Quiet => {}
        }
    }
}

fn print_poem(cx: &mut HostContext<'_, GetPoetryTimer>, poem: &Poem) {
    for line in poem.lines() {
        cx.print(line);
    }
}
