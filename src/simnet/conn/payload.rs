//! What a data packet carries, and the arena larger payloads are cut from.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Most bytes a packet carries inline, in the packet itself (a larger one is a slice
/// of a shared arena block).
pub(crate) const INLINE: usize = 23;

/// The bytes of a data packet: a few inline, so the request-answer traffic of most
/// protocols moves no reference counts and touches no shared block; more as a slice
/// of an arena block.
#[derive(Clone)]
pub(crate) enum Payload {
    /// Up to [`INLINE`] bytes: `bytes[..len]`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// More, shared with the block they were cut from.
    Shared(Bytes),
}

impl Payload {
    /// No bytes.
    pub(crate) const EMPTY: Self = Self::Inline {
        len: 0,
        bytes: [0; INLINE],
    };

    /// A copy of `data`, inline if it fits.
    pub(crate) fn copy_of(data: &[u8]) -> Self {
        if data.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..data.len()].copy_from_slice(data);
            Self::Inline {
                len: data.len() as u8,
                bytes,
            }
        } else {
            Self::Shared(Bytes::copy_from_slice(data))
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Inline { len, .. } => usize::from(*len),
            Self::Shared(bytes) => bytes.len(),
        }
    }

    /// The first `n` bytes (`n` below the length), taken out.
    pub(super) fn split_to(&mut self, n: usize) -> Self {
        match self {
            Self::Inline { len, bytes } => {
                let front = Self::copy_of(&bytes[..n]);
                bytes.copy_within(n..usize::from(*len), 0);
                *len -= n as u8;
                front
            }
            Self::Shared(bytes) => Self::Shared(bytes.split_to(n)),
        }
    }

    /// The bytes as the transcript keeps them: a shared payload's own block again,
    /// an inline one copied into the arena (a single byte not even that).
    // Always inlined: every recorded read builds one, and the one-byte case is then a
    // few stores straight into the event.
    #[inline(always)]
    pub(crate) fn to_bytes(&self, arena: &mut PacketArena) -> Bytes {
        match self.one_byte() {
            Some(byte) => byte,
            None => self.to_bytes_of_more(arena),
        }
    }

    /// [`to_bytes`](Self::to_bytes) of one inline byte, the commonest read of
    /// request-answer traffic: its static byte, which needs no arena.
    #[inline(always)]
    pub(crate) fn one_byte(&self) -> Option<Bytes> {
        match self {
            Self::Inline { len: 1, bytes } => Some(PacketArena::one_byte(bytes[0])),
            _ => None,
        }
    }

    /// [`to_bytes`](Self::to_bytes) of other than one inline byte.
    #[inline(never)]
    fn to_bytes_of_more(&self, arena: &mut PacketArena) -> Bytes {
        match self {
            Self::Inline { .. } => arena.bytes_of(self),
            Self::Shared(bytes) => bytes.clone(),
        }
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Shared(bytes) => bytes,
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Payload({:?})", Bytes::copy_from_slice(self))
    }
}

/// Where packets' bytes are cut from: one block shared by many packets, so putting
/// bytes on the wire allocates once per block rather than once per packet, and the
/// transcript's copy of a read is the same block again, not a copy. Packets of up to
/// [`INLINE`] bytes carry them inline instead, and the transcript's copy of those is
/// cut from the block when it is made.
#[derive(Debug, Default)]
pub(crate) struct PacketArena {
    block: BytesMut,
}

/// Bytes per arena block (a packet larger than this gets a block of its own).
const ARENA_BLOCK: usize = 64 * 1024;

/// Every byte value once, so a one-byte chunk of the transcript is a static slice:
/// no copy, no reference count.
static EVERY_BYTE: [u8; 256] = {
    let mut all = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        all[i] = i as u8;
        i += 1;
    }
    all
};

impl PacketArena {
    /// The first `n` bytes of `from` (at most what it holds), taken out of it.
    #[inline(always)]
    pub(crate) fn take_front(&mut self, from: &mut VecDeque<u8>, n: usize) -> Payload {
        if n == 1 && from.len() == 1 {
            let mut bytes = [0; INLINE];
            bytes[0] = from[0];
            from.clear();
            return Payload::Inline { len: 1, bytes };
        }
        self.take_front_of_more(from, n)
    }

    /// [`take_front`](Self::take_front) of `n` bytes when they are the one byte
    /// `from` holds, as its packet; `None` (and `from` untouched) otherwise.
    #[inline(always)]
    pub(crate) fn lone_byte(from: &mut VecDeque<u8>, n: usize) -> Option<Payload> {
        if n == 1 && from.len() == 1 {
            let mut bytes = [0; INLINE];
            bytes[0] = from[0];
            from.clear();
            return Some(Payload::Inline { len: 1, bytes });
        }
        None
    }

    /// [`take_front`](Self::take_front) of more than one byte.
    fn take_front_of_more(&mut self, from: &mut VecDeque<u8>, n: usize) -> Payload {
        let n = n.min(from.len());
        if n > INLINE {
            return Payload::Shared(self.take_block(from, n));
        }
        let mut bytes = [0; INLINE];
        let (a, b) = from.as_slices();
        if n <= a.len() {
            bytes[..n].copy_from_slice(&a[..n]);
        } else {
            bytes[..a.len()].copy_from_slice(a);
            bytes[a.len()..n].copy_from_slice(&b[..n - a.len()]);
        }
        if n == from.len() {
            from.clear();
        } else {
            from.drain(..n);
        }
        Payload::Inline {
            len: n as u8,
            bytes,
        }
    }

    /// [`take_front`](Self::take_front) of more than [`INLINE`] bytes: cut from the block.
    fn take_block(&mut self, from: &mut VecDeque<u8>, n: usize) -> Bytes {
        self.reserve(n);
        let (a, b) = from.as_slices();
        if n <= a.len() {
            self.block.extend_from_slice(&a[..n]);
        } else {
            self.block.extend_from_slice(a);
            self.block.extend_from_slice(&b[..n - a.len()]);
        }
        if n == from.len() {
            from.clear();
        } else {
            from.drain(..n);
        }
        self.block.split().freeze()
    }

    /// `data` as shared bytes: a single byte as a static slice, more copied into the
    /// block.
    #[inline]
    pub(crate) fn bytes_of(&mut self, data: &[u8]) -> Bytes {
        if let &[byte] = data {
            return Self::one_byte(byte);
        }
        self.copy_to_block(data)
    }

    /// `[byte]` as shared bytes: a static slice.
    #[inline(always)]
    pub(crate) fn one_byte(byte: u8) -> Bytes {
        // `from_ref` rather than `[i..=i]`: the inclusive range's indexing is a call.
        Bytes::from_static(std::slice::from_ref(&EVERY_BYTE[usize::from(byte)]))
    }

    #[cold]
    fn copy_to_block(&mut self, data: &[u8]) -> Bytes {
        self.reserve(data.len());
        self.block.extend_from_slice(data);
        self.block.split().freeze()
    }

    fn reserve(&mut self, n: usize) {
        if self.block.capacity() < n {
            self.block = BytesMut::with_capacity(ARENA_BLOCK.max(n));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_packets_carry_their_own_bytes_across_blocks() {
        let mut arena = PacketArena::default();
        let mut queue: VecDeque<u8> = (0..=255u8).cycle().take(40_000).collect();
        let mut packets = Vec::new();
        while !queue.is_empty() {
            packets.push(arena.take_front(&mut queue, 1500));
        }
        let joined: Vec<u8> = packets.iter().flat_map(|p| p.iter().copied()).collect();
        let expected: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
        assert_eq!(joined, expected);
        assert_eq!(packets.len(), 27);
        assert_eq!(arena.take_front(&mut queue, 10), Payload::EMPTY);
    }

    #[test]
    fn small_packets_carry_their_bytes_inline_across_the_queue_wrapping() {
        let mut arena = PacketArena::default();
        let mut queue: VecDeque<u8> = VecDeque::with_capacity(8);
        let mut sent = Vec::new();
        let mut packets = Vec::new();
        for round in 0..50u8 {
            // Writes and takes of uneven sizes wrap the queue's ring around.
            queue.extend((0..round % 7 + 1).map(|i| round.wrapping_mul(31).wrapping_add(i)));
            sent.extend(queue.iter().copied());
            while !queue.is_empty() {
                let packet = arena.take_front(&mut queue, usize::from(round % 3) + 1);
                assert!(matches!(packet, Payload::Inline { .. }));
                packets.push(packet);
            }
        }
        let joined: Vec<u8> = packets.iter().flat_map(|p| p.iter().copied()).collect();
        assert_eq!(joined, sent);
        let big = arena.take_front(&mut (0..100u8).collect(), 100);
        assert!(matches!(big, Payload::Shared(_)));
        assert_eq!(&big[..], &(0..100u8).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn transcript_bytes_of_a_payload_are_its_bytes() {
        let mut arena = PacketArena::default();
        for data in [&b""[..], b"a", b"\x00", b"\xff", b"ab", &[7u8; 23][..]] {
            assert_eq!(&Payload::copy_of(data).to_bytes(&mut arena)[..], data);
        }
        let shared = Payload::Shared(Bytes::from(vec![1u8; 40]));
        assert_eq!(&shared.to_bytes(&mut arena)[..], &[1u8; 40][..]);
    }
}
