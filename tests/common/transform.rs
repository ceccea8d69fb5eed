//! Replies of the original transform server (Twisted), observed on the wire: the request
//! table of the poetry series' Part 12. tests/transform.rs holds weft's server to it
//! in memory; tests/compat.rs checks it against Twisted itself when Twisted is installed,
//! so the offline expectations cannot drift from the original.

/// `(request sent in one write, every byte the server sends back before closing)`.
pub(crate) const OBSERVED_REPLIES: &[(&[u8], &[u8])] = &[
    (b"27:cummingsify.HERE IS MY POEM,", b"15:here is my poem,"),
    (b"11:cummingsify,", b""),
    (b"9:bogus.ABC,", b""),
    (b"12:cummingsify.,", b"0:,"),
    (b"007:abc.def,", b""),
    (b"5:a.bcdX", b""),
    (b"100000:x.y,", b""),
    (b"20:cummingsify.A.B.C.D.,", b"8:a.b.c.d.,"),
    (b"12:cummingsify.,13:cummingsify.A,", b"0:,1:a,"),
];
