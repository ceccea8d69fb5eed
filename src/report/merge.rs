//! Reading sweep reports back, and merging the shards of one sweep.

use std::collections::BTreeMap;

use super::sweep::{Line, RunRecord, Shard, SweepReport};

/// A report file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A line is not JSON of the report format.
    #[error("{source_name} line {line}: not a weft sweep report line: {message}")]
    Line {
        /// The file.
        source_name: String,
        /// Which line, from 1.
        line: usize,
        /// What the JSON reader said.
        message: String,
    },
    /// No `sweep` line comes first.
    #[error("{0}: not a weft sweep report (the first line must be its `sweep` line)")]
    NoPlan(String),
}

/// Shard reports that do not fit together.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no reports to merge")]
    Empty,
    /// Made by different versions of weft.
    #[error("shard {shard} was made by weft {theirs}, shard {first} by weft {ours}")]
    Version {
        /// The first report's shard.
        first: Shard,
        /// Its version.
        ours: String,
        /// The shard that differs.
        shard: Shard,
        /// Its version.
        theirs: String,
    },
    /// Different scenario files, or files with other contents.
    #[error("shard {shard} ran other scenario files than shard {first}: {difference}")]
    Files {
        /// The first report's shard.
        first: Shard,
        /// The shard that differs.
        shard: Shard,
        /// The first difference.
        difference: String,
    },
    /// Different seeds, or determinism checked in one and not the other.
    #[error("shard {shard} ran {theirs}, shard {first} ran {ours}")]
    Seeds {
        /// The first report's shard.
        first: Shard,
        /// Its seeds.
        ours: String,
        /// The shard that differs.
        shard: Shard,
        /// Its seeds.
        theirs: String,
    },
    /// A different shard count.
    #[error("shard {shard} is one of {} shards, shard {first} one of {}", .shard.count, .first.count)]
    Count {
        /// The first report's shard.
        first: Shard,
        /// The shard that differs.
        shard: Shard,
    },
    /// The same shard twice.
    #[error("shard {0} is given twice")]
    Duplicate(Shard),
    /// Shards missing.
    #[error("shards missing: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    Missing(Vec<Shard>),
    /// A shard's runs are not the runs its plan gives it.
    #[error("shard {shard} is incomplete: it has {have} of its {want} runs")]
    Incomplete {
        /// The shard.
        shard: Shard,
        /// Runs in the report.
        have: usize,
        /// Runs its plan gives it.
        want: usize,
    },
}

impl SweepReport {
    /// Reads a report written by [`write_json_lines`](Self::write_json_lines);
    /// `source_name` (a file name) labels errors.
    pub fn read_json_lines(source_name: &str, text: &str) -> Result<Self, ReadError> {
        let mut plan = None;
        let mut runs = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(raw).map_err(|e| ReadError::Line {
                source_name: source_name.to_owned(),
                line: i + 1,
                message: e.to_string(),
            })?;
            match (line, &plan) {
                (Line::Sweep(p), None) => plan = Some(p),
                (Line::Run(run), Some(_)) => runs.push(run),
                (Line::Summary { .. }, Some(_)) => {}
                _ => return Err(ReadError::NoPlan(source_name.to_owned())),
            }
        }
        let plan = plan.ok_or_else(|| ReadError::NoPlan(source_name.to_owned()))?;
        Ok(Self { plan, runs })
    }

    /// Joins the shard reports of one sweep into the report of the whole sweep: the
    /// runs of every shard in sweep order, as one unsharded sweep would have listed
    /// them. The file paths are the first report's.
    pub fn merge(reports: Vec<Self>) -> Result<Self, MergeError> {
        let first = reports.first().ok_or(MergeError::Empty)?;
        let plan = &first.plan;
        let mut by_shard = BTreeMap::new();
        for report in &reports {
            let theirs = &report.plan;
            let shard = theirs.shard;
            if theirs.weft_version != plan.weft_version {
                return Err(MergeError::Version {
                    first: plan.shard,
                    ours: plan.weft_version.clone(),
                    shard,
                    theirs: theirs.weft_version.clone(),
                });
            }
            if let Some(difference) = files_difference(plan, theirs) {
                return Err(MergeError::Files {
                    first: plan.shard,
                    shard,
                    difference,
                });
            }
            let seeds = |p: &super::sweep::SweepPlan| {
                let check = if p.check_determinism {
                    " checking determinism"
                } else {
                    ""
                };
                format!("{} seeds from {}{check}", p.seeds, p.first_seed)
            };
            if seeds(theirs) != seeds(plan) {
                return Err(MergeError::Seeds {
                    first: plan.shard,
                    ours: seeds(plan),
                    shard,
                    theirs: seeds(theirs),
                });
            }
            if shard.count != plan.shard.count {
                return Err(MergeError::Count {
                    first: plan.shard,
                    shard,
                });
            }
            if by_shard.insert(shard.index, report).is_some() {
                return Err(MergeError::Duplicate(shard));
            }
            let want = theirs.work();
            let have: Vec<(usize, u64)> = (report.runs.iter())
                .filter_map(|r| {
                    let file = theirs.files.iter().position(|f| f.path == r.file)?;
                    Some((file, r.seed))
                })
                .collect();
            if have != want || report.runs.len() != want.len() {
                return Err(MergeError::Incomplete {
                    shard,
                    have: have.iter().filter(|run| want.contains(run)).count(),
                    want: want.len(),
                });
            }
        }
        let missing: Vec<Shard> = (1..=plan.shard.count)
            .filter(|i| !by_shard.contains_key(i))
            .filter_map(|i| Shard::new(i, plan.shard.count))
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::Missing(missing));
        }
        // Run k of the sweep is run k / N of shard k % N + 1.
        let mut whole = plan.clone();
        whole.shard = Shard::WHOLE;
        let work = whole.work();
        let count = plan.shard.count as usize;
        let runs: Vec<RunRecord> = (0..work.len())
            .map(|k| {
                let run = &by_shard[&((k % count) as u64 + 1)].runs[k / count];
                let mut run = run.clone();
                // Paths as the first report gave them, as if one machine ran it all.
                let file = &plan.files[work[k].0].path;
                run.replay = RunRecord::replay_command(&plan.bin, file, run.seed);
                run.file.clone_from(file);
                run
            })
            .collect();
        Ok(Self { plan: whole, runs })
    }
}

/// The first way two plans' files differ, if they do.
fn files_difference(
    ours: &super::sweep::SweepPlan,
    theirs: &super::sweep::SweepPlan,
) -> Option<String> {
    if ours.files.len() != theirs.files.len() {
        return Some(format!(
            "{} files against {}",
            theirs.files.len(),
            ours.files.len()
        ));
    }
    ours.files.iter().zip(&theirs.files).find_map(|(a, b)| {
        if a.name != b.name {
            Some(format!("{} where {} was expected", b.name, a.name))
        } else if a.fingerprint != b.fingerprint {
            Some(format!("{} has other contents", a.name))
        } else if a.refused.is_some() != b.refused.is_some() {
            Some(format!(
                "{} loads in one and is refused in the other",
                a.name
            ))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::sweep::{RunResult, ScenarioFile, ShardError, SweepPlan};
    use super::*;

    fn report(shard: Shard) -> SweepReport {
        let files = vec![
            ScenarioFile::new("a", "sim/a.toml", b"a"),
            ScenarioFile::new("b", "sim/b.toml", b"b"),
        ];
        let plan = SweepPlan::new(files, 10, 3, shard);
        let runs = (plan.work().into_iter())
            .map(|(file, seed)| {
                let path = plan.files[file].path.clone();
                RunRecord {
                    scenario: plan.files[file].name.clone(),
                    replay: RunRecord::replay_command("weft", &path, seed),
                    file: path,
                    seed,
                    result: if seed == 11 {
                        RunResult::Failed
                    } else {
                        RunResult::Passed
                    },
                    failures: Vec::new(),
                    virtual_secs: seed as f64,
                    wall_secs: 0.5,
                }
            })
            .collect();
        SweepReport { plan, runs }
    }

    fn shards(n: u64) -> Vec<SweepReport> {
        (1..=n).map(|i| report(Shard::new(i, n).unwrap())).collect()
    }

    #[test]
    fn shards_merged_in_any_order_equal_the_whole_sweep() {
        let mut parts = shards(4);
        parts.reverse();
        assert_eq!(SweepReport::merge(parts).unwrap(), report(Shard::WHOLE));
    }

    #[test]
    fn reports_survive_their_json_lines() {
        let whole = report(Shard::new(2, 3).unwrap());
        let mut text = Vec::new();
        whole.write_json_lines(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(SweepReport::read_json_lines("x", &text).unwrap(), whole);
        assert!(text.lines().last().unwrap().contains(r#""kind":"summary""#));
    }

    #[test]
    fn a_merged_reports_virtual_times_are_the_shards_to_the_bit() {
        // A value the default JSON float parser reads one unit in the last place off.
        let mut report = report(Shard::WHOLE);
        report.runs[0].virtual_secs = 3.224_374_092_999_999_8;
        let mut once = Vec::new();
        report.write_json_lines(&mut once).unwrap();
        let read = SweepReport::read_json_lines("x", std::str::from_utf8(&once).unwrap());
        let mut twice = Vec::new();
        read.unwrap().write_json_lines(&mut twice).unwrap();
        assert_eq!(
            String::from_utf8(twice).unwrap(),
            String::from_utf8(once).unwrap()
        );
    }

    #[test]
    fn shards_that_do_not_fit_are_refused_with_the_reason() {
        let mut parts = shards(3);
        parts[1].plan.weft_version = "9.9.9".into();
        let error = SweepReport::merge(parts).unwrap_err();
        assert_eq!(
            error.to_string(),
            "shard 2/3 was made by weft 9.9.9, shard 1/3 by weft 0.1.0"
        );

        let mut parts = shards(3);
        parts[2].plan.files[1] = ScenarioFile::new("b", "sim/b.toml", b"edited");
        let error = SweepReport::merge(parts).unwrap_err();
        assert_eq!(
            error.to_string(),
            "shard 3/3 ran other scenario files than shard 1/3: b has other contents"
        );

        let mut parts = shards(3);
        parts[1].plan.seeds = 4;
        let error = SweepReport::merge(parts).unwrap_err();
        assert_eq!(
            error.to_string(),
            "shard 2/3 ran 4 seeds from 10, shard 1/3 ran 3 seeds from 10"
        );

        let mut parts = shards(3);
        parts.remove(1);
        let error = SweepReport::merge(parts).unwrap_err();
        assert_eq!(error.to_string(), "shards missing: 2/3");

        let mut parts = shards(3);
        parts.push(parts[0].clone());
        assert_eq!(
            SweepReport::merge(parts).unwrap_err(),
            MergeError::Duplicate(Shard::new(1, 3).unwrap())
        );

        let mut parts = shards(3);
        parts[0].runs.pop();
        let error = SweepReport::merge(parts).unwrap_err();
        assert_eq!(
            error.to_string(),
            "shard 1/3 is incomplete: it has 1 of its 2 runs"
        );

        let mut parts = shards(2);
        parts[1].plan.shard = Shard::new(2, 3).unwrap();
        assert!(matches!(
            SweepReport::merge(parts),
            Err(MergeError::Count { .. })
        ));
    }

    #[test]
    fn shard_text_and_completion_indexes_are_checked() {
        assert_eq!("3/4".parse::<Shard>().unwrap(), Shard::new(3, 4).unwrap());
        for bad in ["0/4", "5/4", "4", "a/b", "1/0"] {
            assert_eq!(
                bad.parse::<Shard>().unwrap_err(),
                ShardError::Malformed(bad.into())
            );
        }
        assert_eq!(
            Shard::from_completion_index("0", 4).unwrap(),
            Shard::new(1, 4).unwrap()
        );
        assert_eq!(
            Shard::from_completion_index("4", 4)
                .unwrap_err()
                .to_string(),
            "JOB_COMPLETION_INDEX=\"4\": expected a number from 0 to 3"
        );
    }
}
