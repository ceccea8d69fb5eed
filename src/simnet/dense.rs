//! A map from dense integer ids to values: a vector of slots indexed by `id - base`.
//!
//! SimNet's ids (connections, a host's connection ids) are handed out in sequence and
//! mostly retired in the order they were made, so a vector whose retired front is let
//! go now and then keeps lookups at one subtraction and one bounds check, holds about
//! the span of live ids, and iterates in id order by construction.

use crate::host::ConnId;

/// Retired slots at the front are let go once there are this many and they are at
/// least half of all slots (so letting go costs O(1) per removal, amortized).
const TRIM_AT: usize = 64;

/// Values by dense `u64` id, iterated in id order.
#[derive(Debug)]
pub(crate) struct DenseMap<V> {
    /// The id of `slots[0]`.
    base: u64,
    slots: Vec<Option<V>>,
    /// Slots before this index are all empty.
    head: usize,
    len: usize,
}

impl<V> Default for DenseMap<V> {
    fn default() -> Self {
        Self {
            base: 0,
            slots: Vec::new(),
            head: 0,
            len: 0,
        }
    }
}

impl<V> DenseMap<V> {
    /// How many ids hold a value.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot of `id`, if in range (an id below `base` wraps around to far out of it).
    #[inline]
    fn slot(&self, id: u64) -> Option<usize> {
        let i = id.wrapping_sub(self.base);
        (i < self.slots.len() as u64).then_some(i as usize)
    }

    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<&V> {
        self.slots.get(self.slot(id)?)?.as_ref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        let i = self.slot(id)?;
        self.slots.get_mut(i)?.as_mut()
    }

    pub(crate) fn contains_key(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    /// Sets `id`'s value, returning the one it replaces.
    pub(crate) fn insert(&mut self, id: u64, value: V) -> Option<V> {
        if self.len == 0 {
            self.slots.clear();
            self.head = 0;
            self.base = id;
        }
        if id < self.base {
            let gap = usize::try_from(self.base - id).expect("ids stay dense");
            self.slots
                .splice(0..0, std::iter::repeat_with(|| None).take(gap));
            self.head = 0;
            self.base = id;
        }
        let i = usize::try_from(id - self.base).expect("ids stay dense");
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots[i].replace(value);
        if old.is_none() {
            self.len += 1;
            self.head = self.head.min(i);
        }
        old
    }

    /// Takes `id`'s value out; empty slots at the back are let go at once, those at
    /// the front in batches.
    pub(crate) fn remove(&mut self, id: u64) -> Option<V> {
        let i = self.slot(id)?;
        let old = self.slots[i].take()?;
        self.len -= 1;
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        self.head = self.head.min(self.slots.len());
        while self.slots.get(self.head).is_some_and(Option::is_none) {
            self.head += 1;
        }
        if self.head >= TRIM_AT && self.head * 2 >= self.slots.len() {
            self.slots.drain(..self.head);
            self.base += self.head as u64;
            self.head = 0;
        }
        Some(old)
    }

    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.head = 0;
        self.len = 0;
    }

    /// (id, value) in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        let base = self.base;
        (self.slots.iter().enumerate().skip(self.head))
            .filter_map(move |(i, v)| Some((base + i as u64, v.as_ref()?)))
    }

    /// The values, mutably, in id order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        let head = self.head;
        self.slots[head..].iter_mut().filter_map(Option::as_mut)
    }
}

/// Each host's connection ids (of its current incarnation) to the network's
/// connection and end: what a host's `poll_dirty` answer is looked up in.
#[derive(Debug, Default)]
pub(crate) struct EndIndex {
    /// Per host: the incarnation the entries belong to, and the entries.
    hosts: Vec<(u32, DenseMap<(u64, usize)>)>,
}

/// A host, its incarnation, and the host's id for a connection.
pub(crate) type EndKey = (usize, u32, ConnId);

impl EndIndex {
    #[inline]
    pub(crate) fn get(&self, &(h, incarnation, conn): &EndKey) -> Option<&(u64, usize)> {
        match self.hosts.get(h)? {
            (inc, ends) if *inc == incarnation => ends.get(conn.0),
            _ => None,
        }
    }

    /// Records an end; entries of an older incarnation of the host are let go.
    pub(crate) fn insert(&mut self, (h, incarnation, conn): EndKey, end: (u64, usize)) {
        if self.hosts.len() <= h {
            self.hosts.resize_with(h + 1, Default::default);
        }
        let (inc, ends) = &mut self.hosts[h];
        if *inc != incarnation {
            ends.clear();
            *inc = incarnation;
        }
        ends.insert(conn.0, end);
    }

    pub(crate) fn remove(&mut self, &(h, incarnation, conn): &EndKey) -> Option<(u64, usize)> {
        match self.hosts.get_mut(h)? {
            (inc, ends) if *inc == incarnation => ends.remove(conn.0),
            _ => None,
        }
    }

    /// Host `h`'s ends, in the order of its connection ids.
    pub(crate) fn ends_of(&self, h: usize) -> Vec<(u64, usize)> {
        self.hosts
            .get(h)
            .map(|(_, ends)| ends.iter().map(|(_, &end)| end).collect())
            .unwrap_or_default()
    }

    /// Forgets every end of host `h`.
    pub(crate) fn clear_host(&mut self, h: usize) {
        if let Some((_, ends)) = self.hosts.get_mut(h) {
            ends.clear();
        }
    }
}

impl<V> std::ops::Index<u64> for DenseMap<V> {
    type Output = V;

    fn index(&self, id: u64) -> &V {
        self.get(id).expect("the id holds a value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_map_keeps_id_order_and_lets_go_of_retired_ids() {
        let mut map = DenseMap::default();
        for id in 3..8 {
            map.insert(id, id * 10);
        }
        assert_eq!(map.remove(3), Some(30));
        assert_eq!(map.remove(5), Some(50));
        assert_eq!(map.get(5), None);
        assert_eq!(map.get(4), Some(&40));
        map.insert(1, 10);
        let all: Vec<_> = map.iter().map(|(id, &v)| (id, v)).collect();
        assert_eq!(all, [(1, 10), (4, 40), (6, 60), (7, 70)]);
        assert_eq!(map.len(), 4);
        for id in [1, 4, 6, 7] {
            map.remove(id);
        }
        assert_eq!(map.len(), 0);
        assert!(map.slots.is_empty(), "no slots kept for retired ids");
        assert_eq!(map.get(u64::MAX), None);
    }

    #[test]
    fn dense_map_lets_go_of_a_long_retired_front_and_keeps_finding_the_rest() {
        let mut map = DenseMap::default();
        for id in 0..1000 {
            map.insert(id, id);
        }
        for id in 0..900 {
            assert_eq!(map.remove(id), Some(id));
        }
        assert!(map.slots.len() < 200, "{} slots kept", map.slots.len());
        assert_eq!(map.get(899), None);
        assert_eq!(map.get(900), Some(&900));
        assert_eq!(map.iter().map(|(id, _)| id).next(), Some(900));
        map.insert(5, 5);
        assert_eq!(map.get(5), Some(&5));
        assert_eq!(map.get(999), Some(&999));
        assert_eq!(map.len(), 101);
        assert_eq!(map.values_mut().count(), 101);
        for id in (900..1000).chain([5]) {
            assert_eq!(map.remove(id), Some(id));
        }
        assert_eq!((map.len(), map.slots.len()), (0, 0));
        for id in 0..200 {
            map.insert(id, id);
        }
        for id in 0..200 {
            map.remove(id);
        }
        assert_eq!((map.len(), map.slots.len()), (0, 0));
    }
}
