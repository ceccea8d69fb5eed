//! Both forms of the client on a seeded simulated network, with faults written with
//! weft's fault constructors.

mod common;

use std::time::Duration;

use common::{Form, kv_net, options};
use weft::host::Stream;
use weft::simnet::Fault;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn every_command_is_answered_on_a_healthy_network() {
    for form in [Form::StateMachine, Form::Async] {
        let mut net = kv_net(1, form, options(&["SET k 1", "GET k", "GET j"]), &[]);
        assert!(net.run_until_exit(&["client"], 10 * SECOND), "{form:?}");
        assert_eq!(net.exit_code("client"), Some(0), "{form:?}");
        assert_eq!(
            net.lines("client", Stream::Stdout),
            ["SET k 1 -> OK", "GET k -> VALUE 1", "GET j -> NOT_FOUND"],
            "{form:?}"
        );
    }
}

#[test]
fn a_partition_that_heals_is_retried_through() {
    let faults = [
        Fault::at(Duration::from_millis(1)).partition("server", "client"),
        Fault::at(2 * SECOND).heal("server", "client"),
    ];
    for form in [Form::StateMachine, Form::Async] {
        let mut net = kv_net(3, form, options(&["SET k 1", "GET k"]), &faults);
        assert!(net.run_until_exit(&["client"], 30 * SECOND), "{form:?}");
        assert_eq!(net.exit_code("client"), Some(0), "{form:?}");
        assert!(net.now().since_epoch() > 2 * SECOND, "not before the heal");
        let stderr = net.lines("client", Stream::Stderr);
        assert!(
            stderr.iter().all(|l| l.contains("retrying in")),
            "{stderr:?}"
        );
        assert!(!stderr.is_empty(), "{form:?}: the partition cost a retry");
    }
}

#[test]
fn a_partition_that_outlasts_the_retries_ends_in_giving_up() {
    let faults = [Fault::at(Duration::from_millis(1)).partition("server", "client")];
    for form in [Form::StateMachine, Form::Async] {
        let mut net = kv_net(1, form, options(&["GET k"]), &faults);
        assert!(net.run_until_exit(&["client"], 60 * SECOND), "{form:?}");
        assert_eq!(net.exit_code("client"), Some(1), "{form:?}");
        let stderr = net.lines("client", Stream::Stderr);
        let last = stderr.last().expect("a reason");
        assert!(
            last.starts_with("giving up after 6 attempts: "),
            "{form:?}: {last}"
        );
    }
}

#[test]
fn a_crashed_server_is_reached_once_it_restarts() {
    let faults = [
        Fault::at(Duration::from_millis(1)).crash("server"),
        Fault::at(SECOND).restart("server"),
    ];
    for form in [Form::StateMachine, Form::Async] {
        let mut net = kv_net(1, form, options(&["SET k 1", "GET k"]), &faults);
        assert!(net.run_until_exit(&["client"], 30 * SECOND), "{form:?}");
        assert_eq!(net.exit_code("client"), Some(0), "{form:?}");
        assert_eq!(
            net.lines("client", Stream::Stdout),
            ["SET k 1 -> OK", "GET k -> VALUE 1"],
            "{form:?}"
        );
        assert!(
            net.now().since_epoch() > SECOND,
            "{form:?}: answered before the restart"
        );
    }
}
