//! [`ConnMap`]: values keyed by a host's [`ConnId`]s, in a table indexed by the id.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use super::ConnId;

/// Fewest empty slots worth moving old values aside for (see [`ConnMap`]).
const SPARSE_SLACK: usize = 32;

/// A map from a host's connection ids to values, iterated in id order.
///
/// A host hands its [`ConnId`]s out in sequence and its connections mostly end in the
/// order they were made, so the ids in use form a window that slides forward. The map
/// keeps that window as a ring of slots indexed by `id - base`: a lookup is a
/// subtraction and an index, not a walk down a tree, and iteration is in id order by
/// construction. A value whose id falls far behind the others' (one long-lived
/// connection among many short ones) is moved aside into an ordered map, so the ring
/// never holds more than about twice as many slots as it has values.
///
/// ```
/// use weft::host::{ConnId, ConnMap};
///
/// let mut requests = ConnMap::new();
/// requests.insert(ConnId(3), "GET /a");
/// requests.insert(ConnId(4), "GET /b");
/// requests.insert(ConnId(5), "GET /c");
/// assert_eq!(requests.remove(ConnId(4)), Some("GET /b"));
/// assert_eq!(requests.get(ConnId(5)), Some(&"GET /c"));
/// let ids: Vec<u64> = requests.keys().map(|c| c.0).collect();
/// assert_eq!(ids, [3, 5]);
/// ```
// What a lookup reads comes last, to sit beside what its owner reads next.
#[repr(C)]
pub struct ConnMap<V> {
    /// Values in `ring`.
    in_ring: usize,
    /// Values whose ids are below `base`, moved out of a ring that had grown sparse.
    old: BTreeMap<u64, V>,
    /// The id of `ring[0]`.
    base: u64,
    ring: VecDeque<Option<V>>,
}

impl<V> Default for ConnMap<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: fmt::Debug> fmt::Debug for ConnMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> ConnMap<V> {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            base: 0,
            ring: VecDeque::new(),
            in_ring: 0,
            old: BTreeMap::new(),
        }
    }

    /// How many connections have a value.
    pub fn len(&self) -> usize {
        self.in_ring + self.old.len()
    }

    /// Whether no connection has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `conn`.
    #[inline]
    pub fn get(&self, conn: ConnId) -> Option<&V> {
        let i = conn.0.wrapping_sub(self.base);
        if i < self.ring.len() as u64 {
            // Below the ring's length, so it fits a usize.
            return self.ring[i as usize].as_ref();
        }
        if self.old.is_empty() {
            return None;
        }
        self.old.get(&conn.0)
    }

    /// The value of `conn`, mutably.
    #[inline]
    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut V> {
        let i = conn.0.wrapping_sub(self.base);
        if i < self.ring.len() as u64 {
            return self.ring[i as usize].as_mut();
        }
        if self.old.is_empty() {
            return None;
        }
        self.old.get_mut(&conn.0)
    }

    /// Whether `conn` has a value.
    pub fn contains_key(&self, conn: ConnId) -> bool {
        self.get(conn).is_some()
    }

    /// Sets the value of `conn`, returning the one it replaces.
    pub fn insert(&mut self, conn: ConnId, value: V) -> Option<V> {
        let id = conn.0;
        let above_old = self.old.last_key_value().is_none_or(|(&last, _)| last < id);
        if self.ring.is_empty() && above_old {
            self.base = id;
        }
        if id < self.base {
            // An id older than the ring's: a connect answered after later ones. Grow
            // the ring down to it if that keeps it dense, else keep it aside.
            let gap = self.base - id;
            let dense = gap <= (self.ring.len() + SPARSE_SLACK) as u64;
            if !(dense && above_old) {
                return self.old.insert(id, value);
            }
            for _ in 0..gap {
                self.ring.push_front(None);
            }
            self.base = id;
        }
        let i = usize::try_from(id - self.base).expect("connection ids fit in memory");
        if i >= self.ring.len() {
            self.ring.resize_with(i + 1, || None);
        }
        let old = self.ring[i].replace(value);
        if old.is_none() {
            self.in_ring += 1;
        }
        old
    }

    /// Takes the value of `conn` out.
    pub fn remove(&mut self, conn: ConnId) -> Option<V> {
        let i = conn.0.wrapping_sub(self.base);
        if i >= self.ring.len() as u64 {
            return self.old.remove(&conn.0);
        }
        let value = self.ring[i as usize].take()?;
        self.in_ring -= 1;
        self.trim();
        if self.ring.len() > 2 * self.in_ring + 2 * SPARSE_SLACK {
            self.move_old_aside();
        }
        Some(value)
    }

    /// Lets go of empty slots at both ends of the ring.
    fn trim(&mut self) {
        while matches!(self.ring.front(), Some(None)) {
            self.ring.pop_front();
            self.base += 1;
        }
        while matches!(self.ring.back(), Some(None)) {
            self.ring.pop_back();
        }
    }

    /// The ring is mostly empty slots: moves the values at its front aside until it is
    /// dense again. Each slot leaves the ring once, so this is paid for by the removals
    /// that emptied it.
    #[cold]
    fn move_old_aside(&mut self) {
        while self.ring.len() > 2 * self.in_ring + SPARSE_SLACK {
            let Some(slot) = self.ring.pop_front() else {
                break;
            };
            if let Some(value) = slot {
                self.old.insert(self.base, value);
                self.in_ring -= 1;
            }
            self.base += 1;
        }
        self.trim();
    }

    /// The connection with the highest id, and its value.
    pub fn last(&self) -> Option<(ConnId, &V)> {
        let in_ring = (self.ring.iter().enumerate().rev())
            .find_map(|(i, v)| Some((ConnId(self.base + i as u64), v.as_ref()?)));
        in_ring.or_else(|| self.old.last_key_value().map(|(&id, v)| (ConnId(id), v)))
    }

    /// Every connection and its value, lowest id first.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &V)> {
        let base = self.base;
        let ring = (self.ring.iter().enumerate())
            .filter_map(move |(i, v)| Some((ConnId(base + i as u64), v.as_ref()?)));
        (self.old.iter().map(|(&id, v)| (ConnId(id), v))).chain(ring)
    }

    /// Every connection and its value, mutably, lowest id first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut V)> {
        let base = self.base;
        let ring = (self.ring.iter_mut().enumerate())
            .filter_map(move |(i, v)| Some((ConnId(base + i as u64), v.as_mut()?)));
        (self.old.iter_mut().map(|(&id, v)| (ConnId(id), v))).chain(ring)
    }

    /// The connections that have a value, lowest id first.
    pub fn keys(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.iter().map(|(conn, _)| conn)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.ring.clear();
        self.in_ring = 0;
        self.old.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids<V>(map: &ConnMap<V>) -> Vec<u64> {
        map.keys().map(|c| c.0).collect()
    }

    #[test]
    fn keeps_id_order_whatever_the_insertion_order() {
        let mut map = ConnMap::new();
        for id in [5, 3, 9, 4, 0] {
            assert_eq!(map.insert(ConnId(id), id * 10), None);
        }
        assert_eq!(map.insert(ConnId(9), 99), Some(90));
        assert_eq!(ids(&map), [0, 3, 4, 5, 9]);
        assert_eq!(map.len(), 5);
        assert_eq!(map.last(), Some((ConnId(9), &99)));
        assert_eq!(map.get(ConnId(1)), None);
        assert_eq!(map.get(ConnId(u64::MAX)), None);
    }

    #[test]
    fn lets_go_of_the_slots_of_ended_connections() {
        let mut map = ConnMap::new();
        for id in 10..20 {
            map.insert(ConnId(id), ());
        }
        for id in 10..20 {
            map.remove(ConnId(id));
        }
        assert!(map.is_empty());
        assert!(map.ring.is_empty(), "no slots kept for retired ids");
        map.insert(ConnId(20), ());
        assert_eq!(map.ring.len(), 1);
    }

    #[test]
    fn one_long_lived_connection_does_not_hold_the_ring_open() {
        let mut map = ConnMap::new();
        map.insert(ConnId(0), "long-lived");
        for id in 1..100_000 {
            map.insert(ConnId(id), "short");
            if id > 3 {
                assert_eq!(map.remove(ConnId(id - 3)), Some("short"));
            }
        }
        assert!(
            map.ring.len() < 3 * SPARSE_SLACK,
            "{} slots",
            map.ring.len()
        );
        assert_eq!(map.get(ConnId(0)), Some(&"long-lived"));
        assert_eq!(ids(&map), [0, 99_997, 99_998, 99_999]);
        assert_eq!(map.remove(ConnId(0)), Some("long-lived"));
        assert_eq!(ids(&map), [99_997, 99_998, 99_999]);
    }

    #[test]
    fn an_id_far_below_the_ring_is_kept_aside_and_found() {
        let mut map = ConnMap::new();
        for id in 1_000..1_010 {
            map.insert(ConnId(id), id);
        }
        map.insert(ConnId(7), 7);
        map.insert(ConnId(999), 999);
        assert_eq!(map.get(ConnId(7)), Some(&7));
        *map.get_mut(ConnId(7)).unwrap() += 1;
        assert_eq!(
            map.iter()
                .map(|(c, &v)| (c.0, v))
                .take(3)
                .collect::<Vec<_>>(),
            [(7, 8), (999, 999), (1_000, 1_000)]
        );
        assert_eq!(map.len(), 12);
        assert_eq!(map.remove(ConnId(7)), Some(8));
        assert_eq!(map.remove(ConnId(7)), None);
        assert_eq!(map.len(), 11);
    }
}
