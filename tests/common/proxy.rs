//! A proxy under a MemoryReactor, driven as the proxy tests drive it.

use weft::host::ConnId;
use weft::programs::poetry::PoetryProxy;
use weft::testing::MemoryReactor;
use weft::transport::{Disconnect, ipv4};

/// Client `n` connects to the proxy's listener.
pub(crate) fn client(reactor: &mut MemoryReactor<PoetryProxy>, n: u16) -> ConnId {
    reactor.accept(0, ipv4(127, 0, 0, 1, 50000 + n))
}

/// Completes upstream connect `index` and has it send `poem` and close with `reason`.
pub(crate) fn upstream_sends(
    reactor: &mut MemoryReactor<PoetryProxy>,
    index: usize,
    poem: &[u8],
    reason: Disconnect,
) -> ConnId {
    let upstream = reactor.complete_connect(index);
    reactor.data_received(upstream, poem);
    reactor.connection_lost(upstream, reason);
    upstream
}
