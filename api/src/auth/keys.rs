//! Signing keys of the embedded authorization server (Ed25519, `EdDSA`).
//!
//! Keys live in the database so every instance signs and verifies with the same set. Rotation
//! adds a key that signs from then on; the previous key stops signing but stays in the JWKS and
//! keeps verifying until the last token it signed has expired.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::Context;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::Utc;
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use entities::signing_key;
use jsonwebtoken::{DecodingKey, EncodingKey};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};
use tokio::sync::RwLock;

pub const ALGORITHM: &str = "EdDSA";

/// An unknown `kid` is looked up again at most this often.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Known keys are re-read this often, so a key that expired stops verifying everywhere.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

pub struct Keys {
    db: DatabaseConnection,
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    by_kid: HashMap<String, DecodingKey>,
    loaded: Option<Instant>,
    /// Kids recently looked up and not found.
    unknown: HashMap<String, Instant>,
}

/// Creates and stores a new signing key.
pub async fn generate(db: &DatabaseConnection) -> anyhow::Result<signing_key::Model> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let der = key.to_pkcs8_der().context("encoding the signing key")?;
    let row = signing_key::ActiveModel {
        kid: Set(format!(
            "{}-{}",
            Utc::now().format("%Y%m%d"),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )),
        algorithm: Set(ALGORITHM.to_owned()),
        private_key: Set(STANDARD.encode(der.as_bytes())),
        public_key: Set(URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())),
        created_at: Set(Utc::now()),
        retired_at: Set(None),
        expires_at: Set(None),
        ..Default::default()
    };
    Ok(row.insert(db).await?)
}

/// Adds a new signing key and retires the others: they verify for `grace` more (the longest a
/// token they signed can live), then drop out of the JWKS.
pub async fn rotate(
    db: &DatabaseConnection,
    grace: Duration,
) -> anyhow::Result<signing_key::Model> {
    let fresh = generate(db).await?;
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(grace)?;
    signing_key::Entity::update_many()
        .col_expr(
            signing_key::Column::RetiredAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            signing_key::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(until),
        )
        .filter(signing_key::Column::RetiredAt.is_null())
        .filter(signing_key::Column::Id.ne(fresh.id))
        .exec(db)
        .await?;
    Ok(fresh)
}

/// Keys that still verify: unretired, or retired but not yet expired.
fn live() -> Condition {
    Condition::any()
        .add(signing_key::Column::ExpiresAt.is_null())
        .add(signing_key::Column::ExpiresAt.gt(Utc::now()))
}

pub async fn list(db: &DatabaseConnection) -> anyhow::Result<Vec<signing_key::Model>> {
    Ok(signing_key::Entity::find()
        .order_by_asc(signing_key::Column::Id)
        .all(db)
        .await?)
}

impl Keys {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: RwLock::new(Cache::default()),
        }
    }

    /// Makes sure a signing key exists (a new installation has none).
    pub async fn ensure(&self) -> anyhow::Result<()> {
        let active = signing_key::Entity::find()
            .filter(signing_key::Column::RetiredAt.is_null())
            .one(&self.db)
            .await?;
        if active.is_none() {
            let key = generate(&self.db).await?;
            tracing::info!(kid = %key.kid, "created the first token-signing key");
        }
        Ok(())
    }

    /// The key to sign with now: the newest unretired one, read fresh so a rotation on any
    /// instance takes effect everywhere.
    pub async fn signer(&self) -> anyhow::Result<(String, EncodingKey)> {
        let key = signing_key::Entity::find()
            .filter(signing_key::Column::RetiredAt.is_null())
            .order_by_desc(signing_key::Column::Id)
            .one(&self.db)
            .await?
            .context("no active signing key; run `sangam key rotate`")?;
        let der = STANDARD
            .decode(&key.private_key)
            .context("stored signing key is not base64")?;
        Ok((key.kid, EncodingKey::from_ed_der(&der)))
    }

    /// The verifying key for `kid`, if it is live. Known keys come from the cache (re-read every
    /// minute, so expired keys drop out); an unknown kid is looked up once, so a key rotated in
    /// on another instance verifies at once, and a bogus kid costs one indexed lookup.
    pub async fn decoding_key(&self, kid: &str) -> anyhow::Result<Option<DecodingKey>> {
        {
            let cache = self.cache.read().await;
            let fresh = cache.loaded.is_some_and(|t| t.elapsed() < REFRESH_EVERY);
            if fresh {
                if let Some(k) = cache.by_kid.get(kid) {
                    return Ok(Some(k.clone()));
                }
                if cache
                    .unknown
                    .get(kid)
                    .is_some_and(|t| t.elapsed() < RELOAD_EVERY)
                {
                    return Ok(None);
                }
            }
        }
        let mut cache = self.cache.write().await;
        if cache.loaded.is_none_or(|t| t.elapsed() >= REFRESH_EVERY) {
            let rows = signing_key::Entity::find()
                .filter(live())
                .all(&self.db)
                .await?;
            cache.by_kid = rows
                .into_iter()
                .filter_map(|k| {
                    DecodingKey::from_ed_components(&k.public_key)
                        .ok()
                        .map(|d| (k.kid, d))
                })
                .collect();
            cache.unknown.clear();
            cache.loaded = Some(Instant::now());
        } else if !cache.by_kid.contains_key(kid) {
            let row = signing_key::Entity::find()
                .filter(live())
                .filter(signing_key::Column::Kid.eq(kid))
                .one(&self.db)
                .await?;
            match row.and_then(|k| {
                DecodingKey::from_ed_components(&k.public_key)
                    .ok()
                    .map(|d| (k.kid, d))
            }) {
                Some((kid, key)) => {
                    cache.by_kid.insert(kid, key);
                }
                None => {
                    if cache.unknown.len() > 1000 {
                        cache.unknown.clear();
                    }
                    cache.unknown.insert(kid.to_owned(), Instant::now());
                }
            }
        }
        Ok(cache.by_kid.get(kid).cloned())
    }

    /// Forgets cached keys, so an expired key stops verifying at once.
    pub async fn forget(&self) {
        *self.cache.write().await = Cache::default();
    }

    /// The JWK Set of live keys.
    pub async fn jwks(&self) -> anyhow::Result<Value> {
        let rows = signing_key::Entity::find()
            .filter(live())
            .order_by_asc(signing_key::Column::Id)
            .all(&self.db)
            .await?;
        let keys: Vec<Value> = rows
            .iter()
            .map(|k| json!({ "kty": "OKP", "crv": "Ed25519", "x": k.public_key, "kid": k.kid, "alg": ALGORITHM, "use": "sig" }))
            .collect();
        Ok(json!({ "keys": keys }))
    }
}
