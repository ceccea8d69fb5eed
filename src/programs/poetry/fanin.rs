//! [`FanIn`]: the results of a fan-out, one slot per item, in input order — weft's form
//! of Twisted's `DeferredList`.
//!
//! A `DeferredList(ds, consumeErrors=True)` waits for every deferred, never
//! short-circuits on a failure, and fires with `[(success, value), ...]` in the order of
//! the *list*, not of firing. `FanIn` is that, minus the callbacks: the owner settles
//! item `i` once with `Ok` or `Err`, and asks whether it is done. Errors are values
//! here, so there is nothing to "consume". The `fireOnOneCallback` and
//! `fireOnOneErrback` variants are [`FireOn::FirstSuccess`] and [`FireOn::FirstFailure`].

/// Why a result could not be recorded.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SettleError {
    /// The item already has its result: every item ends exactly once.
    #[error("item {0} was already settled")]
    AlreadySettled(usize),
    /// There is no such item.
    #[error("no item {0}")]
    NoSuchItem(usize),
}

/// When a fan-in counts as fired (the `DeferredList` flags).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum FireOn {
    /// When every item has settled (the default). An empty fan-in has fired already.
    #[default]
    All,
    /// When some item succeeds (`fireOnOneCallback`); when all have settled without a
    /// success, like `All`. An empty fan-in never fires, as in Twisted.
    FirstSuccess,
    /// When some item fails (`fireOnOneErrback`); when all have succeeded, like `All`.
    FirstFailure,
}

/// What a fan-in fired with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fired {
    /// Every item settled: read them with [`FanIn::results`].
    All,
    /// This item was the first to succeed.
    Success(usize),
    /// This item was the first to fail.
    Failure(usize),
}

/// Per-item results of a fan-out, in input order. See the module docs.
#[derive(Clone, Debug)]
pub struct FanIn<T, E> {
    slots: Vec<Option<Result<T, E>>>,
    /// Item indices in the order they settled.
    order: Vec<usize>,
}

impl<T, E> FanIn<T, E> {
    /// A fan-in of `len` unsettled items.
    pub fn new(len: usize) -> Self {
        Self {
            slots: std::iter::repeat_with(|| None).take(len).collect(),
            order: Vec::with_capacity(len),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no items at all.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Records item `index`'s result. A second result for the same item is refused and
    /// leaves the first in place.
    pub fn settle(&mut self, index: usize, result: Result<T, E>) -> Result<(), SettleError> {
        let slot = self
            .slots
            .get_mut(index)
            .ok_or(SettleError::NoSuchItem(index))?;
        if slot.is_some() {
            return Err(SettleError::AlreadySettled(index));
        }
        *slot = Some(result);
        self.order.push(index);
        Ok(())
    }

    /// Whether item `index` has its result.
    pub fn is_settled(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(Option::is_some)
    }

    /// Item `index`'s result, if settled.
    pub fn get(&self, index: usize) -> Option<&Result<T, E>> {
        self.slots.get(index)?.as_ref()
    }

    /// Items still unsettled.
    pub fn pending(&self) -> usize {
        self.slots.len() - self.order.len()
    }

    /// Whether every item has settled.
    pub fn is_done(&self) -> bool {
        self.pending() == 0
    }

    /// Item indices in the order they settled.
    pub fn settle_order(&self) -> &[usize] {
        &self.order
    }

    /// The first item (in time) to succeed, with its value.
    pub fn first_success(&self) -> Option<(usize, &T)> {
        self.order.iter().find_map(|&i| match self.get(i)? {
            Ok(value) => Some((i, value)),
            Err(_) => None,
        })
    }

    /// The first item (in time) to fail, with its error.
    pub fn first_failure(&self) -> Option<(usize, &E)> {
        self.order.iter().find_map(|&i| match self.get(i)? {
            Ok(_) => None,
            Err(error) => Some((i, error)),
        })
    }

    /// Whether the fan-in has fired under `mode`, and with what.
    pub fn fired(&self, mode: FireOn) -> Option<Fired> {
        let early = match mode {
            FireOn::All => None,
            FireOn::FirstSuccess if self.is_empty() => return None,
            FireOn::FirstSuccess => self.first_success().map(|(i, _)| Fired::Success(i)),
            FireOn::FirstFailure => self.first_failure().map(|(i, _)| Fired::Failure(i)),
        };
        early.or_else(|| self.is_done().then_some(Fired::All))
    }

    /// Every result in input order, once all have settled (`None` before).
    pub fn results(&self) -> Option<Vec<&Result<T, E>>> {
        self.slots.iter().map(Option::as_ref).collect()
    }

    /// Every result in input order, consuming the fan-in; gives it back if some item is
    /// still unsettled.
    pub fn into_results(self) -> Result<Vec<Result<T, E>>, Self> {
        if !self.is_done() {
            return Err(self);
        }
        Ok(self.slots.into_iter().flatten().collect())
    }

    /// Whether every settled item succeeded and all have settled.
    pub fn all_succeeded(&self) -> bool {
        self.slots.iter().all(|s| matches!(s, Some(Ok(_))))
    }
}
