//! An external OpenID/OAuth provider's JWTs (e.g. Keycloak), checked against its JWKS.
//!
//! The key set is fetched on first use and cached. A token naming a `kid` the cache does not
//! know makes the set be fetched again (the provider may have rotated), but at most once per
//! [`REFETCH_INTERVAL`] after a successful fetch: a burst of tokens with made-up `kid`s costs
//! the provider at most one fetch a second, while a key the provider really publishes is picked
//! up within that second. A fetch that fails is not a verdict on the token (503, not 401), and
//! starts no interval: the next request tries again once a short, growing backoff has passed.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, jwk::JwkSet};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::{AuthError, Expect, ExternalSettings, verify_jwt};

/// Least time between two successful fetches of the key set.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// Wait after a first failed fetch; doubled on each further failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Asymmetric algorithms only: a provider's public JWKS can never verify an HMAC token, and
/// `none` is not an algorithm here at all.
const ACCEPTED: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

type Key = (DecodingKey, Option<Algorithm>);

pub struct External {
    pub settings: ExternalSettings,
    leeway: Duration,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
}

#[derive(Default)]
struct KeyCache {
    /// Every key of the last successful fetch, by `kid`.
    keys: HashMap<String, Key>,
    /// When the last successful fetch finished.
    fetched: Option<Instant>,
    /// After failed fetches: no new attempt before this instant, and the wait after the next
    /// failure.
    retry: Option<(Instant, Duration)>,
}

impl External {
    pub fn new(settings: ExternalSettings, leeway: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the JWKS client")?;
        Ok(Self {
            settings,
            leeway,
            http,
            cache: Mutex::new(KeyCache::default()),
        })
    }

    async fn fetch(&self) -> anyhow::Result<HashMap<String, Key>> {
        let set: JwkSet = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await
            .context("the provider's JWKS is not a JWK Set")?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk))
            else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            keys.insert(kid, (key, alg));
        }
        Ok(keys)
    }

    /// The key named `kid`: `None` when the provider does not publish it. Concurrent lookups of
    /// unknown kids wait on the lock and share the one fetch the first of them makes.
    async fn key(&self, kid: &str) -> Result<Option<Key>, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(k) = cache.keys.get(kid) {
            return Ok(Some(k.clone()));
        }
        let now = Instant::now();
        if cache
            .fetched
            .is_some_and(|t| now.duration_since(t) < REFETCH_INTERVAL)
        {
            return Ok(None);
        }
        if let Some((not_before, _)) = cache.retry
            && now < not_before
        {
            return Err(AuthError::Unavailable(anyhow::anyhow!(
                "the provider's JWKS could not be fetched; retrying shortly"
            )));
        }
        match self.fetch().await {
            Ok(keys) => {
                cache.keys = keys;
                cache.fetched = Some(Instant::now());
                cache.retry = None;
                Ok(cache.keys.get(kid).cloned())
            }
            Err(e) => {
                let wait = cache.retry.map_or(FIRST_BACKOFF, |(_, w)| w);
                cache.retry = Some((Instant::now() + wait, (wait * 2).min(MAX_BACKOFF)));
                Err(AuthError::Unavailable(
                    e.context("fetching the provider's JWKS"),
                ))
            }
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::invalid("malformed token"))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(AuthError::invalid("unexpected signing algorithm"));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::invalid("token has no key id"))?;
        let (key, key_alg) = self
            .key(&kid)
            .await?
            .ok_or_else(|| AuthError::invalid("token signed by an unknown key"))?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(AuthError::invalid("unexpected signing algorithm"));
        }
        let expect = Expect {
            alg: header.alg,
            issuer: &self.settings.issuer,
            audience: &self.settings.audience,
        };
        verify_jwt(token, &key, expect, self.leeway, true)
    }
}
