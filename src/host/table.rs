//! [`ConnMap`]: values keyed by a host's [`ConnId`]s, in a table indexed by the id.

use std::collections::BTreeMap;
use std::fmt;

use super::ConnId;

/// Fewest empty slots worth moving old values aside for (see [`ConnMap`]).
const SPARSE_SLACK: usize = 32;

/// A map from a host's connection ids to values, iterated in id order.
///
/// A host hands its [`ConnId`]s out in sequence and its connections mostly end in the
/// order they were made, so the ids in use form a window that slides forward. The map
/// keeps that window in a vector of slots indexed by `id - base`: a lookup is a
/// subtraction, a bounds check and an index, not a walk down a tree, and iteration is
/// in id order by construction. The slots of ended connections at the window's front
/// are let go in batches (so sliding costs no shifting per removal). A value whose id
/// falls far behind the others' (one long-lived connection among many short ones) is
/// moved aside into an ordered map, so the window never holds more than about twice as
/// many slots as it has values.
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
// What a lookup reads comes last, to sit beside what its owner reads next: the slots'
// pointer and length (a `Vec`'s last two words) and the base.
#[repr(C)]
pub struct ConnMap<V> {
    /// Values in `slots`.
    in_ring: usize,
    /// Values whose ids are below the window, moved out of a window that had grown
    /// sparse.
    old: BTreeMap<u64, V>,
    /// `slots[..front]` are empty and outside the window: let go of in batches. Every
    /// id in `old` is below the window (but may be at or above `base`).
    front: usize,
    slots: Vec<Option<V>>,
    /// The id of `slots[0]`.
    base: u64,
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
            slots: Vec::new(),
            front: 0,
            in_ring: 0,
            old: BTreeMap::new(),
        }
    }

    /// Where `slots` is in the map, for tests of its owners' layout.
    #[cfg(test)]
    pub(crate) const SLOTS_OFFSET: usize = std::mem::offset_of!(Self, slots);

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
        // Below the vector's length, so it fits a usize.
        if i < self.slots.len() as u64
            && let Some(value) = &self.slots[i as usize]
        {
            return Some(value);
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
        if i < self.slots.len() as u64 && self.slots[i as usize].is_some() {
            return self.slots[i as usize].as_mut();
        }
        if self.old.is_empty() {
            return None;
        }
        self.old.get_mut(&conn.0)
    }

    /// The value of `conn`, if it is in the window, and the map without it: the other
    /// values, found by id as in the map while the lent one is borrowed.
    #[inline(always)]
    pub(crate) fn lend(&mut self, conn: ConnId) -> Option<(&mut V, LentMap<'_, V>)> {
        let i = conn.0.wrapping_sub(self.base);
        if i >= self.slots.len() as u64 {
            return None;
        }
        let (below, rest) = self.slots.split_at_mut(i as usize);
        let (slot, above) = rest.split_first_mut()?;
        let value = slot.as_mut()?;
        let others = LentMap {
            base: self.base,
            below,
            above,
            old: &mut self.old,
        };
        Some((value, others))
    }

    /// The whole map as a [`LentMap`] with nothing lent out.
    #[inline(always)]
    pub(crate) fn lend_none(&mut self) -> LentMap<'_, V> {
        LentMap {
            base: self.base,
            below: &mut self.slots,
            above: Default::default(),
            old: &mut self.old,
        }
    }

    /// Whether `conn` has a value.
    pub fn contains_key(&self, conn: ConnId) -> bool {
        self.get(conn).is_some()
    }

    /// The id of the window's first slot.
    fn window_base(&self) -> u64 {
        self.base + self.front as u64
    }

    /// Slots in the window.
    fn window_len(&self) -> usize {
        self.slots.len() - self.front
    }

    /// Sets the value of `conn`, returning the one it replaces.
    pub fn insert(&mut self, conn: ConnId, value: V) -> Option<V> {
        let id = conn.0;
        let above_old = self.old.last_key_value().is_none_or(|(&last, _)| last < id);
        if self.window_len() == 0 && above_old {
            self.slots.clear();
            self.front = 0;
            self.base = id;
        }
        if id < self.window_base() {
            // An id older than the window's: a connect answered after later ones. Grow
            // the window down to it if that keeps it dense, else keep it aside.
            let gap = self.window_base() - id;
            let dense = gap <= (self.window_len() + SPARSE_SLACK) as u64;
            if !(dense && above_old) {
                return self.old.insert(id, value);
            }
            if id < self.base {
                self.make_room_below(id);
            }
            self.front = usize::try_from(id - self.base).expect("within the slots");
        }
        let i = usize::try_from(id - self.base).expect("connection ids fit in memory");
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots[i].replace(value);
        if old.is_none() {
            self.in_ring += 1;
        }
        old
    }

    /// Adds empty slots before the first so that `id` has one: at least as many as
    /// there are, so that ids arriving in falling order cost amortized O(1) each.
    #[cold]
    fn make_room_below(&mut self, id: u64) {
        let needed = usize::try_from(self.base - id).expect("a dense gap fits in memory");
        let added = needed.max(self.slots.len()).max(8);
        let added = added.min(usize::try_from(self.base).unwrap_or(usize::MAX));
        self.slots
            .splice(0..0, std::iter::repeat_with(|| None).take(added));
        self.front += added;
        self.base -= added as u64;
    }

    /// Takes the value of `conn` out.
    pub fn remove(&mut self, conn: ConnId) -> Option<V> {
        let i = conn.0.wrapping_sub(self.base);
        let slot = usize::try_from(i).ok().and_then(|i| self.slots.get_mut(i));
        let Some(value) = slot.and_then(Option::take) else {
            return self.old.remove(&conn.0);
        };
        self.in_ring -= 1;
        self.trim();
        if self.window_len() > 2 * self.in_ring + 2 * SPARSE_SLACK {
            self.move_old_aside();
        }
        Some(value)
    }

    /// Lets go of empty slots at both ends of the window: at the back at once, at the
    /// front by moving the window's start, and the slots before it once they are
    /// most of the vector.
    fn trim(&mut self) {
        while self.slots.len() > self.front && matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        while self.front < self.slots.len() && self.slots[self.front].is_none() {
            self.front += 1;
        }
        if self.front == self.slots.len() {
            self.base += self.front as u64;
            self.slots.clear();
            self.front = 0;
        } else if self.front > SPARSE_SLACK && self.front * 4 > self.slots.len() * 3 {
            self.slots.drain(..self.front);
            self.base += self.front as u64;
            self.front = 0;
        }
    }

    /// The window is mostly empty slots: moves the values at its front aside until it
    /// is dense again. Each slot leaves the window once, so this is paid for by the
    /// removals that emptied it.
    #[cold]
    fn move_old_aside(&mut self) {
        while self.window_len() > 2 * self.in_ring + SPARSE_SLACK {
            if let Some(value) = self.slots[self.front].take() {
                self.old.insert(self.window_base(), value);
                self.in_ring -= 1;
            }
            self.front += 1;
        }
        self.trim();
    }

    /// The connection with the highest id, and its value.
    pub fn last(&self) -> Option<(ConnId, &V)> {
        let in_ring = (self.slots.iter().enumerate().rev())
            .find_map(|(i, v)| Some((ConnId(self.base + i as u64), v.as_ref()?)));
        in_ring.or_else(|| self.old.last_key_value().map(|(&id, v)| (ConnId(id), v)))
    }

    /// Every connection and its value, lowest id first.
    pub fn iter(&self) -> impl Iterator<Item = (ConnId, &V)> {
        let base = self.window_base();
        let ring = (self.slots[self.front..].iter().enumerate())
            .filter_map(move |(i, v)| Some((ConnId(base + i as u64), v.as_ref()?)));
        (self.old.iter().map(|(&id, v)| (ConnId(id), v))).chain(ring)
    }

    /// Every connection and its value, mutably, lowest id first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut V)> {
        let base = self.window_base();
        let ring = (self.slots[self.front..].iter_mut().enumerate())
            .filter_map(move |(i, v)| Some((ConnId(base + i as u64), v.as_mut()?)));
        (self.old.iter_mut().map(|(&id, v)| (ConnId(id), v))).chain(ring)
    }

    /// The connections that have a value, lowest id first.
    pub fn keys(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.iter().map(|(conn, _)| conn)
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.front = 0;
        self.in_ring = 0;
        self.old.clear();
    }
}

/// A [`ConnMap`] with the value of one slot lent out ([`ConnMap::lend`]), or none
/// ([`ConnMap::lend_none`]): the others, found by id as in the map.
pub(crate) struct LentMap<'a, V> {
    /// The id of `below[0]`; the lent value's is the one after `below`'s last.
    base: u64,
    below: &'a mut [Option<V>],
    /// The slots after the lent one.
    above: &'a mut [Option<V>],
    old: &'a mut BTreeMap<u64, V>,
}

impl<V> LentMap<'_, V> {
    /// The slot `conn` would have, if not the lent one: the index into `below`, or
    /// into `above` with `true`.
    #[inline(always)]
    fn slot(&self, conn: ConnId) -> Option<(bool, usize)> {
        let i = conn.0.wrapping_sub(self.base);
        let below = self.below.len() as u64;
        if i < below {
            return Some((false, i as usize));
        }
        // The lent slot's id wraps to `u64::MAX`, past any length.
        let j = i.wrapping_sub(below + 1);
        (j < self.above.len() as u64).then_some((true, j as usize))
    }

    /// The value of `conn`, unless it is the lent one.
    #[inline]
    pub(crate) fn get(&self, conn: ConnId) -> Option<&V> {
        let slot = match self.slot(conn) {
            Some((false, i)) => &self.below[i],
            Some((true, j)) => &self.above[j],
            None => &None,
        };
        if let Some(value) = slot {
            return Some(value);
        }
        if self.old.is_empty() {
            return None;
        }
        self.old.get(&conn.0)
    }

    /// The value of `conn`, mutably, unless it is the lent one.
    #[inline]
    pub(crate) fn get_mut(&mut self, conn: ConnId) -> Option<&mut V> {
        match self.slot(conn) {
            Some((false, i)) if self.below[i].is_some() => self.below[i].as_mut(),
            Some((true, j)) if self.above[j].is_some() => self.above[j].as_mut(),
            _ if self.old.is_empty() => None,
            _ => self.old.get_mut(&conn.0),
        }
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
        assert!(map.slots.is_empty(), "no slots kept for retired ids");
        map.insert(ConnId(20), ());
        assert_eq!(map.slots.len(), 1);
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
            map.window_len() < 3 * SPARSE_SLACK,
            "{} slots",
            map.window_len()
        );
        assert!(
            map.slots.len() < 8 * SPARSE_SLACK,
            "{} slots kept",
            map.slots.len()
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

    #[test]
    fn ids_answered_in_falling_order_grow_the_window_down_without_reshuffling_each() {
        let mut map = ConnMap::new();
        for id in (1..=1_000u64).rev() {
            map.insert(ConnId(id), id);
        }
        assert_eq!(map.len(), 1_000);
        assert!(map.old.is_empty(), "a dense window, nothing aside");
        assert!(map.slots.len() <= 2_048, "{} slots", map.slots.len());
        assert_eq!(ids(&map), (1..=1_000).collect::<Vec<_>>());
        assert_eq!(map.get(ConnId(1)), Some(&1));
        assert_eq!(map.get(ConnId(0)), None);
    }

    #[test]
    fn a_lent_map_finds_every_value_but_the_lent_one() {
        let mut map = ConnMap::new();
        for id in (1_000..1_010).chain([7, 999, 1_012]) {
            map.insert(ConnId(id), id);
        }
        map.remove(ConnId(1_003));
        let ids = 0..1_020;
        let model: Vec<Option<u64>> = ids.clone().map(|id| map.get(ConnId(id)).copied()).collect();
        let mut others = map.lend_none();
        for (id, want) in ids.clone().zip(&model) {
            assert_eq!(others.get(ConnId(id)), want.as_ref(), "c{id}, nothing lent");
            assert_eq!(others.get_mut(ConnId(id)).copied(), *want);
        }
        for lent in ids.clone() {
            let Some((value, mut others)) = map.lend(ConnId(lent)) else {
                // Only values in the window are lent: not 7's (kept aside).
                assert!(lent == 7 || model[lent as usize].is_none(), "c{lent}");
                continue;
            };
            assert_eq!(*value, lent);
            for (id, want) in ids.clone().zip(&model) {
                let want = want.filter(|_| id != lent);
                assert_eq!(others.get(ConnId(id)), want.as_ref(), "c{id}, c{lent} lent");
                assert_eq!(others.get_mut(ConnId(id)).copied(), want);
            }
        }
    }

    /// Random inserts and removes, ids mostly rising, against a `BTreeMap`.
    #[test]
    fn agrees_with_an_ordered_map_under_random_use() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut map = ConnMap::new();
        let mut model = BTreeMap::new();
        let mut newest = 0u64;
        for step in 0..20_000u64 {
            let r = next();
            match r % 8 {
                0..=2 => {
                    newest += 1 + r % 3;
                    assert_eq!(map.insert(ConnId(newest), step), model.insert(newest, step));
                }
                3 => {
                    // An old connect answered late.
                    let id = newest.saturating_sub(r % 200);
                    assert_eq!(map.insert(ConnId(id), step), model.insert(id, step));
                }
                4..=6 => {
                    // Mostly the oldest end first.
                    let id = match model.keys().next() {
                        Some(&first) if r % 5 != 0 => first,
                        _ => newest.saturating_sub(r % 64),
                    };
                    let in_window = id >= map.window_base();
                    let removed = map.remove(ConnId(id));
                    assert_eq!(removed, model.remove(&id));
                    if in_window && removed.is_some() {
                        // A removal keeps the window dense.
                        assert!(
                            map.window_len() <= 2 * map.in_ring + 2 * SPARSE_SLACK,
                            "{} slots in the window for {} values",
                            map.window_len(),
                            map.in_ring
                        );
                    }
                }
                _ => {
                    let id = newest.saturating_sub(r % 300);
                    assert_eq!(map.get(ConnId(id)), model.get(&id));
                }
            }
            assert_eq!(map.len(), model.len());
            assert!(map.slots.len() <= 4 * map.window_len() + 4 * SPARSE_SLACK);
        }
        let ours: Vec<(u64, u64)> = map.iter().map(|(c, &v)| (c.0, v)).collect();
        let theirs: Vec<(u64, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
        assert_eq!(ours, theirs);
    }
}
