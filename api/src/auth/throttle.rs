//! Failed client authentication at the token, revocation and introspection endpoints, rate
//! limited per client id and per source address, so that guessing a secret is slow whether
//! one client id is tried from many addresses or many ids from one address.
//!
//! Each failure spends a cell of the id's and the address's budget (GCRA, `governor`); while a
//! budget is spent, every attempt for that id or from that address, right or wrong, is answered
//! 429 with `Retry-After` before any secret is checked: a correct guess made then gains nothing,
//! and a flood costs no Argon2 work. Successful authentications spend nothing.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::Mutex,
    time::{Duration, Instant},
};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// Failures a client id may have in a burst, and how often one more is allowed after that.
const PER_CLIENT: (u32, Duration) = (5, Duration::from_secs(12));
/// Failures an address may have in a burst (several clients may share one gateway).
const PER_ADDRESS: (u32, Duration) = (20, Duration::from_secs(3));
/// Keys held before forgotten ones are pruned.
const PRUNE_ABOVE: usize = 10_000;

/// One budget per key, and the keys whose budget is spent, with when it allows another try.
struct Budget<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    blocked: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    fn new((burst, period): (u32, Duration)) -> Self {
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            limiter: RateLimiter::hashmap(quota),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn blocked(&self, key: &K) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = *blocked.get(key)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Spends a cell for a failure; when none is left, how long until the next try.
    fn fail(&self, key: &K) -> Option<Duration> {
        if self.limiter.len() > PRUNE_ABOVE {
            self.limiter.retain_recent();
        }
        let not_until = self.limiter.check_key(key).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        if blocked.len() > PRUNE_ABOVE {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
        }
        blocked.insert(key.clone(), Instant::now() + wait);
        Some(wait)
    }
}

pub struct Throttle {
    clients: Budget<String>,
    addresses: Budget<IpAddr>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            clients: Budget::new(PER_CLIENT),
            addresses: Budget::new(PER_ADDRESS),
        }
    }
}

impl Throttle {
    /// Before any secret is checked: how long `client_id` or `addr` must wait, if at all.
    pub fn blocked(&self, client_id: &str, addr: Option<IpAddr>) -> Option<Duration> {
        let by_id = self.clients.blocked(&client_id.to_owned());
        let by_addr = addr.and_then(|a| self.addresses.blocked(&a));
        by_id.max(by_addr)
    }

    /// Records a failed authentication; returns how long to wait when a budget is now spent.
    pub fn failed(&self, client_id: &str, addr: Option<IpAddr>) -> Option<Duration> {
        let by_id = self.clients.fail(&client_id.to_owned());
        let by_addr = addr.and_then(|a| self.addresses.fail(&a));
        by_id.max(by_addr)
    }
}

/// `Retry-After` in whole seconds, rounded up (RFC 9110 §10.2.3).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
