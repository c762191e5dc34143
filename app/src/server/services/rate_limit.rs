//! Abuse limits for the sign-in surface: password sign-in, registration and
//! Google sign-in, counted per key (`email:…`, `ip:…`, `register-ip:…`,
//! `google-ip:…`) in sliding windows.
//!
//! The limits (constants below, the numbers the README documents):
//! - [`LOGIN_PER_EMAIL`]: 10 failed password sign-ins per account per 15 min.
//! - [`LOGIN_PER_IP`]: 100 failed password sign-ins per client address per
//!   15 min. Ten times the per-account limit on purpose: people behind one NAT
//!   or proxy share an address, and other accounts' failures must not lock a
//!   user with the right password out.
//! - [`REGISTER_PER_IP`]: 20 registration attempts per address per hour.
//! - [`GOOGLE_PER_IP`]: 60 Google sign-ins per address per 15 min.
//! - [`MAX_KEYS`]: the map never holds more keys than this.
//!
//! An attempt *reserves* its slot before the expensive work (password hashing,
//! a call to Google) under the same lock that checks the limit, so a burst of
//! concurrent guesses cannot all pass the check before any is recorded. A
//! successful sign-in then refunds its slot (see [`Reservation`]).
//!
//! In memory on purpose: it protects one process; several replicas each apply
//! the limit, which still bounds guessing to a small multiple. The client
//! address comes from [`client_ip`], which believes `X-Forwarded-For` only
//! from configured trusted proxies.
//!
//! A loopback peer while `TRUSTED_PROXIES` is empty gets no per-address limit
//! ([`limited_address`]): that is a reverse proxy on the same host nobody
//! declared (then every visitor shares 127.0.0.1, and one attacker's 100
//! failures would lock the whole site out) or a local tool or test run. The
//! per-account limit and the bounded hashing queue still apply; the server
//! logs a warning when such a peer forwards `X-Forwarded-For`.
use crate::server::config::IpNet;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most `max` events per key within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);

pub const LOGIN_PER_EMAIL: Limit = Limit {
    max: 10,
    window: FIFTEEN_MINUTES,
};
pub const LOGIN_PER_IP: Limit = Limit {
    max: 100,
    window: FIFTEEN_MINUTES,
};
pub const REGISTER_PER_IP: Limit = Limit {
    max: 20,
    window: Duration::from_secs(3600),
};
pub const GOOGLE_PER_IP: Limit = Limit {
    max: 60,
    window: FIFTEEN_MINUTES,
};
/// Keys kept at most. When full, expired keys go first, then the least
/// recently active ones: a key under active attack is the most recent, so a
/// spray of distinct keys cannot flush it cheaply (each sprayed key costs the
/// sprayer one of its own per-address slots).
pub const MAX_KEYS: usize = 100_000;

/// One key's events (oldest first), the longest window it is checked with,
/// and when it was last asked about (also by refused attempts, so a key under
/// attack stays the most recent and is evicted last).
struct Entry {
    events: VecDeque<Instant>,
    window: Duration,
    last_seen: Instant,
}

impl Entry {
    fn prune(&mut self, now: Instant) {
        let window = self.window;
        while self
            .events
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.events.pop_front();
        }
    }
}

/// The one limiter in `AppState` (all sign-in keys share it and its cap).
pub type LoginLimiter = RateLimiter;

#[derive(Clone, Default)]
pub struct RateLimiter {
    inner: Arc<Mutex<HashMap<String, Entry>>>,
    /// Overrides [`MAX_KEYS`] (tests use a small cap).
    cap: Option<usize>,
}

/// The slots an allowed attempt took. Dropping it keeps them (the attempt
/// counts); [`RateLimiter::refund`] gives them back.
#[must_use = "keep or refund the reservation"]
#[derive(Debug)]
pub struct Reservation {
    keys: Vec<String>,
    at: Instant,
}

/// "Wait this many seconds": the limit of at least one key is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after_secs: u64,
}

impl RateLimiter {
    /// A limiter holding at most `cap` keys.
    pub fn with_capacity(cap: usize) -> Self {
        Self {
            inner: Arc::default(),
            cap: Some(cap),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of keys held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks every `(key, limit)` and, only if none is at its limit, records
    /// one event on each — atomically, so concurrent attempts cannot all pass.
    pub fn try_acquire(&self, keys: &[(String, Limit)]) -> Result<Reservation, Limited> {
        self.try_acquire_at(keys, Instant::now())
    }

    pub fn try_acquire_at(
        &self,
        keys: &[(String, Limit)],
        now: Instant,
    ) -> Result<Reservation, Limited> {
        let mut map = self.lock();
        let mut wait: Option<u64> = None;
        for (key, limit) in keys {
            let Some(entry) = map.get_mut(key) else {
                continue;
            };
            entry.last_seen = entry.last_seen.max(now);
            entry.window = entry.window.max(limit.window);
            entry.prune(now);
            // Only events inside *this* limit's window count against it.
            let recent: Vec<Instant> = entry
                .events
                .iter()
                .copied()
                .filter(|t| now.saturating_duration_since(*t) < limit.window)
                .collect();
            if recent.len() >= limit.max {
                // Blocked until enough old events leave the window.
                let oldest_that_must_go = recent[recent.len() - limit.max];
                let secs = (oldest_that_must_go + limit.window)
                    .saturating_duration_since(now)
                    .as_secs()
                    .max(1);
                wait = Some(wait.map_or(secs, |w| w.max(secs)));
            }
        }
        if let Some(retry_after_secs) = wait {
            return Err(Limited { retry_after_secs });
        }
        let cap = self.cap.unwrap_or(MAX_KEYS).max(1);
        for (key, limit) in keys {
            if !map.contains_key(key) && map.len() >= cap {
                Self::make_room(&mut map, now, cap);
            }
            let entry = map.entry(key.clone()).or_insert_with(|| Entry {
                events: VecDeque::new(),
                window: limit.window,
                last_seen: now,
            });
            entry.window = entry.window.max(limit.window);
            // Never more than `max` events per key: memory per key is bounded too.
            while entry.events.len() >= limit.max.max(1) {
                entry.events.pop_front();
            }
            entry.events.push_back(now);
        }
        Ok(Reservation {
            keys: keys.iter().map(|(k, _)| k.clone()).collect(),
            at: now,
        })
    }

    /// Drops expired keys, then the least recently active until the map is
    /// at 90 % of `cap`, so the (O(n log n)) sweep runs once per many inserts.
    fn make_room(map: &mut HashMap<String, Entry>, now: Instant, cap: usize) {
        map.retain(|_, e| {
            e.prune(now);
            !e.events.is_empty()
        });
        let target = cap - cap / 10 - 1;
        if map.len() > target {
            let mut by_age: Vec<(Instant, String)> =
                map.iter().map(|(k, e)| (e.last_seen, k.clone())).collect();
            by_age.sort();
            let excess = map.len() - target;
            for (_, key) in by_age.into_iter().take(excess) {
                map.remove(&key);
            }
        }
    }

    /// Gives back the slots of an attempt that should not count (a
    /// successful sign-in).
    pub fn refund(&self, reservation: Reservation) {
        let mut map = self.lock();
        for key in &reservation.keys {
            if let Some(entry) = map.get_mut(key) {
                if let Some(pos) = entry.events.iter().rposition(|t| *t == reservation.at) {
                    entry.events.remove(pos);
                }
                if entry.events.is_empty() {
                    map.remove(key);
                }
            }
        }
    }

    /// Forgets every event of `key` (e.g. an account's failures once its
    /// owner signs in).
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy,
/// in which case the right-most `X-Forwarded-For` address that is not itself
/// a trusted proxy (everything left of it could be forged by the client).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let peer = canonical(peer);
    if !trusted(peer) {
        return peer;
    }
    // Several X-Forwarded-For headers are one list in order.
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted(ip) => continue,
            Some(ip) => return ip,
            // A garbled entry: nothing left of it can be trusted; the last
            // proxy we believe is the best we know.
            None => break,
        }
    }
    hops.iter()
        .rev()
        .map_while(|h| parse_hop(h))
        .last()
        .unwrap_or(peer)
}

/// The address per-address limits apply to, or `None` for a loopback peer
/// when no proxy is trusted (see the module doc).
pub fn limited_address(
    peer: IpAddr,
    forwarded_for: &[&str],
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    if trusted_proxies.is_empty() && canonical(peer).is_loopback() {
        return None;
    }
    Some(client_ip(peer, forwarded_for, trusted_proxies))
}

/// An IPv4 address seen through an IPv6 socket is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[(&str, Limit)]) -> Vec<(String, Limit)> {
        k.iter().map(|(k, l)| (k.to_string(), *l)).collect()
    }

    #[test]
    fn blocks_at_the_limit_and_recovers_after_the_window() {
        let l = RateLimiter::default();
        let k = keys(&[("email:a@b.c", LOGIN_PER_EMAIL)]);
        let t0 = Instant::now();
        for i in 0..LOGIN_PER_EMAIL.max {
            assert!(
                l.try_acquire_at(&k, t0).is_ok(),
                "attempt {i} must be allowed"
            );
        }
        let wait = l
            .try_acquire_at(&k, t0 + Duration::from_secs(60))
            .unwrap_err()
            .retry_after_secs;
        assert!((800..=840).contains(&wait), "{wait}");
        assert!(l
            .try_acquire_at(&k, t0 + LOGIN_PER_EMAIL.window + Duration::from_secs(1))
            .is_ok());
        assert!(l
            .try_acquire_at(&keys(&[("email:other", LOGIN_PER_EMAIL)]), t0)
            .is_ok());
    }

    #[test]
    fn a_refused_attempt_records_nothing_and_a_refund_frees_the_slot() {
        let l = RateLimiter::default();
        let email = ("email:x@y.z", LOGIN_PER_EMAIL);
        let ip = ("ip:1.2.3.4", LOGIN_PER_IP);
        let t0 = Instant::now();
        let mut last = None;
        for _ in 0..LOGIN_PER_EMAIL.max {
            last = Some(l.try_acquire_at(&keys(&[email, ip]), t0).unwrap());
        }
        // The account is locked; the refusal must not eat the address's budget.
        for _ in 0..50 {
            assert!(l.try_acquire_at(&keys(&[email, ip]), t0).is_err());
        }
        l.refund(last.unwrap());
        assert!(l.try_acquire_at(&keys(&[email, ip]), t0).is_ok());
        // 10 events on the address, far below its limit of 100.
        for i in 0..(LOGIN_PER_IP.max - LOGIN_PER_EMAIL.max) {
            let other = format!("email:{i}@y.z");
            assert!(
                l.try_acquire_at(&[(other, LOGIN_PER_EMAIL), (ip.0.into(), ip.1)], t0)
                    .is_ok(),
                "{i}"
            );
        }
        assert!(l
            .try_acquire_at(&keys(&[("email:new@y.z", LOGIN_PER_EMAIL), ip]), t0)
            .is_err());
    }

    #[test]
    fn concurrent_attempts_never_exceed_the_limit() {
        let l = RateLimiter::default();
        let allowed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        if l.try_acquire(&keys(&[("email:c@d.e", LOGIN_PER_EMAIL)]))
                            .is_ok()
                        {
                            allowed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), LOGIN_PER_EMAIL.max);
    }

    #[test]
    fn the_map_stays_bounded_and_keeps_the_key_under_attack() {
        let l = RateLimiter::with_capacity(1000);
        let t0 = Instant::now();
        let victim = keys(&[("email:victim@x.y", LOGIN_PER_EMAIL)]);
        for i in 0..20_000u32 {
            let now = t0 + Duration::from_millis(i as u64);
            let _ = l.try_acquire_at(
                &keys(&[(&format!("email:{i}@spray"), LOGIN_PER_EMAIL)]),
                now,
            );
            if i % 100 == 0 {
                let _ = l.try_acquire_at(&victim, now);
            }
            assert!(l.len() <= 1000, "{} keys after {i}", l.len());
        }
        assert!(
            l.try_acquire_at(&victim, t0 + Duration::from_secs(20))
                .is_err(),
            "the victim's recent failures survived the spray"
        );
    }

    #[test]
    fn windows_of_different_limits_are_respected() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        let k = keys(&[("register-ip:1.1.1.1", REGISTER_PER_IP)]);
        for _ in 0..REGISTER_PER_IP.max {
            assert!(l.try_acquire_at(&k, t0).is_ok());
        }
        // Still blocked after 15 minutes: registration's window is an hour.
        assert!(l.try_acquire_at(&k, t0 + FIFTEEN_MINUTES).is_err());
        assert!(l
            .try_acquire_at(&k, t0 + REGISTER_PER_IP.window + Duration::from_secs(1))
            .is_ok());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxies = vec![
            IpNet::parse("10.0.0.0/8").unwrap(),
            IpNet::parse("::1").unwrap(),
        ];
        // An untrusted peer: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.2.3.4"], &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &["1.2.3.4"], &[]), ip("10.0.0.1"));
        // A trusted peer: the right-most untrusted hop; left of it is forgeable.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["6.6.6.6, 1.2.3.4, 10.0.0.7"], &proxies),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["6.6.6.6", "1.2.3.4:5555"], &proxies),
            ip("1.2.3.4")
        );
        assert_eq!(
            client_ip(ip("::1"), &["[2001:db8::1]:443"], &proxies),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), &["1.2.3.4"], &proxies),
            ip("1.2.3.4")
        );
        // No header, or only proxies in it: the nearest proxy is the client.
        assert_eq!(client_ip(ip("10.0.0.1"), &[], &proxies), ip("10.0.0.1"));
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["10.0.0.2"], &proxies),
            ip("10.0.0.2")
        );
        // Garbage hops never become the address.
        assert_eq!(
            client_ip(ip("10.0.0.1"), &["1.2.3.4, garbage"], &proxies),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn an_undeclared_local_proxy_is_not_one_shared_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(limited_address(ip("127.0.0.1"), &["1.2.3.4"], &[]), None);
        assert_eq!(limited_address(ip("::1"), &[], &[]), None);
        assert_eq!(
            limited_address(ip("203.0.113.1"), &[], &[]),
            Some(ip("203.0.113.1"))
        );
        let proxies = [IpNet::parse("10.0.0.0/8").unwrap()];
        assert_eq!(
            limited_address(ip("127.0.0.1"), &[], &proxies),
            Some(ip("127.0.0.1"))
        );
    }
}
