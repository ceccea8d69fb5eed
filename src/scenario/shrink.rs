//! Shrinking a failing scenario to a minimal fault schedule.
//!
//! The seeded faults are first expanded into an explicit list (with the failing seed),
//! so the result can be written out and replayed. Then faults are removed, in halves,
//! quarters, ... and one by one (delta debugging), keeping every removal after which the
//! run still fails; finally the network is simplified (whole reads, no per-link
//! latencies) where the failure survives it. The seed stays: it still drives latency.

use super::{Catalogue, Scenario, ScenarioError};
use crate::testing::Segmentation;

/// The result of a shrink.
#[derive(Debug)]
pub struct ShrinkReport {
    /// Faults in the failing run's schedule.
    pub original_faults: usize,
    /// The smallest failing scenario found (its faults are explicit).
    pub minimal: Scenario,
    /// What fails in it.
    pub failures: Vec<String>,
    /// Runs it took.
    pub runs: usize,
}

impl ShrinkReport {
    /// The file `weft sim shrink` writes: a comment naming `how` the file was made
    /// (`weft sim shrink sim/x.toml --seed 3`, say), the faults kept and the failures
    /// left, then the minimal scenario, which replays the failure with no `--seed`.
    ///
    /// ```
    /// use weft::scenario::{Scenario, shrink};
    ///
    /// let catalogue = weft::programs::catalogue();
    /// let mut scenario = Scenario::load("sim/pingpong.toml".as_ref(), &catalogue)?;
    /// scenario.expect.exit.insert("client".into(), 3); // it exits 0: a failure
    /// let report = shrink(&catalogue, &scenario, 1)?.expect("the run fails");
    /// let text = report.file_text("a doc test");
    /// assert!(text.starts_with("# Shrunk by `a doc test`: 0 of 0 faults remain."));
    /// let again = Scenario::parse("again", &text, &catalogue)?;
    /// assert!(!again.run(&catalogue, again.seed)?.passed());
    /// # Ok::<(), weft::scenario::ScenarioError>(())
    /// ```
    pub fn file_text(&self, how: &str) -> String {
        format!(
            "# Shrunk by `{how}`: {} of {} faults remain.\n# Still fails with seed {}: {}\n{}",
            self.minimal.faults.len(),
            self.original_faults,
            self.minimal.seed,
            self.failures.join("; "),
            self.minimal.to_toml()
        )
    }
}

/// Shrinks `scenario` run with `seed`, its programs from `catalogue`. `Ok(None)` if that
/// run passes.
pub fn shrink(
    catalogue: &Catalogue,
    scenario: &Scenario,
    seed: u64,
) -> Result<Option<ShrinkReport>, ScenarioError> {
    let mut runs = 1;
    if scenario.run(catalogue, seed)?.passed() {
        return Ok(None);
    }
    let mut current = scenario.clone();
    current.faults = scenario.fault_schedule(seed)?;
    current.random_faults = None;
    // The written file replays the failure without a --seed.
    current.seed = seed;
    let original_faults = current.faults.len();
    let mut fails = |candidate: &Scenario| -> Result<bool, ScenarioError> {
        runs += 1;
        Ok(!candidate.run(catalogue, seed)?.passed())
    };

    let mut chunk = current.faults.len().div_ceil(2);
    while chunk > 0 {
        let mut removed = false;
        let mut start = 0;
        while start < current.faults.len() {
            let mut candidate = current.clone();
            let end = (start + chunk).min(candidate.faults.len());
            candidate.faults.drain(start..end);
            if fails(&candidate)? {
                current = candidate;
                removed = true;
            } else {
                start += chunk;
            }
        }
        if !removed {
            chunk /= 2;
        }
    }

    let simplifications: [fn(&mut Scenario); 2] = [
        |s| s.network.segmentation = Segmentation::Whole,
        |s| s.links.clear(),
    ];
    for simplify in simplifications {
        let mut candidate = current.clone();
        simplify(&mut candidate);
        if candidate != current && fails(&candidate)? {
            current = candidate;
        }
    }

    let failures = current.run(catalogue, seed)?.failures;
    Ok(Some(ShrinkReport {
        original_faults,
        minimal: current,
        failures,
        runs: runs + 1,
    }))
}
