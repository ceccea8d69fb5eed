//! tshark reads the captures, and "Follow TCP Stream" gives the transcript's bytes.

use std::collections::BTreeMap;
use std::process::Command;

use weft::report::{RunInfo, pcap};
use weft::testing::EventKind;

use crate::tools::{bundled, out_dir, output, run, tool};

/// Each followed stream's two directions, as (`FROM:PORT > TO:PORT` with host names,
/// bytes), in stream order.
fn followed(
    tshark: &std::path::Path,
    file: &std::path::Path,
    info: &RunInfo,
) -> Vec<(String, Vec<u8>)> {
    let streams =
        output(
            Command::new(tshark)
                .arg("-r")
                .arg(file)
                .args(["-T", "fields", "-e", "tcp.stream"]),
        );
    let count = streams
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .max()
        .map_or(0, |n| n + 1);
    let mut command = Command::new(tshark);
    command.arg("-r").arg(file).arg("-q");
    for n in 0..count {
        command.args(["-z", &format!("follow,tcp,raw,{n}")]);
    }
    let text = output(&mut command);
    let name = |node: &str| {
        let (ip, port) = node.trim().rsplit_once(':').expect("a node is IP:PORT");
        let host = (info.hosts.iter())
            .find(|(_, a)| a.to_string() == ip)
            .expect("a host's address")
            .0
            .clone();
        format!("{host}:{port}")
    };
    let mut out = Vec::new();
    let mut nodes: Vec<String> = Vec::new();
    let mut bytes: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let flush =
        |nodes: &mut Vec<String>, bytes: &mut [Vec<u8>; 2], out: &mut Vec<(String, Vec<u8>)>| {
            if let [a, b] = nodes.as_slice() {
                out.push((format!("{a} > {b}"), std::mem::take(&mut bytes[0])));
                out.push((format!("{b} > {a}"), std::mem::take(&mut bytes[1])));
            }
            nodes.clear();
        };
    for line in text.lines() {
        if line.starts_with("Follow:") {
            flush(&mut nodes, &mut bytes, &mut out);
        } else if let Some(node) = line
            .strip_prefix("Node 0: ")
            .or_else(|| line.strip_prefix("Node 1: "))
        {
            nodes.push(name(node));
        } else if nodes.len() == 2 && !line.starts_with("===") && !line.trim().is_empty() {
            let side = usize::from(line.starts_with('\t'));
            let hex = line.trim();
            bytes[side].extend(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")),
            );
        }
    }
    flush(&mut nodes, &mut bytes, &mut out);
    assert_eq!(
        out.len() as u64,
        count * 2,
        "every stream followed:\n{text}"
    );
    out
}

fn check(tshark: &std::path::Path, scenario: &str) -> usize {
    let (outcome, info) = run(scenario);
    let file = out_dir("pcap").join(format!("{}.pcap", info.scenario));
    let mut capture = Vec::new();
    pcap::write(&outcome.transcript, &info, &mut capture).unwrap();
    std::fs::write(&file, capture).unwrap();
    let mut seen: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (direction, bytes) in followed(tshark, &file, &info) {
        seen.entry(direction).or_default().extend(bytes);
    }
    let mut directions = 0;
    for event in outcome.transcript.events() {
        if let EventKind::Data(_) = event.what
            && !seen.contains_key(&*event.who)
        {
            panic!("{scenario}: no stream carries {}", event.who);
        }
    }
    for (direction, bytes) in &seen {
        let want = outcome.transcript.bytes(direction);
        assert!(
            *bytes == want,
            "{scenario}: {direction}: tshark follows {} bytes, the transcript has {}",
            bytes.len(),
            want.len()
        );
        directions += usize::from(!want.is_empty());
    }
    directions
}

#[test]
fn tshark_follows_every_stream_of_every_bundled_scenario_byte_for_byte() {
    let Some(tshark) = tool("tshark") else { return };
    let mut directions = 0;
    for scenario in bundled() {
        directions += check(&tshark, &scenario);
    }
    assert!(
        directions >= 30,
        "only {directions} directions carried bytes"
    );
}

#[test]
fn tshark_follows_a_read_larger_than_one_segment() {
    let Some(tshark) = tool("tshark") else { return };
    let info = RunInfo {
        scenario: "big-read".into(),
        description: String::new(),
        seed: 1,
        hosts: vec![
            ("server".into(), std::net::Ipv4Addr::new(10, 0, 0, 1)),
            ("client".into(), std::net::Ipv4Addr::new(10, 0, 0, 2)),
        ],
        failures: Vec::new(),
    };
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut t = weft::testing::Transcript::new();
    let label = "server:7000 > client:40001";
    t.record(weft::time::Instant::ZERO, "client:40001", EventKind::Open);
    t.record(
        weft::time::Instant::from_millis(3),
        label,
        EventKind::Data(big.clone().into()),
    );
    t.record(weft::time::Instant::from_millis(4), label, EventKind::Eof);
    let file = out_dir("pcap").join("big-read.pcap");
    let mut capture = Vec::new();
    assert_eq!(pcap::write(&t, &info, &mut capture).unwrap(), 3 + 4 + 1);
    std::fs::write(&file, capture).unwrap();
    let streams = followed(&tshark, &file, &info);
    let got = streams.iter().find(|(d, _)| d == label).unwrap();
    assert!(
        got.1 == big,
        "tshark follows {} of {} bytes",
        got.1.len(),
        big.len()
    );
}
