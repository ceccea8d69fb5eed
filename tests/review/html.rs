//! Headless Chromium loads the sequence diagrams and shows what was drawn.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use weft::report::{RunInfo, html};
use weft::testing::{EventKind, Transcript};

use crate::tools::{bundled, out_dir, root, run, tool};

/// What Chromium drew, read from its DOM after the page's script ran.
#[derive(Debug)]
struct Drawn {
    dom: String,
    console: String,
}

impl Drawn {
    /// An attribute the script wrote on `<body>`.
    fn body(&self, name: &str) -> usize {
        let key = format!("data-{name}=\"");
        let start = self
            .dom
            .find(&key)
            .unwrap_or_else(|| panic!("no {key} in the DOM"))
            + key.len();
        let end = start + self.dom[start..].find('"').unwrap();
        self.dom[start..end].parse().unwrap()
    }

    /// Elements in the DOM whose class attribute starts with `class`.
    fn count(&self, element: &str, class: &str) -> usize {
        self.dom
            .matches(&format!("<{element} class=\"{class}"))
            .count()
    }
}

fn chromium(browser: &Path, page: &Path, screenshot: Option<&Path>) -> Drawn {
    chromium_at(browser, &format!("file://{}", page.display()), screenshot)
}

fn chromium_at(browser: &Path, url: &str, screenshot: Option<&Path>) -> Drawn {
    // A profile per browser: tests run at once, and Chromium locks its profile.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let profile = out_dir(&format!("chromium-profile-{}-{n}", std::process::id()));
    let mut command = Command::new(browser);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,900",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some(png) => command.arg(format!("--screenshot={}", png.display())),
        None => command.arg("--dump-dom"),
    };
    command.arg(url);
    let out = command.output().expect("chromium starts");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Drawn {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write_page(transcript: &Transcript, info: &RunInfo) -> PathBuf {
    let page = out_dir("html").join(format!("{}.html", info.scenario));
    std::fs::write(&page, html::page(transcript, info)).unwrap();
    page
}

/// Loads a scenario's page, checks a lane per host, an arrow per read and no script
/// error, and returns what was drawn.
fn check(browser: &Path, scenario: &str) -> Drawn {
    let (outcome, info) = run(scenario);
    let page = write_page(&outcome.transcript, &info);
    let drawn = chromium(browser, &page, None);
    let reads = (outcome.transcript.events().iter())
        .filter(|e| matches!(e.what, EventKind::Data(_)))
        .count();
    assert_eq!(
        drawn.body("errors"),
        0,
        "{scenario}: script errors\n{}",
        drawn.console
    );
    assert!(
        !drawn.console.contains("Uncaught"),
        "{scenario}: {}",
        drawn.console
    );
    assert_eq!(
        drawn.count("g", "arrow data"),
        reads,
        "{scenario}: one arrow per read"
    );
    assert_eq!(drawn.body("arrows"), reads, "{scenario}");
    assert_eq!(
        drawn.count("line", "lane"),
        info.hosts.len(),
        "{scenario}: a lane per host"
    );
    assert_eq!(drawn.body("lanes"), info.hosts.len(), "{scenario}");
    drawn
}

#[test]
fn chromium_draws_a_partition_band_and_a_crash_band_and_saves_screenshots() {
    let Some(browser) = tool("chromium") else {
        return;
    };
    let partition = check(&browser, "sim/malformed-netstring.toml");
    assert_eq!(partition.count("g", "band partition"), 1);
    let crash = check(&browser, "sim/crash-restart.toml");
    assert_eq!(crash.count("g", "band crash"), 1);
    for name in ["malformed-netstring", "crash-restart"] {
        let png = out_dir("html").join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        chromium(
            &browser,
            &out_dir("html").join(format!("{name}.html")),
            Some(&png),
        );
        let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", png.display());
        // `WEFT_UPDATE_SCREENSHOT=1` refreshes the README's picture from this step.
        if name == "malformed-netstring" && std::env::var_os("WEFT_UPDATE_SCREENSHOT").is_some() {
            std::fs::write(root().join("docs/sequence.png"), &bytes).unwrap();
        }
    }
}

#[test]
fn chromium_draws_every_bundled_scenario_and_fifty_hosts_without_errors() {
    let Some(browser) = tool("chromium") else {
        return;
    };
    for scenario in bundled() {
        check(&browser, &scenario);
    }
    let fifty = check(&browser, "tests/data/fifty-hosts.toml");
    assert_eq!(fifty.body("lanes"), 50);
    assert_eq!(fifty.count("g", "band partition"), 1);
    assert_eq!(fifty.count("g", "band crash"), 1);
}

#[test]
fn peer_bytes_cannot_inject_markup_into_the_page() {
    let Some(browser) = tool("chromium") else {
        return;
    };
    let evil = "</script><script>document.title='pwned'</script>\
                <img src=x onerror=\"document.title='pwned'\"><!--";
    let mut t = Transcript::new();
    t.record(weft::time::Instant::ZERO, "b:40001", EventKind::Open);
    t.record(
        weft::time::Instant::ZERO,
        "a:80 > b:40001",
        EventKind::Data(evil.as_bytes().to_vec().into()),
    );
    t.record(
        weft::time::Instant::ZERO,
        "b",
        EventKind::Line(format!("out: {evil}")),
    );
    let info = RunInfo {
        scenario: "injection".into(),
        description: evil.into(),
        seed: 1,
        hosts: vec![
            ("a".into(), std::net::Ipv4Addr::new(10, 0, 0, 1)),
            ("b".into(), std::net::Ipv4Addr::new(10, 0, 0, 2)),
        ],
        failures: vec![evil.into()],
    };
    let drawn = chromium(&browser, &write_page(&t, &info), None);
    assert!(
        !drawn.dom.contains("pwned</title>"),
        "a script ran: {}",
        drawn.dom
    );
    assert!(
        !drawn.dom.contains("<img"),
        "an element was injected: {}",
        drawn.dom
    );
    assert_eq!(drawn.body("arrows"), 1);
    assert_eq!(drawn.body("errors"), 0, "{}", drawn.console);
    // The bytes are on the page as text.
    assert!(
        drawn
            .dom
            .contains("&lt;/script&gt;&lt;script&gt;document.title"),
        "{}",
        drawn.dom
    );
}

#[test]
fn clicking_a_read_shows_all_of_its_bytes() {
    let Some(browser) = tool("chromium") else {
        return;
    };
    let (outcome, info) = run("sim/crash-restart.toml");
    let page = write_page(&outcome.transcript, &info);
    let drawn = chromium_at(&browser, &format!("file://{}#read-3", page.display()), None);
    let third = (outcome.transcript.events().iter())
        .filter_map(|e| match &e.what {
            EventKind::Data(bytes) => Some(bytes.escape_ascii().to_string()),
            _ => None,
        })
        .nth(2)
        .unwrap();
    let shown = format!(
        "<pre id=\"detail-body\">{}</pre>",
        third
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    assert!(drawn.dom.contains(&shown), "{shown} not in {}", drawn.dom);
    assert!(
        drawn.dom.contains("<aside id=\"detail\">"),
        "the detail is shown"
    );
    assert_eq!(drawn.count("g", "arrow data selected"), 1);
}
