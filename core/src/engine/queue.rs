//! Calls waiting for a rate-limit slot: one FIFO per API path, so a path
//! whose bucket is empty is passed over whole, and a full concurrency cap
//! stops the pump at once. Draining n queued calls costs O(n) (times the
//! few paths), not O(n²) as one shared list rescanned per completion did.

use crate::call::CallId;
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Default)]
pub(crate) struct RateQueue {
    /// Per path: (arrival number, call), oldest first. Entries of calls that
    /// have since completed are dropped when they reach the front.
    paths: HashMap<String, VecDeque<(u64, CallId)>>,
    next_seq: u64,
    len: usize,
}

impl RateQueue {
    pub(crate) fn push(&mut self, path: &str, id: CallId) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        match self.paths.get_mut(path) {
            Some(q) => q.push_back((seq, id)),
            None => {
                self.paths
                    .insert(path.to_string(), VecDeque::from([(seq, id)]));
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The oldest call at the front of a path not in `skip`, with its path.
    pub(crate) fn oldest(&self, skip: &[String]) -> Option<(CallId, String)> {
        self.paths
            .iter()
            .filter(|(p, _)| !skip.iter().any(|s| s == *p))
            .filter_map(|(p, q)| q.front().map(|&(seq, id)| (seq, id, p)))
            .min_by_key(|&(seq, _, _)| seq)
            .map(|(_, id, p)| (id, p.clone()))
    }

    /// Removes the front of `path` (the call `oldest` named).
    pub(crate) fn pop(&mut self, path: &str) {
        if let Some(q) = self.paths.get_mut(path) {
            if q.pop_front().is_some() {
                self.len -= 1;
            }
            if q.is_empty() {
                self.paths.remove(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_front_across_paths_skipping_blocked_ones() {
        let mut q = RateQueue::default();
        q.push("/a", 1);
        q.push("/b", 2);
        q.push("/a", 3);
        assert_eq!(q.oldest(&[]), Some((1, "/a".to_string())));
        assert_eq!(q.oldest(&["/a".to_string()]), Some((2, "/b".to_string())));
        q.pop("/a");
        assert_eq!(q.oldest(&[]), Some((2, "/b".to_string())));
        q.pop("/b");
        q.pop("/a");
        assert!(q.is_empty());
        assert_eq!(q.oldest(&[]), None);
    }
}
