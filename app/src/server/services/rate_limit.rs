//! Brute-force protection for password sign-in.
//!
//! Counts failures per key (`email:…`, `ip:…`) in a sliding 15-minute window.
//! In memory on purpose: it protects one process; several replicas each apply
//! the limit, which still bounds guessing to a small multiple.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_FAILURES: usize = 10;

#[derive(Clone, Default)]
pub struct LoginLimiter {
    inner: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl LoginLimiter {
    fn prune(q: &mut VecDeque<Instant>, now: Instant) {
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
    }

    /// `Some(seconds)` to wait when any of `keys` already has more than the
    /// allowed failures in the window.
    pub fn check(&self, keys: &[String]) -> Option<u64> {
        self.check_at(keys, Instant::now())
    }

    pub fn check_at(&self, keys: &[String], now: Instant) -> Option<u64> {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait: Option<u64> = None;
        for k in keys {
            if let Some(q) = map.get_mut(k) {
                Self::prune(q, now);
                if q.len() >= MAX_FAILURES {
                    // Blocked until enough old failures leave the window.
                    let idx = q.len() - MAX_FAILURES;
                    let until = q[idx] + WINDOW;
                    let secs = until.saturating_duration_since(now).as_secs().max(1);
                    wait = Some(wait.map_or(secs, |w| w.max(secs)));
                }
            }
        }
        wait
    }

    pub fn record_failure(&self, keys: &[String]) {
        self.record_failure_at(keys, Instant::now())
    }

    pub fn record_failure_at(&self, keys: &[String], now: Instant) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Keep memory bounded under a spray of distinct keys.
        if map.len() > 100_000 {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for k in keys {
            let q = map.entry(k.clone()).or_default();
            Self::prune(q, now);
            q.push_back(now);
        }
    }

    pub fn clear(&self, key: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_ten_failures_and_recovers_after_the_window() {
        let l = LoginLimiter::default();
        let keys = vec!["email:a@b.c".to_string()];
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert_eq!(l.check_at(&keys, t0), None, "attempt {i} must be allowed");
            l.record_failure_at(&keys, t0);
        }
        let wait = l.check_at(&keys, t0 + Duration::from_secs(60)).unwrap();
        assert!((800..=840).contains(&wait), "{wait}");
        assert_eq!(
            l.check_at(&keys, t0 + WINDOW + Duration::from_secs(1)),
            None
        );
        assert_eq!(l.check_at(&["email:other".to_string()], t0), None);
    }
}
