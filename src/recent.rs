//! A map that keeps only its most recent entries: what a long-running process remembers per
//! request (the connector's finished requests, the simulator's answers) must not grow with every
//! request it ever saw. The oldest entry goes first, whatever was read since: the entries are
//! kept to recognise a repeat that comes soon after (a redelivery), not to cache hot ones.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

pub struct Recent<K, V> {
    entries: HashMap<K, V>,
    /// The keys, oldest first.
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Recent<K, V> {
    /// Keeps at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Recent {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Sets `key` to `value`; a new key may push the oldest entry out. A key set again keeps its
    /// place in the order.
    pub fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(oldest) = self.order.pop_front() {
                    self.entries.remove(&oldest);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_first_once_the_map_is_full() {
        let mut recent = Recent::new(2);
        recent.insert("a", 1);
        recent.insert("b", 2);
        assert_eq!(recent.get(&"a"), Some(&1), "a read does not keep an entry");
        recent.insert("a", 10);
        recent.insert("c", 3);
        assert_eq!(
            (recent.get(&"a"), recent.get(&"b"), recent.get(&"c")),
            (None, Some(&2), Some(&3))
        );
        assert_eq!(recent.len(), 2);
    }
}
