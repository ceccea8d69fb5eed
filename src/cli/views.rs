//! `weft sim run --html/--pcap/--json`: the views of one run.

use std::path::{Path, PathBuf};

use super::sim::SimContext;
use crate::report::{RunInfo, html, json, pcap};
use crate::scenario::{Outcome, Scenario, ScenarioError};

/// Where to write a run's views.
#[derive(Debug, Default)]
pub(super) struct RunViews {
    pub(super) html: Option<PathBuf>,
    pub(super) pcap: Option<PathBuf>,
    pub(super) json: bool,
}

fn write_error(scenario: &Scenario, path: &Path, error: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Invalid {
        name: scenario.name.clone(),
        problem: format!("cannot write {}: {error}", path.display()),
    }
}

impl RunViews {
    /// Writes the views asked for. Returns true if the JSON lines took the place of
    /// the report on stdout.
    pub(super) fn write(
        &self,
        ctx: &mut SimContext<'_>,
        scenario: &Scenario,
        outcome: &Outcome,
    ) -> Result<bool, ScenarioError> {
        if self.html.is_none() && self.pcap.is_none() && !self.json {
            return Ok(false);
        }
        // The addresses are the network's; building it again runs nothing.
        let net = scenario.network(ctx.catalogue, outcome.seed)?;
        let info = RunInfo::new(&scenario.name, outcome.seed, &net)
            .with_description(&scenario.description)
            .with_failures(&outcome.failures);
        if let Some(path) = &self.html {
            std::fs::write(path, html::page(&outcome.transcript, &info))
                .map_err(|e| write_error(scenario, path, e))?;
        }
        if let Some(path) = &self.pcap {
            let file = std::fs::File::create(path).map_err(|e| write_error(scenario, path, e))?;
            pcap::write(&outcome.transcript, &info, std::io::BufWriter::new(file))
                .map_err(|e| write_error(scenario, path, e))?;
        }
        if self.json {
            json::run(&outcome.transcript, &info, &mut *ctx.out)
                .map_err(|e| write_error(scenario, Path::new("stdout"), e))?;
        }
        Ok(self.json)
    }
}
