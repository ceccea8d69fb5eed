//! The layout of SimNet's per-host state: what an event reads of a host in one line.

use std::mem::{align_of, offset_of, size_of};

use super::SimHost;

#[test]
fn what_an_event_reads_of_a_host_is_in_its_first_cache_line() {
    assert_eq!(align_of::<SimHost>(), 64);
    let last_byte = |offset: usize, size: usize| offset + size - 1;
    for (field, end) in [
        ("node", last_byte(offset_of!(SimHost, node), 16)),
        (
            "clock_offset",
            last_byte(
                offset_of!(SimHost, clock_offset),
                size_of::<std::time::Duration>(),
            ),
        ),
        ("wake", last_byte(offset_of!(SimHost, wake), 16)),
        ("status", last_byte(offset_of!(SimHost, status), 8)),
        (
            "incarnation",
            last_byte(offset_of!(SimHost, incarnation), 4),
        ),
        ("wake_unsettled", offset_of!(SimHost, wake_unsettled)),
        ("touched", offset_of!(SimHost, touched)),
        ("settled", offset_of!(SimHost, settled)),
    ] {
        assert!(end < 64, "{field} ends at byte {end}");
    }
}
