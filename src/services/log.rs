//! The `[log]` table: where a services process writes its log records, and how the file
//! is rotated (by tracing-appender, tracing's own rolling file writer).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

use super::ServicesError;

/// When the log file starts afresh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rotation {
    /// One file, `file` itself, that grows.
    #[default]
    Never,
    /// A new file every minute: `FILE.YYYY-MM-DD-HH-MM`.
    Minutely,
    /// A new file every hour: `FILE.YYYY-MM-DD-HH`.
    Hourly,
    /// A new file every day: `FILE.YYYY-MM-DD`.
    Daily,
    /// A new file every week.
    Weekly,
}

impl Rotation {
    fn appender(self) -> tracing_appender::rolling::Rotation {
        use tracing_appender::rolling::Rotation as R;
        match self {
            Self::Never => R::NEVER,
            Self::Minutely => R::MINUTELY,
            Self::Hourly => R::HOURLY,
            Self::Daily => R::DAILY,
            Self::Weekly => R::WEEKLY,
        }
    }
}

/// How a services process logs: the `[log]` table of its file.
///
/// Without a `file`, log records go to stderr. With one, they go to that file (a
/// relative path is from the current directory); a rotated log's files are named
/// `FILE.DATE` (the date in UTC), `FILE` is a link to the newest, and `keep` bounds how
/// many are kept. Stdout is for the servers' own lines either way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogOptions {
    /// The log file; stderr if none.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// When the file starts afresh.
    #[serde(default)]
    pub rotate: Rotation,
    /// How many rotated files to keep, the newest; all of them if unset.
    #[serde(default)]
    pub keep: Option<usize>,
    /// Which records to write, as `RUST_LOG` says it (`info`, `weft=debug,warn`); if
    /// unset, `RUST_LOG` decides, and without it `info`.
    #[serde(default)]
    pub level: Option<String>,
}

impl LogOptions {
    /// What parsing cannot see: a filter that does not parse, `keep = 0`, a file name
    /// that is a folder.
    pub(super) fn check(&self) -> Result<(), String> {
        if let Some(level) = &self.level {
            EnvFilter::try_new(level).map_err(|e| format!("log.level {level:?}: {e}"))?;
        }
        if self.keep == Some(0) {
            return Err("log.keep must be at least 1 (leave it out to keep every file)".into());
        }
        if let Some(file) = &self.file {
            if file.file_name().is_none() {
                return Err(format!("log.file {:?} names no file", file.display()));
            }
            if self.keep.is_some() && self.rotate == Rotation::Never {
                return Err("log.keep needs a rotate other than \"never\"".into());
            }
        }
        Ok(())
    }

    fn filter(&self) -> EnvFilter {
        self.level
            .as_deref()
            .and_then(|level| EnvFilter::try_new(level).ok())
            .or_else(|| EnvFilter::try_from_default_env().ok())
            .unwrap_or_else(|| EnvFilter::new("info"))
    }

    /// A `tracing` dispatcher that writes what these options say. A binary installs it
    /// with `tracing::dispatcher::set_global_default`; a test that runs services in its
    /// own thread can scope it with `tracing::dispatcher::with_default`.
    ///
    /// # Errors
    /// [`ServicesError::LogFile`] if the file's folder does not exist or the file
    /// cannot be created.
    pub fn dispatch(&self) -> Result<tracing::Dispatch, ServicesError> {
        let builder = tracing_subscriber::fmt().with_env_filter(self.filter());
        let Some(path) = &self.file else {
            let subscriber = builder
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .finish();
            return Ok(tracing::Dispatch::new(subscriber));
        };
        let appender = self.appender(path)?;
        let subscriber = builder.with_writer(appender).with_ansi(false).finish();
        Ok(tracing::Dispatch::new(subscriber))
    }

    fn appender(
        &self,
        path: &Path,
    ) -> Result<tracing_appender::rolling::RollingFileAppender, ServicesError> {
        let fail = |message: String| ServicesError::LogFile {
            path: path.to_owned(),
            message,
        };
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| fail("the file name is not UTF-8".to_owned()))?;
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(fail(format!("no folder {}", folder.display())));
        }
        let mut builder = tracing_appender::rolling::Builder::new()
            .rotation(self.rotate.appender())
            .filename_prefix(name);
        if self.rotate != Rotation::Never {
            builder = builder.latest_symlink(name);
        }
        if let Some(keep) = self.keep {
            builder = builder.max_log_files(keep);
        }
        builder.build(folder).map_err(|e| fail(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> Result<LogOptions, String> {
        let options: LogOptions = toml::from_str(text).map_err(|e| e.to_string())?;
        options.check()?;
        Ok(options)
    }

    #[test]
    fn the_log_table_names_a_file_a_rotation_and_a_count() {
        let options = log("file = \"weft.log\"\nrotate = \"daily\"\nkeep = 3").expect("parses");
        assert_eq!(options.file, Some(PathBuf::from("weft.log")));
        assert_eq!((options.rotate, options.keep), (Rotation::Daily, Some(3)));
    }

    #[test]
    fn a_misspelt_rotation_lists_the_known_ones() {
        let error = log("file = \"weft.log\"\nrotate = \"dialy\"").expect_err("refused");
        assert!(
            error.contains(
                "unknown variant `dialy`, expected one of `never`, `minutely`, `hourly`, `daily`, `weekly`"
            ),
            "{error}"
        );
    }

    #[test]
    fn bad_levels_and_counts_name_their_key() {
        let error = log("level = \"info,=[\"").expect_err("refused");
        assert!(error.starts_with("log.level \"info,=[\": "), "{error}");
        let error = log("file = \"w.log\"\nrotate = \"hourly\"\nkeep = 0").expect_err("refused");
        assert!(error.starts_with("log.keep must be at least 1"), "{error}");
        let error = log("file = \"w.log\"\nkeep = 2").expect_err("refused");
        assert_eq!(error, "log.keep needs a rotate other than \"never\"");
    }

    #[test]
    fn a_log_file_in_a_missing_folder_is_refused() {
        let options = log("file = \"/no/such/folder/weft.log\"").expect("parses");
        let error = options.dispatch().expect_err("refused").to_string();
        assert_eq!(
            error,
            "cannot open the log file /no/such/folder/weft.log: no folder /no/such/folder"
        );
    }
}
