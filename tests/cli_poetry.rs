//! The poetry commands as a user runs them: `weft slow-poetry`, `fast-poetry`,
//! `transform-server`, `proxy`, `get-poetry` and `transform-client` as processes on
//! loopback, port 0. Checks startup lines, output, exit statuses and messages. Every
//! process is killed if it outlives its timeout.

mod support;

use weft::programs::poetry::poems::{CLOCK, LOOM, TEN_BYTES};

use support::process::{Server, closed_port, weft};

#[test]
fn fast_poetry_says_where_it_serves_and_get_poetry_fetches_the_exact_bytes() {
    let server = Server::weft(&["fast-poetry"]);
    assert_eq!(
        server.first_line,
        format!("Serving loom on 127.0.0.1:{}.", server.port)
    );
    let ran = weft(&["get-poetry", "--report", "raw", &server.port()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == LOOM.as_bytes());

    // A poem from a file, bytes that are not text included.
    let path = std::env::temp_dir().join(format!("weft-cli-poem-{}.bin", std::process::id()));
    let poem: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    std::fs::write(&path, &poem).expect("write the poem");
    let file = path.to_str().expect("utf-8 path");
    let server = Server::weft(&["fast-poetry", file]);
    assert_eq!(
        server.first_line,
        format!("Serving {file} on 127.0.0.1:{}.", server.port)
    );
    let ran = weft(&["get-poetry", "--report", "raw", &server.port()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == poem);
}

#[test]
fn slow_poetry_and_get_poetry_report_like_the_part_2_client() {
    let server = Server::weft(&[
        "slow-poetry",
        "--num-bytes",
        "300",
        "--delay",
        "0.01",
        "ten-bytes",
    ]);
    assert_eq!(
        server.first_line,
        format!("Serving ten-bytes on 127.0.0.1:{}.", server.port)
    );
    let ran = weft(&["get-poetry", &server.port(), &server.port()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let out = ran.out();
    let lines: Vec<&str> = out.lines().collect();
    let n = lines.len();
    assert!(n >= 5, "{out}");
    assert_eq!(
        lines[n - 3..n - 1],
        ["Task 1: 623 bytes of poetry", "Task 2: 623 bytes of poetry"]
    );
    // The elapsed time is the wall's: only its form (H:MM:SS.ffffff) and a lower bound hold
    // on a loaded machine — each poem comes in three chunks 0.01 s apart.
    let total = lines[n - 1]
        .strip_prefix("Got 2 poems in ")
        .map(seconds)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(total >= 0.02, "{out}");
    assert!(
        lines.contains(
            &format!(
                "Task 1: got 300 bytes of poetry from 127.0.0.1:{}",
                server.port
            )
            .as_str()
        ),
        "{out}"
    );
    // The original's own lines, on stdout as it prints them: who connected, and each
    // chunk as it goes.
    let (out, _) = server.stop_with_stdout();
    let count = |what: &str| out.iter().filter(|l| l.contains(what)).count();
    assert_eq!(count("wants poetry!"), 2, "{out:?}");
    assert!(
        out.iter().any(|l| l.starts_with("Somebody at 127.0.0.1:")),
        "{out:?}"
    );
    assert_eq!(count("Sending 300 bytes"), 4, "{out:?}");
    assert_eq!(count("Sending 23 bytes"), 2, "{out:?}");
}

#[test]
fn serial_slow_poetry_serves_one_client_at_a_time() {
    let server = Server::weft(&[
        "slow-poetry",
        "--serial",
        "--num-bytes",
        "700",
        "--delay",
        "0.2",
        "ten-bytes",
    ]);
    assert_eq!(
        server.first_line,
        format!(
            "Serving ten-bytes one client at a time on 127.0.0.1:{}.",
            server.port
        )
    );
    let port = server.port();
    let ran = weft(&[
        "get-poetry",
        "--report",
        "blocking",
        "--sequential",
        &port,
        &port,
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let out = ran.out();
    assert!(out.contains("Task 2: got 623 bytes of poetry"), "{out}");
    // Concurrent downloads from the serial server take the sum, 2 x 0.2 s, not 0.2 s.
    let ran = weft(&["get-poetry", &port, &port]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let out = ran.out();
    let total = out
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("Got 2 poems in "))
        .map(seconds)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(total >= 0.4, "{out}");
}

/// `H:MM:SS.ffffff` as seconds.
fn seconds(timedelta: &str) -> f64 {
    let parts: Vec<f64> = timedelta
        .split(':')
        .map(|p| p.parse().expect("a number"))
        .collect();
    parts.iter().fold(0.0, |total, part| total * 60.0 + part)
}

#[test]
fn get_poetry_times_out_on_a_slow_server_and_exits_1() {
    let server = Server::weft(&["slow-poetry"]);
    let ran = weft(&["get-poetry", "--timeout", "0.3", &server.port()]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains(&format!(
            "Task 1 failed: 127.0.0.1:{}: timed out after 0:00:00.300000",
            server.port
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.out().contains("Got 0 poems in 0:00:0"), "{}", ran.out());
}

#[test]
fn get_poetry_from_a_closed_port_exits_1_saying_connection_refused() {
    let port = closed_port();
    let ran = weft(&["get-poetry", "--report", "poems", &port]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains(&format!(
            "The poem download failed: 127.0.0.1:{port}: connection refused"
        )),
        "{}",
        ran.stderr
    );
}

#[test]
fn get_poetry_with_no_address_prints_its_help_and_exits_0() {
    let ran = weft(&["get-poetry"]);
    assert_eq!(ran.code, 0);
    let out = ran.out();
    assert!(out.contains("Usage: weft get-poetry [OPTIONS]"), "{out}");
    assert!(out.contains("Examples:"), "{out}");
    assert_eq!(ran.stderr, "");
}

#[test]
fn bad_addresses_exit_2_with_the_reason() {
    for args in [
        &["get-poetry", "localhost:http"][..],
        &["get-poetry", "10000", "70000"],
        &["proxy", "poet:"],
        &["transform-client", ":11000"],
    ] {
        let ran = weft(args);
        assert_eq!(ran.code, 2, "{args:?}");
        assert_eq!(ran.out(), "");
        assert!(
            ran.stderr
                .contains("ports must be integers from 0 to 65535")
                || ran.stderr.contains("empty host name"),
            "{args:?}: {}",
            ran.stderr
        );
    }
}

#[test]
fn get_poetry_with_transform_prints_the_poem_cummingsified_or_the_original() {
    let poet = Server::weft(&["fast-poetry", "clock"]);
    let transformer = Server::weft(&["transform-server"]);
    let ran = weft(&[
        "get-poetry",
        "--report",
        "raw",
        "--transform",
        &transformer.port(),
        &poet.port(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stdout == CLOCK.to_ascii_lowercase().as_bytes(),
        "{}",
        ran.out()
    );
    // With the transform server gone, client 6.0's fallback: the original poem.
    let port = transformer.port();
    drop(transformer);
    let ran = weft(&[
        "get-poetry",
        "--report",
        "poems",
        "--transform",
        &port,
        &poet.port(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.out().contains(CLOCK.trim_end()), "{}", ran.out());
    assert!(ran.stderr.contains("Cummingsify failed!"), "{}", ran.stderr);
}

#[test]
fn transform_server_and_transform_client_speak_netstrings() {
    let server = Server::weft(&["transform-server"]);
    assert_eq!(
        server.first_line,
        format!("Serving transforms on 127.0.0.1:{}.", server.port)
    );
    let ran = weft(&[
        "transform-client",
        &server.port(),
        "--text",
        "HERE IS MY POEM",
    ]);
    assert_eq!((ran.code, ran.out().as_str()), (0, "here is my poem"));
    let ran = weft(&[
        "transform-client",
        "--name",
        "rot13",
        &server.port(),
        "clock",
    ]);
    assert_eq!(ran.code, 0);
    let twice = weft(&[
        "transform-client",
        "--name",
        "rot13",
        &server.port(),
        "--text",
        &ran.out(),
    ]);
    assert_eq!(twice.out(), CLOCK);
    let ran = weft(&["transform-client", "--name", "bogus", &server.port()]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr
            .contains("transform server closed the connection without a reply"),
        "{}",
        ran.stderr
    );
    let log = server.stop();
    assert!(log.contains("no such transform: \"bogus\""), "{log}");
}

#[test]
fn proxy_in_front_of_slow_poetry_fetches_once_for_two_clients() {
    let slow = Server::weft(&[
        "slow-poetry",
        "--num-bytes",
        "100",
        "--delay",
        "0.02",
        "ten-bytes",
    ]);
    let proxy = Server::weft(&["proxy", &slow.port()]);
    assert_eq!(
        proxy.first_line,
        format!(
            "Proxying 127.0.0.1:{} on 127.0.0.1:{}.",
            slow.port, proxy.port
        )
    );
    let ran = weft(&[
        "get-poetry",
        "--report",
        "raw",
        &proxy.port(),
        &proxy.port(),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout == [TEN_BYTES.as_bytes(), TEN_BYTES.as_bytes()].concat());
    let ran = weft(&["get-poetry", "--report", "raw", &proxy.port()]);
    assert!(ran.stdout == TEN_BYTES.as_bytes());
    let log = proxy.stop();
    assert_eq!(
        log.matches("Fetching poem from server.").count(),
        1,
        "{log}"
    );
    assert_eq!(log.matches("Using cached poem.").count(), 1, "{log}");
    let (out, _) = slow.stop_with_stdout();
    let fetches = out.iter().filter(|l| l.contains("wants poetry!")).count();
    assert_eq!(fetches, 1, "{out:?}");
}

#[test]
fn servers_refuse_a_missing_poem_and_a_port_in_use() {
    let ran = weft(&["fast-poetry", "no/such/poem.txt"]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr
            .contains("no such file or built-in poem: no/such/poem.txt"),
        "{}",
        ran.stderr
    );
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port().to_string();
    for command in ["slow-poetry", "fast-poetry", "transform-server"] {
        let ran = weft(&[command, "--port", &port]);
        assert_eq!(ran.code, 1, "{command}");
        assert!(
            ran.stderr
                .contains(&format!("error: address already in use: 127.0.0.1:{port}")),
            "{command}: {}",
            ran.stderr
        );
    }
    let ran = weft(&["slow-poetry", "--num-bytes", "0"]);
    assert_eq!(ran.code, 2);
    let ran = weft(&["slow-poetry", "--delay", "-1"]);
    assert_eq!(ran.code, 2);
}

#[test]
fn every_poetry_command_has_help_with_an_example() {
    for command in [
        "slow-poetry",
        "fast-poetry",
        "transform-server",
        "proxy",
        "get-poetry",
        "transform-client",
    ] {
        let ran = weft(&[command, "--help"]);
        assert_eq!(ran.code, 0, "{command}");
        let out = ran.out();
        assert!(out.contains(&format!("Usage: weft {command}")), "{out}");
        assert!(out.contains("Example"), "{command}: {out}");
        assert!(
            out.contains("[default: "),
            "{command} shows its defaults: {out}"
        );
    }
}

#[test]
fn bench_tcp_prints_one_key_value_line_with_the_median_rate() {
    let ran = weft(&[
        "bench",
        "tcp",
        "--clients",
        "3",
        "--requests",
        "30",
        "--runs",
        "3",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let out = ran.out();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0]
            .starts_with("tcp server=weft clients=3 requests=30 bytes_per_response=3003 runs=3 "),
        "{out}"
    );
    assert!(lines[0].contains(" requests_per_s="), "{out}");
    let ran = weft(&[
        "bench",
        "tcp",
        "--requests",
        "5",
        "--server",
        &closed_port(),
    ]);
    assert_eq!(ran.code, 1);
    assert!(
        ran.stderr.contains("error: request failed: "),
        "{}",
        ran.stderr
    );
}
