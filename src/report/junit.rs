//! A sweep as JUnit XML, the test report format CI systems read (Jenkins, GitLab,
//! GitHub Actions' test reporters): the schema of Ant's and Jenkins' `junit-10.xsd`.
//!
//! One `<testsuite>` per scenario file, one `<testcase>` per seed (named `seed N`,
//! class `weft.sim.SCENARIO`, its wall time as `time`). A run whose expectations broke
//! or that was not deterministic has a `<failure>`, a scenario that could not run an
//! `<error>`; their text lists what went wrong and the command that replays the run. A
//! file that did not load is a suite of one case, `load`, with an `<error>` that says
//! why.
//!
//! ```
//! use weft::report::junit;
//! use weft::report::sweep::{Shard, SweepPlan, SweepReport};
//!
//! let report = SweepReport { plan: SweepPlan::new(Vec::new(), 0, 1, Shard::WHOLE), runs: Vec::new() };
//! let mut xml = Vec::new();
//! junit::write(&report, &mut xml).unwrap();
//! assert!(String::from_utf8(xml).unwrap().contains("<testsuites name=\"weft sim sweep\""));
//! ```

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::sweep::{RunRecord, RunResult, ScenarioFile, SweepReport};

/// Writes `report` as a JUnit XML document.
pub fn write(report: &SweepReport, out: impl Write) -> io::Result<()> {
    let mut xml = Writer::new_with_indent(out, b' ', 2);
    xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let count =
        |runs: &[&RunRecord], result: RunResult| runs.iter().filter(|r| r.result == result).count();
    let all: Vec<&RunRecord> = report.runs.iter().collect();
    let failures = count(&all, RunResult::Failed) + count(&all, RunResult::Nondeterministic);
    let refused = report.refused().count();
    let errors = count(&all, RunResult::Error) + refused;
    let total_time: f64 = all.iter().map(|r| r.wall_secs).sum();
    xml.create_element("testsuites")
        .with_attribute(("name", "weft sim sweep"))
        .with_attribute(("tests", (all.len() + refused).to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("errors", errors.to_string().as_str()))
        .with_attribute(("time", seconds(total_time).as_str()))
        .write_inner_content(|xml| {
            for file in &report.plan.files {
                if let Some(reason) = &file.refused {
                    refused_suite(xml, report, file, reason)?;
                    continue;
                }
                let runs: Vec<&RunRecord> = (report.runs.iter())
                    .filter(|r| r.scenario == file.name)
                    .collect();
                let failures =
                    count(&runs, RunResult::Failed) + count(&runs, RunResult::Nondeterministic);
                let time: f64 = runs.iter().map(|r| r.wall_secs).sum();
                xml.create_element("testsuite")
                    .with_attribute(("name", clean(&file.name).as_str()))
                    .with_attribute(("tests", runs.len().to_string().as_str()))
                    .with_attribute(("failures", failures.to_string().as_str()))
                    .with_attribute((
                        "errors",
                        count(&runs, RunResult::Error).to_string().as_str(),
                    ))
                    .with_attribute(("skipped", "0"))
                    .with_attribute(("time", seconds(time).as_str()))
                    .with_attribute(("package", "weft.sim"))
                    .write_inner_content(|xml| {
                        xml.create_element("properties")
                            .write_inner_content(|xml| {
                                property(xml, "file", &file.path)?;
                                property(xml, "fingerprint", &file.fingerprint)?;
                                property(xml, "weft-version", &report.plan.weft_version)
                            })?;
                        for run in runs {
                            testcase(xml, run)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    xml.get_mut().write_all(b"\n")
}

/// A file that did not load: one case, `load`, in error.
fn refused_suite<W: Write>(
    xml: &mut Writer<W>,
    report: &SweepReport,
    file: &ScenarioFile,
    reason: &str,
) -> io::Result<()> {
    xml.create_element("testsuite")
        .with_attribute(("name", clean(&file.name).as_str()))
        .with_attribute(("tests", "1"))
        .with_attribute(("failures", "0"))
        .with_attribute(("errors", "1"))
        .with_attribute(("skipped", "0"))
        .with_attribute(("time", seconds(0.0).as_str()))
        .with_attribute(("package", "weft.sim"))
        .write_inner_content(|xml| {
            xml.create_element("properties")
                .write_inner_content(|xml| {
                    property(xml, "file", &file.path)?;
                    property(xml, "fingerprint", &file.fingerprint)?;
                    property(xml, "weft-version", &report.plan.weft_version)
                })?;
            let text = format!(
                "{reason}\nreplay: {} sim run {}",
                report.plan.bin, file.path
            );
            xml.create_element("testcase")
                .with_attribute(("name", "load"))
                .with_attribute((
                    "classname",
                    clean(&format!("weft.sim.{}", file.name)).as_str(),
                ))
                .with_attribute(("time", seconds(0.0).as_str()))
                .write_inner_content(|xml| {
                    xml.create_element("error")
                        .with_attribute(("message", clean(reason).as_str()))
                        .with_attribute(("type", "refused"))
                        .write_text_content(BytesText::new(&clean(&text)))?;
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}

fn property<W: Write>(xml: &mut Writer<W>, name: &str, value: &str) -> io::Result<()> {
    xml.create_element("property")
        .with_attribute(("name", name))
        .with_attribute(("value", clean(value).as_str()))
        .write_empty()?;
    Ok(())
}

fn testcase<W: Write>(xml: &mut Writer<W>, run: &RunRecord) -> io::Result<()> {
    let case = xml
        .create_element("testcase")
        .with_attribute(("name", format!("seed {}", run.seed).as_str()))
        .with_attribute((
            "classname",
            clean(&format!("weft.sim.{}", run.scenario)).as_str(),
        ))
        .with_attribute(("time", seconds(run.wall_secs).as_str()));
    let (element, kind) = match run.result {
        RunResult::Passed => {
            case.write_empty()?;
            return Ok(());
        }
        RunResult::Failed => ("failure", "expectation"),
        RunResult::Nondeterministic => ("failure", "nondeterminism"),
        RunResult::Error => ("error", "scenario"),
    };
    let message = clean(&run.failures.join("; "));
    let mut text = run.failures.join("\n");
    text.push_str("\nreplay: ");
    text.push_str(&run.replay);
    case.write_inner_content(|xml| {
        xml.create_element(element)
            .with_attribute(("message", message.as_str()))
            .with_attribute(("type", kind))
            .write_text_content(BytesText::new(&clean(&text)))?;
        Ok(())
    })?;
    Ok(())
}

/// Seconds with three decimals: the `SUREFIRE_TIME` pattern of the schema.
fn seconds(secs: f64) -> String {
    format!("{:.3}", secs.max(0.0))
}

/// XML 1.0 cannot carry most control characters, even escaped: they are written as
/// `\u{..}` (quick-xml escapes `<`, `>`, `&` and quotes).
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c.to_string(),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                c.escape_unicode().to_string()
            }
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::sweep::{Shard, SweepPlan};
    use super::*;

    #[test]
    fn failures_carry_their_message_and_replay_escaped() {
        let plan = SweepPlan::new(
            vec![ScenarioFile::new("s", "sim/s.toml", b"")],
            0,
            2,
            Shard::WHOLE,
        );
        let run = |seed, result, failures: &[&str]| RunRecord {
            scenario: "s".into(),
            file: "sim/s.toml".into(),
            seed,
            result,
            failures: failures.iter().map(|&f| f.to_owned()).collect(),
            virtual_secs: 1.0,
            wall_secs: 0.25,
            replay: RunRecord::replay_command("weft", "sim/s.toml", seed),
        };
        let report = SweepReport {
            plan,
            runs: vec![
                run(0, RunResult::Passed, &[]),
                run(1, RunResult::Failed, &["stdout <b> & \"x\"\u{1}"]),
            ],
        };
        let mut xml = Vec::new();
        write(&report, &mut xml).unwrap();
        let xml = String::from_utf8(xml).unwrap();
        assert!(
            xml.contains(r#"<testcase name="seed 0" classname="weft.sim.s" time="0.250"/>"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="stdout &lt;b&gt; &amp; &quot;x&quot;\u{1}" type="expectation">"#),
            "{xml}"
        );
        assert!(
            xml.contains("replay: weft sim run sim/s.toml --seed 1</failure>"),
            "{xml}"
        );
        assert!(
            xml.contains(r#"tests="2" failures="1" errors="0""#),
            "{xml}"
        );
    }
}
