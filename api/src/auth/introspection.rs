//! Opaque tokens, introspected at the provider (RFC 7662) with the `oauth2` crate. Answers are
//! cached until the token's expiry (at most five minutes), so a busy client costs one call.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use oauth2::{
    AccessToken, Client, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields,
    IntrospectionUrl, StandardRevocableToken, StandardTokenIntrospectionResponse,
    TokenIntrospectionResponse,
    basic::{BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenResponse, BasicTokenType},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::{AuthError, IntrospectionSettings, claims, organisations::Organisations};
use crate::principal::Principal;

/// Every field of the introspection answer beyond RFC 7662's own (role, org, jurisdiction…).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extra {
    #[serde(flatten)]
    fields: Map<String, Value>,
}
impl ExtraTokenFields for Extra {}

type Answer = StandardTokenIntrospectionResponse<Extra, BasicTokenType>;
type IntrospectionClient = Client<
    BasicErrorResponse,
    BasicTokenResponse,
    Answer,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
>;

const MAX_CACHE_AGE: Duration = Duration::from_secs(300);
const MAX_CACHED: usize = 10_000;

pub struct Introspector {
    settings: IntrospectionSettings,
    client: IntrospectionClient,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl Introspector {
    pub fn new(settings: IntrospectionSettings) -> anyhow::Result<Self> {
        let client = Client::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(settings.client_secret.clone()))
            .set_introspection_url(
                IntrospectionUrl::new(settings.url.clone()).context("introspection URL")?,
            );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            // Redirects are refused, as the oauth2 crate advises against SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            settings,
            client,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub async fn principal(
        &self,
        organisations: &Organisations,
        token: &str,
    ) -> Result<Principal, AuthError> {
        if let Some((p, until)) = self.cache.lock().await.get(token)
            && Instant::now() < *until
        {
            return Ok(p.clone());
        }
        let answer: Answer = self
            .client
            .introspect(&AccessToken::new(token.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| AuthError::Unavailable(anyhow::anyhow!("introspection failed: {e}")))?;
        if !answer.active() {
            return Err(AuthError::invalid("token is not active"));
        }
        // A token the provider issued for another API is not one for Sangam, however active.
        match answer.aud() {
            Some(aud) if aud.contains(&self.settings.audience) => {}
            Some(_) => return Err(AuthError::invalid("wrong audience")),
            None if self.settings.allow_no_audience => {}
            None => return Err(AuthError::invalid("the token names no audience")),
        }
        let now = chrono::Utc::now();
        let exp = answer
            .exp()
            .ok_or_else(|| AuthError::invalid("introspection gave no expiry"))?;
        if exp <= now {
            return Err(AuthError::invalid("token expired"));
        }
        let mut claims = answer.extra_fields().fields.clone();
        let sub = answer
            .sub()
            .map(str::to_owned)
            .or_else(|| answer.client_id().map(|c| c.to_string()));
        if let Some(sub) = sub {
            claims.insert("sub".into(), Value::String(sub));
        }
        if let Some(c) = answer.client_id() {
            claims.insert("client_id".into(), Value::String(c.to_string()));
        }
        if let Some(scopes) = answer.scopes() {
            let joined = scopes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            claims.insert("scope".into(), Value::String(joined));
        }
        let principal = claims::principal(organisations, &self.settings.claims, &claims).await?;
        let ttl = (exp - now).to_std().unwrap_or_default().min(MAX_CACHE_AGE);
        let mut cache = self.cache.lock().await;
        if cache.len() >= MAX_CACHED {
            let now = Instant::now();
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(token.to_owned(), (principal.clone(), Instant::now() + ttl));
        Ok(principal)
    }
}
