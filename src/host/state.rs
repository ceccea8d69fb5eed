//! [`HostState`]: a host's connections and the commands its program has issued, and
//! the lists that let a driver and the host find the connections an event touched.

use std::collections::{BTreeSet, VecDeque};

use super::table::LentMap;
use super::{Command, ConnId, ConnMap, HostRng};
use crate::flow::Notice;
use crate::transport::TransportState;

/// A host's connections and the commands its program has issued, shared by the
/// [`Host`](super::Host) and the contexts it lends out.
///
/// In three parts, so that a callback's context can hold the connections as a map with
/// one lent out (the one a read is delivered to, see [`StateMut`]) beside the rest.
// The fields every event touches come last (`repr(C)` keeps the order), next to the
// clock's, and start a cache line (`_pad`), so that with the clock's they take two
// lines and no more: of `conns` its slots' pointer and length and its base, all of
// `marks` (of whose `commands` a read looks at the length, last).
// `core::layout_tests` checks this.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct HostState {
    pub(crate) book: Book,
    /// Puts the hot fields below at the start of a cache line.
    _pad: [u64; STATE_PAD_WORDS],
    /// Connections that are up, until their `connection_lost` has been delivered.
    pub(crate) conns: ConnMap<HostConn>,
    pub(crate) marks: Marks,
}

/// What a host keeps besides its connections that an event seldom looks at.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Book {
    /// Connects issued and not yet answered.
    pub(crate) connecting: BTreeSet<ConnId>,
    pub(crate) next_conn: u64,
    pub(crate) next_listener: u64,
    pub(crate) exit_code: Option<i32>,
    /// The program's random source, seeded by the driver. Boxed: it is large, seldom
    /// used, and aligned to 16 bytes, which would pad the end of this struct and move
    /// the clock's hot fields off the line the state's end in (see `Host`).
    pub(crate) rng: Box<HostRng>,
    /// The connections the current callback touched after `Marks::in_call`, in order.
    in_call_more: Vec<ConnId>,
}

/// What a host keeps besides its connections that every event looks at: the marks
/// its driver polls, and the current callback's.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Marks {
    /// Connections touched since the driver last looked.
    pub(crate) dirty: ConnSet,
    /// The first connection the current callback has touched, [`NO_CONN`] if none;
    /// with `Book::in_call_more`, the connections flagged `in_call`: the only ones
    /// that can owe their program a producer notice when it returns. (Most callbacks
    /// touch one connection; this is all they look at.)
    pub(crate) in_call: ConnId,
    pub(crate) commands: VecDeque<Command>,
}

/// How many words of padding put [`HostState`]'s hot fields at a cache line's start,
/// with the host aligned to a line (found by `core::layout_tests`; on another target the
/// test says what it should be).
pub(super) const STATE_PAD_WORDS: usize = 0;

impl Default for HostState {
    fn default() -> Self {
        Self {
            book: Book {
                connecting: BTreeSet::new(),
                next_conn: 0,
                next_listener: 0,
                exit_code: None,
                rng: Box::default(),
                in_call_more: Vec::new(),
            },
            _pad: [0; STATE_PAD_WORDS],
            conns: ConnMap::new(),
            marks: Marks {
                dirty: ConnSet::default(),
                in_call: NO_CONN,
                commands: VecDeque::new(),
            },
        }
    }
}

/// One connection of a host: its transport, and whether the current callback has
/// touched it.
// Aligned so that the flag and the transport's hot fields share one cache line.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct HostConn {
    /// Listed in [`Marks::in_call`].
    pub(crate) in_call: bool,
    pub(crate) transport: TransportState,
}

impl Book {
    pub(crate) fn new_conn_id(&mut self) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        id
    }
}

impl Marks {
    /// Flags `entry`, `conn`'s, as touched by the current callback, and lists it for
    /// the driver, unless it is flagged already.
    #[inline(always)]
    fn touch<'e>(
        &mut self,
        book: &mut Book,
        conn: ConnId,
        entry: &'e mut HostConn,
    ) -> &'e mut TransportState {
        // A connection flagged `in_call` is on the dirty set already (its first touch
        // put it there), or is the one a read was delivered to, flagged after its
        // callback, which `Host::deliver_data_and_poll` lists or not once the notices
        // are delivered.
        if !entry.in_call {
            entry.in_call = true;
            self.dirty.insert(conn);
            self.list_in_call(book, conn);
        }
        &mut entry.transport
    }

    /// Whether the current callback has touched a connection it was not called about
    /// (see [`Host::deliver_data_and_poll`](super::Node::deliver_data_and_poll)).
    #[inline]
    pub(crate) fn touched_any(&self) -> bool {
        self.in_call != NO_CONN
    }

    /// Lists `conn`, flagged `in_call`, as touched by the current callback.
    #[inline]
    pub(crate) fn list_in_call(&mut self, book: &mut Book, conn: ConnId) {
        if self.in_call == NO_CONN {
            self.in_call = conn;
        } else {
            book.in_call_more.push(conn);
        }
    }
}

impl HostState {
    /// Adds a connection that has just come up, listed as dirty.
    pub(crate) fn open(&mut self, conn: ConnId, transport: TransportState) {
        let entry = HostConn {
            transport,
            in_call: false,
        };
        let replaced = self.conns.insert(conn, entry);
        debug_assert!(replaced.is_none(), "connection ids are never reused");
        self.marks.dirty.insert(conn);
    }

    /// Takes a connection out, and off the dirty list.
    pub(crate) fn remove(&mut self, conn: ConnId) {
        if self.conns.remove(conn).is_some() {
            self.marks.dirty.remove(&conn);
        }
        // An `in_call` entry for a removed connection is skipped when delivered.
    }

    #[inline]
    pub(crate) fn transport(&self, conn: ConnId) -> Option<&TransportState> {
        self.conns.get(conn).map(|c| &c.transport)
    }

    #[inline]
    pub(crate) fn transport_mut(&mut self, conn: ConnId) -> Option<&mut TransportState> {
        self.conns.get_mut(conn).map(|c| &mut c.transport)
    }

    /// Lists `conn` for the driver to look at if it is up and its transport passes
    /// `test`; returns whether it did.
    #[inline]
    pub(crate) fn mark_dirty_if(
        &mut self,
        conn: ConnId,
        test: impl FnOnce(&TransportState) -> bool,
    ) -> bool {
        let Some(entry) = self.conns.get_mut(conn) else {
            return false;
        };
        if !test(&entry.transport) {
            return false;
        }
        self.marks.dirty.insert(conn);
        true
    }

    /// Lists `conn` for the driver, and as touched by the current callback, so that
    /// any producer notice it owes is delivered when the callback returns.
    #[inline(always)]
    pub(crate) fn touch(&mut self, conn: ConnId) -> Option<&mut TransportState> {
        let entry = self.conns.get_mut(conn)?;
        Some(self.marks.touch(&mut self.book, conn, entry))
    }

    /// The state as a callback's context holds it, with no connection lent out.
    #[inline(always)]
    pub(crate) fn as_mut(&mut self) -> StateMut<'_> {
        StateMut {
            book: &mut self.book,
            lent: None,
            conns: self.conns.lend_none(),
            marks: &mut self.marks,
        }
    }

    /// The next connection for the driver to look at, lowest id first.
    #[inline]
    pub(crate) fn pop_dirty(&mut self) -> Option<ConnId> {
        self.marks.dirty.pop_first()
    }

    /// Whether the current callback is done with no notice to deliver: it touched no
    /// connection, or one that owes none (whose mark this clears). The common cases,
    /// checked inline; otherwise [`next_notice`](Self::next_notice) decides.
    #[inline]
    pub(crate) fn settled_without_notices(&mut self) -> bool {
        let first = self.marks.in_call;
        if first == NO_CONN {
            return true;
        }
        if !self.book.in_call_more.is_empty() {
            return false;
        }
        match self.conns.get_mut(first) {
            Some(entry) if entry.transport.has_notices() => false,
            Some(entry) => {
                entry.in_call = false;
                self.marks.in_call = NO_CONN;
                true
            }
            None => {
                self.marks.in_call = NO_CONN;
                true
            }
        }
    }

    /// The touched connection with the lowest id that owes its program a notice, and
    /// the notice. Once none does, the touched list is cleared.
    #[inline]
    pub(crate) fn next_notice(&mut self) -> Option<(ConnId, Notice)> {
        let first = self.marks.in_call;
        if first == NO_CONN {
            return None;
        }
        if self.book.in_call_more.is_empty() {
            // The common case: one connection touched.
            if let Some(entry) = self.conns.get_mut(first) {
                if let Some(notice) = entry.transport.take_notice() {
                    return Some((first, notice));
                }
                entry.in_call = false;
            }
            self.marks.in_call = NO_CONN;
            return None;
        }
        self.next_notice_of_many()
    }

    fn next_notice_of_many(&mut self) -> Option<(ConnId, Notice)> {
        let conns = &self.conns;
        let more = self.book.in_call_more.iter().copied();
        let listed = std::iter::once(self.marks.in_call).chain(more);
        let owing = listed
            .filter(|&conn| conns.get(conn).is_some_and(|c| c.transport.has_notices()))
            .min();
        if let Some(conn) = owing {
            let entry = self.conns.get_mut(conn).expect("just found");
            let notice = entry.transport.take_notice().expect("just checked");
            return Some((conn, notice));
        }
        let first = std::mem::replace(&mut self.marks.in_call, NO_CONN);
        for conn in std::iter::once(first).chain(self.book.in_call_more.drain(..)) {
            if let Some(entry) = self.conns.get_mut(conn) {
                entry.in_call = false;
            }
        }
        None
    }
}

/// A [`HostState`] as a callback's [`HostContext`](super::HostContext) holds it: the
/// connections with the one a read is delivered to lent out (`lent`), so that the
/// delivery keeps that one's entry at hand across the callback rather than looking it
/// up again, and the program's own touches of it find it without a lookup.
pub(crate) struct StateMut<'a> {
    pub(crate) book: &'a mut Book,
    /// The lent connection and its entry, touched by the delivery (which flags and
    /// lists it, or not, once the callback has returned).
    lent: Option<(ConnId, &'a mut HostConn)>,
    conns: LentMap<'a, HostConn>,
    pub(crate) marks: &'a mut Marks,
}

impl<'a> StateMut<'a> {
    /// The state with `entry`, `conn`'s, lent out of `conns`, the others. `entry` is
    /// not flagged `in_call`: lent out, it need not be.
    #[inline(always)]
    pub(crate) fn lending(
        book: &'a mut Book,
        conn: ConnId,
        entry: &'a mut HostConn,
        conns: LentMap<'a, HostConn>,
        marks: &'a mut Marks,
    ) -> Self {
        debug_assert!(!entry.in_call);
        Self {
            book,
            lent: Some((conn, entry)),
            conns,
            marks,
        }
    }

    #[inline]
    pub(crate) fn transport(&self, conn: ConnId) -> Option<&TransportState> {
        match &self.lent {
            Some((lent, entry)) if *lent == conn => Some(&entry.transport),
            _ => self.conns.get(conn).map(|c| &c.transport),
        }
    }

    /// [`HostState::touch`], in a callback.
    #[inline(always)]
    pub(crate) fn touch(&mut self, conn: ConnId) -> Option<&mut TransportState> {
        if let Some((lent, entry)) = &mut self.lent
            && *lent == conn
        {
            return Some(&mut entry.transport);
        }
        let entry = self.conns.get_mut(conn)?;
        Some(self.marks.touch(self.book, conn, entry))
    }
}

/// A set of connection ids, lowest first: the lowest inline, the rest in a sorted
/// ring, as ids are touched mostly in rising order and the set is small (for a client,
/// one connection). The common insert is a store or a push and taking the lowest a
/// load or a pop, and neither allocates once the ring has grown.
// `first` last, beside the ring's length (a `VecDeque`'s last word), which a read
// looks at too.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct ConnSet {
    /// The others, ascending.
    rest: VecDeque<ConnId>,
    /// The lowest id; [`NO_CONN`] only if the set is empty. A plain id rather than an
    /// `Option` so that the test every read makes ([`is_empty_or_only`]) is two
    /// comparisons of one word.
    ///
    /// [`is_empty_or_only`]: Self::is_empty_or_only
    first: ConnId,
}

/// The id no connection has: a host hands its ids out counting up from 0.
pub(crate) const NO_CONN: ConnId = ConnId(u64::MAX);

impl Default for ConnSet {
    fn default() -> Self {
        Self {
            first: NO_CONN,
            rest: VecDeque::new(),
        }
    }
}

impl ConnSet {
    #[inline]
    pub(crate) fn insert(&mut self, conn: ConnId) {
        debug_assert_ne!(conn, NO_CONN, "not a connection's id");
        if self.first == conn {
            return;
        }
        if self.first == NO_CONN {
            self.first = conn;
        } else if conn < self.first {
            self.rest.push_front(self.first);
            self.first = conn;
        } else {
            self.insert_rest(conn);
        }
    }

    fn insert_rest(&mut self, conn: ConnId) {
        match self.rest.back() {
            None => self.rest.push_back(conn),
            Some(&last) if last < conn => self.rest.push_back(conn),
            Some(&last) if last == conn => {}
            Some(_) => {
                if let Err(at) = self.rest.binary_search(&conn) {
                    self.rest.insert(at, conn);
                }
            }
        }
    }

    /// Whether the set is empty.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.first == NO_CONN
    }

    /// Whether nothing but `conn` (if anything) is in the set.
    #[inline]
    pub(crate) fn is_empty_or_only(&self, conn: ConnId) -> bool {
        // Empty first: after a read the driver has taken everything, most often. An
        // empty `first` is an empty set (`rest` holds ids above it), so only a set
        // whose first is `conn` needs its ring looked at.
        debug_assert!(self.first != NO_CONN || self.rest.is_empty());
        self.first == NO_CONN || (self.first == conn && self.rest.is_empty())
    }

    /// Whether `conn` is in the set and nothing else is.
    #[inline]
    pub(crate) fn is_only(&self, conn: ConnId) -> bool {
        self.first == conn && self.rest.is_empty()
    }

    #[inline]
    pub(crate) fn pop_first(&mut self) -> Option<ConnId> {
        if self.first == NO_CONN {
            return None;
        }
        let first = self.first;
        // The test first: most sets hold one id, and the pop stays out of the way.
        self.first = if self.rest.is_empty() {
            NO_CONN
        } else {
            self.rest.pop_front().expect("not empty")
        };
        Some(first)
    }

    /// Empties a set that holds at most one id (as
    /// [`is_empty_or_only`](Self::is_empty_or_only) has just said).
    #[inline]
    pub(crate) fn clear_one(&mut self) {
        debug_assert!(self.rest.is_empty());
        // Tested, not stored blindly: after the test just made, an empty set (the
        // common case) costs nothing here.
        if self.first != NO_CONN {
            self.first = NO_CONN;
        }
    }

    pub(crate) fn remove(&mut self, conn: &ConnId) {
        if self.first == *conn {
            self.pop_first();
        } else if let Ok(at) = self.rest.binary_search(conn) {
            self.rest.remove(at);
        }
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &ConnId> {
        let first = (self.first != NO_CONN).then_some(&self.first);
        first.into_iter().chain(self.rest.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::flow::{HIGH_WATER_MARK, ProducerKind};
    use crate::host::{ConnectError, Host, HostContext, ListenerId, Node, Program};
    use crate::time::Instant;
    use crate::transport::{Disconnect, ipv4};

    #[test]
    fn a_connections_flag_and_hot_transport_fields_share_its_first_cache_line() {
        let start = std::mem::offset_of!(HostConn, transport);
        assert!(start + TransportState::HOT_BYTES <= 64);
        assert_eq!(align_of::<HostConn>(), 64);
    }

    #[test]
    fn conn_set_keeps_ids_once_and_lowest_first() {
        let mut set = ConnSet::default();
        for id in [3, 5, 5, 1, 4, 3, 9, 0] {
            set.insert(ConnId(id));
        }
        set.remove(&ConnId(4));
        set.remove(&ConnId(7));
        set.remove(&ConnId(0));
        let ids: Vec<u64> = set.iter().map(|c| c.0).collect();
        assert_eq!(ids, [1, 3, 5, 9]);
        assert_eq!(set.pop_first(), Some(ConnId(1)));
        assert_eq!(set.pop_first(), Some(ConnId(3)));
        set.insert(ConnId(2));
        let ids: Vec<u64> = std::iter::from_fn(|| set.pop_first())
            .map(|c| c.0)
            .collect();
        assert_eq!(ids, [2, 5, 9]);
        assert_eq!(set.pop_first(), None);
        assert!(set.is_empty());
        assert!(set.is_empty_or_only(ConnId(4)) && !set.is_only(ConnId(4)));
        set.insert(ConnId(4));
        assert!(!set.is_empty());
        assert!(set.is_empty_or_only(ConnId(4)) && set.is_only(ConnId(4)));
        assert!(!set.is_empty_or_only(ConnId(3)));
        set.insert(ConnId(6));
        assert!(!set.is_empty_or_only(ConnId(4)) && !set.is_only(ConnId(4)));
        set.remove(&ConnId(4));
        assert_eq!(set.iter().collect::<Vec<_>>(), [&ConnId(6)]);
        set.clear_one();
        assert_eq!(set.pop_first(), None);
    }

    /// A push producer on every connection; data on one fills the other's queue past
    /// the high-water mark, then its own.
    #[derive(Default)]
    struct Fanout {
        heard: Vec<(u64, &'static str)>,
    }

    impl Program for Fanout {
        type Timer = ();
        fn start(&mut self, _: &mut HostContext<'_, ()>) {}
        fn connection_made(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId) {
            cx.register_producer(conn, ProducerKind::Push).unwrap();
        }
        fn data_received(&mut self, cx: &mut HostContext<'_, ()>, conn: ConnId, _: &[u8]) {
            let full = vec![0; HIGH_WATER_MARK + 1];
            cx.write(ConnId(1 - conn.0), &full);
            cx.write(conn, &full);
        }
        fn connection_lost(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: Disconnect) {}
        fn connect_failed(&mut self, _: &mut HostContext<'_, ()>, _: ConnId, _: ConnectError) {}
        fn pause_producing(&mut self, _: &mut HostContext<'_, ()>, conn: ConnId) {
            self.heard.push((conn.0, "pause"));
        }
        fn resume_producing(&mut self, _: &mut HostContext<'_, ()>, conn: ConnId) {
            self.heard.push((conn.0, "resume"));
        }
    }

    #[test]
    fn notices_of_a_callback_go_to_the_connections_it_touched_lowest_id_first() {
        let mut host = Host::new(Fanout::default());
        let now = Instant::ZERO;
        host.start(now);
        let (local, peer) = (ipv4(10, 0, 0, 1, 80), ipv4(10, 0, 0, 2, 5000));
        let a = host.handle_accepted(now, ListenerId(0), local, peer);
        let b = host.handle_accepted(now, ListenerId(0), local, peer);
        assert_eq!((a, b), (ConnId(0), ConnId(1)));
        while host.poll_dirty().is_some() {}

        // Touches b, then a: the notices still go to a first.
        host.handle_data(now, b, b"x");
        assert_eq!(host.program().heard, [(0, "pause"), (1, "pause")]);
        let dirty: Vec<ConnId> = std::iter::from_fn(|| host.poll_dirty()).collect();
        assert_eq!(dirty, [a, b]);

        // A drained queue resumes its producer from inside the poll; a call that touches
        // nothing delivers nothing.
        let mut out = VecDeque::new();
        let poll = host.poll_conn(now, b, usize::MAX, &mut out);
        assert_eq!((poll.moved, poll.left), (HIGH_WATER_MARK + 1, 0));
        assert_eq!(host.program().heard.last(), Some(&(1, "resume")));
        host.handle_timeout(now);
        assert_eq!(host.program().heard.len(), 3);
        assert_eq!(
            host.poll_dirty(),
            Some(b),
            "the resumed producer's connection"
        );
    }
}
