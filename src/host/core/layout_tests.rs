//! What a delivery reads of a [`Host`]: two cache lines of its state and clock, one
//! of a factory program's (see `HostState`, `Host` and `FactoryProgram`).

use std::mem::{align_of, offset_of, size_of};

use super::Host;
use crate::clock::ManualClock;
use crate::host::state::{HostConn, HostState, STATE_PAD_WORDS};
use crate::host::{ConnMap, FactoryProgram};
use crate::programs::pingpong::PingPongFactory;

type Program = FactoryProgram<PingPongFactory>;

/// Where the slots' pointer is in a `ConnMap`: a `Vec`'s last two words are its
/// pointer and length.
const SLOTS: usize = ConnMap::<HostConn>::SLOTS_OFFSET + 8;

#[test]
#[cfg(target_pointer_width = "64")]
fn the_state_and_the_clock_take_two_cache_lines_from_a_lines_start() {
    type H = Host<Program>;
    assert_eq!(align_of::<H>(), 64);
    let start = offset_of!(H, state) + offset_of!(HostState, conns) + SLOTS;
    let misplaced = start % 64 / 8;
    assert_eq!(
        misplaced,
        0,
        "STATE_PAD_WORDS should be {}",
        (STATE_PAD_WORDS + 8 - misplaced) % 8
    );
    assert_eq!(offset_of!(H, clock), size_of::<HostState>());
    let end = offset_of!(H, clock) + ManualClock::<()>::HOT_BYTES;
    assert!(end <= start + 128, "{} bytes", end - start);
}

#[test]
#[cfg(target_pointer_width = "64")]
fn a_factory_programs_protocol_lookup_reads_one_cache_line() {
    type H = Host<Program>;
    let start = offset_of!(H, program) + Program::PROTOCOLS_OFFSET + SLOTS;
    // The pointer, the length and the base.
    assert_eq!(start / 64, (start + 23) / 64, "at {start}");
}
