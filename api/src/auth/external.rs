//! An external OpenID/OAuth provider's JWTs (e.g. Keycloak), checked against its JWKS.
//! The key set is fetched on first use, cached, and fetched again when a token names a `kid`
//! the cache does not know (the provider rotated), at most once per cool-down.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, jwk::JwkSet};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::{AuthError, Expect, ExternalSettings, verify_jwt};

const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);

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

pub struct External {
    pub settings: ExternalSettings,
    leeway: Duration,
    http: reqwest::Client,
    cache: Mutex<KeyCache>,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Option<Instant>,
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

    async fn fetch(&self) -> anyhow::Result<HashMap<String, (DecodingKey, Option<Algorithm>)>> {
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

    async fn key(&self, kid: &str) -> Result<Option<(DecodingKey, Option<Algorithm>)>, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(k) = cache.keys.get(kid) {
            return Ok(Some(k.clone()));
        }
        if cache
            .fetched
            .is_some_and(|t| t.elapsed() < REFETCH_COOLDOWN)
        {
            return Ok(None);
        }
        cache.fetched = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => cache.keys = keys,
            Err(e) if cache.keys.is_empty() => return Err(AuthError::Unavailable(e)),
            Err(e) => {
                tracing::warn!(error = %e, "refetching the provider's JWKS failed; keeping the cached keys")
            }
        }
        Ok(cache.keys.get(kid).cloned())
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
