//! Every scenario file of a folder, run from a crate's `cargo test`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use super::run::first_difference;
use super::{Catalogue, Scenario, scenario_files, seed_from_env};

/// The scenario files of one folder, to run from `cargo test` with
/// [`assert_scenarios!`](crate::assert_scenarios).
///
/// Each file runs with its seed (`WEFT_SEED` overrides it), twice, and the two
/// transcripts must be equal byte for byte; its expectations must hold; and, with the
/// file's own seed, its transcript must match the insta snapshot
/// `scenario@<file name>.snap` in the crate's snapshot folder. Every file runs even
/// when one fails; the failures are reported together, each with its seed and the
/// command that replays it.
#[derive(Debug)]
pub struct ScenarioFolder<'a> {
    catalogue: &'a Catalogue,
    dir: PathBuf,
    snapshots: Option<PathBuf>,
    replay: String,
}

/// What running a folder found.
#[derive(Debug, Default)]
pub struct FolderReport {
    /// Scenario files run.
    pub files: usize,
    /// One entry per failed file: what failed, the seed, the replay command.
    pub failures: Vec<String>,
}

impl FolderReport {
    /// Panics with every failure unless all files passed.
    ///
    /// # Panics
    /// If any file failed, or the folder held no scenario file.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.files > 0, "no scenario files found");
        assert!(
            self.failures.is_empty(),
            "{} of {} scenarios failed:\n\n{}",
            self.failures.len(),
            self.files,
            self.failures.join("\n\n")
        );
    }
}

impl<'a> ScenarioFolder<'a> {
    /// The `.toml` files of `dir` (relative to the crate's root), run with `catalogue`.
    pub fn new(catalogue: &'a Catalogue, dir: impl Into<PathBuf>) -> Self {
        Self {
            catalogue,
            dir: dir.into(),
            snapshots: None,
            replay: "cargo run -- sim run".to_owned(),
        }
    }

    /// Where the snapshots live, relative to the crate's root (default: insta's, a
    /// `snapshots` folder next to the test file).
    #[must_use]
    pub fn snapshots(mut self, dir: impl Into<PathBuf>) -> Self {
        self.snapshots = Some(dir.into());
        self
    }

    /// The command that replays one file, completed with ` FILE --seed N` (default
    /// `cargo run -- sim run`, for a binary whose `main` is
    /// [`weft::cli::main`](crate::cli::main)).
    #[must_use]
    pub fn replay_command(mut self, command: impl Into<String>) -> Self {
        self.replay = command.into();
        self
    }

    /// Runs every file; `snapshot` asserts one transcript. Called by
    /// [`assert_scenarios!`](crate::assert_scenarios), which supplies the snapshot step
    /// expanded in the caller's crate (insta names snapshots after the file and crate
    /// its macro expands in).
    #[doc(hidden)]
    pub fn run_with(
        &self,
        manifest_dir: &str,
        snapshot: &mut dyn FnMut(Option<&Path>, &Path, String),
    ) -> FolderReport {
        let root = Path::new(manifest_dir);
        let dir = root.join(&self.dir);
        let snapshots = self.snapshots.as_ref().map(|s| root.join(s));
        let overridden = std::env::var_os("WEFT_SEED").is_some();
        let mut report = FolderReport::default();
        let files = match scenario_files(&dir) {
            Ok(files) => files,
            Err(error) => {
                report.files = 1;
                report
                    .failures
                    .push(format!("cannot list {}: {error}", dir.display()));
                return report;
            }
        };
        for file in files {
            report.files += 1;
            let shown = self.dir.join(file.file_name().unwrap_or_default());
            let scenario = match Scenario::load(&file, self.catalogue) {
                Ok(scenario) => scenario,
                Err(error) => {
                    report.failures.push(error.to_string());
                    continue;
                }
            };
            let seed = seed_from_env(scenario.seed);
            let replay = format!(
                "replay: {} {} --seed {seed}   (or WEFT_SEED={seed} cargo test)",
                self.replay,
                shown.display()
            );
            match self.check_one(&scenario, seed) {
                Ok(transcript) => {
                    if overridden {
                        continue;
                    }
                    let input = file.canonicalize().unwrap_or(file);
                    let snapped = catch_unwind(AssertUnwindSafe(|| {
                        snapshot(snapshots.as_deref(), &input, transcript);
                    }));
                    if snapped.is_err() {
                        report.failures.push(format!(
                            "{}: the transcript with seed {seed} differs from its snapshot \
                             (review with `cargo insta review`)\n  {replay}",
                            scenario.name
                        ));
                    }
                }
                Err(problems) => report.failures.push(format!(
                    "{} failed with seed {seed}:\n  {}\n  {replay}",
                    scenario.name,
                    problems.join("\n  ")
                )),
            }
        }
        report
    }

    /// Runs one scenario twice; its transcript if it passed and both runs agree.
    fn check_one(&self, scenario: &Scenario, seed: u64) -> Result<String, Vec<String>> {
        let run = |s: &Scenario| s.run(self.catalogue, seed).map_err(|e| vec![e.to_string()]);
        let first = run(scenario)?;
        if !first.passed() {
            return Err(first.failures);
        }
        let transcript = first.transcript.render();
        let again = run(scenario)?.transcript.render();
        if let Some(difference) = first_difference(&transcript, &again) {
            return Err(vec![format!(
                "two runs with the same seed differ: {difference}"
            )]);
        }
        Ok(transcript)
    }
}

/// Runs every scenario file of a folder from `cargo test`, against a catalogue: each
/// with its seed, twice with the transcripts compared byte for byte, its expectations
/// checked, its transcript snapshotted with insta in the calling crate; panics with
/// every failure, its seed and the command that replays it.
///
/// Takes a [`ScenarioFolder`]. It is a macro so that insta's snapshot step expands in
/// the calling test, and the snapshots are the caller's (insta, re-exported by weft,
/// names them after the crate and file its macro expands in); the caller needs no
/// insta dependency of its own.
///
/// ```no_run
/// // tests/scenarios.rs of a crate with a `sim/` folder and a `snapshots/` folder:
/// use weft::scenario::ScenarioFolder;
///
/// #[test]
/// fn every_scenario_passes_and_matches_its_snapshot() {
///     let catalogue = weft::programs::catalogue(); // plus the crate's own programs
///     weft::assert_scenarios!(
///         ScenarioFolder::new(&catalogue, "sim")
///             .snapshots("snapshots")
///             .replay_command("cargo run -- sim run")
///     );
/// }
/// ```
#[macro_export]
macro_rules! assert_scenarios {
    ($folder:expr) => {{
        let folder: $crate::scenario::ScenarioFolder<'_> = $folder;
        let report = folder.run_with(
            env!("CARGO_MANIFEST_DIR"),
            &mut |snapshots: ::core::option::Option<&::std::path::Path>,
                  file: &::std::path::Path,
                  transcript: ::std::string::String| {
                let mut settings = $crate::__insta::Settings::clone_current();
                if let ::core::option::Option::Some(dir) = snapshots {
                    settings.set_snapshot_path(dir);
                }
                settings.set_prepend_module_to_snapshot(false);
                settings.set_omit_expression(true);
                settings.set_input_file(file);
                settings.set_snapshot_suffix(
                    file.file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                settings.bind(|| {
                    $crate::__insta::assert_snapshot!("scenario", transcript);
                });
            },
        );
        report.assert_passed();
    }};
}
