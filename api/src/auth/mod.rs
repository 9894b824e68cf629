//! Authentication: bearer tokens to principals, from three sources chosen by configuration.
//!
//! 1. Sangam's own embedded authorization server (the default): EdDSA-signed RFC 9068 JWTs.
//! 2. An external OpenID/OAuth provider's JWTs, checked against its JWKS.
//! 3. Opaque tokens, introspected at the provider (RFC 7662).
//!
//! A JWT is routed by its `iss`; anything else goes to introspection when that is configured.

pub mod claims;
pub mod clients;
pub mod demo;
pub mod endpoints;
pub mod external;
pub mod gate;
pub mod introspection;
pub mod keys;
pub mod organisations;
pub mod throttle;

use std::time::Duration;

use chrono::Utc;
use entities::{oauth_client, organisation, revoked_token};
use jsonwebtoken::{Algorithm, Header, Validation};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    sea_query::{Expr, Query},
};
use serde_json::{Map, Value, json};

use crate::principal::{Principal, Scope};
pub use claims::ClaimNames;

/// Why a request could not be authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is not acceptable (RFC 6750 `invalid_token`); the text is safe to show.
    #[error("{0}")]
    InvalidToken(String),
    /// The database or the identity provider cannot be reached.
    #[error("authentication is unavailable, try again shortly")]
    Unavailable(#[source] anyhow::Error),
}

impl AuthError {
    pub fn invalid(why: impl Into<String>) -> Self {
        Self::InvalidToken(why.into())
    }

    pub fn from_db(e: sea_orm::DbErr) -> Self {
        Self::Unavailable(e.into())
    }
}

/// Settings of the external provider (source 2).
#[derive(Debug, Clone)]
pub struct ExternalSettings {
    pub issuer: String,
    pub jwks_url: String,
    pub audience: String,
    pub claims: ClaimNames,
}

/// Settings of opaque-token introspection (source 3).
#[derive(Debug, Clone)]
pub struct IntrospectionSettings {
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The `aud` an active token must name (RFC 7662 §2.2), as JWTs must.
    pub audience: String,
    /// Accept active tokens whose introspection answer names no audience at all.
    pub allow_no_audience: bool,
    pub claims: ClaimNames,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` of Sangam's own tokens.
    pub issuer: String,
    /// `aud` of Sangam's own tokens, and what they must carry.
    pub audience: String,
    pub token_ttl: Duration,
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Whether the embedded authorization server issues and accepts tokens.
    pub embedded: bool,
    pub external: Option<ExternalSettings>,
    pub introspection: Option<IntrospectionSettings>,
}

impl AuthSettings {
    /// Embedded server only, with this issuer.
    pub fn embedded(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: "sangam".into(),
            token_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(60),
            embedded: true,
            external: None,
            introspection: None,
        }
    }
}

pub struct Authenticator {
    db: DatabaseConnection,
    pub settings: AuthSettings,
    pub keys: keys::Keys,
    external: Option<external::External>,
    introspection: Option<introspection::Introspector>,
    organisations: organisations::Organisations,
    /// Revoked tokens, disabled clients and verified tokens, in memory (`gate.rs`).
    pub gate: std::sync::Arc<gate::Gate>,
    /// Failed client authentications at the embedded server's endpoints.
    pub throttle: throttle::Throttle,
}

/// What a JWT must be signed with and say about itself.
pub(crate) struct Expect<'a> {
    pub alg: Algorithm,
    pub issuer: &'a str,
    pub audience: &'a str,
}

/// Checks a JWT's signature, issuer, audience and times (with `leeway`; expiry only when
/// `check_expiry`), for both Sangam's own tokens and an external provider's.
pub(crate) fn verify_jwt(
    token: &str,
    key: &jsonwebtoken::DecodingKey,
    expect: Expect<'_>,
    leeway: Duration,
    check_expiry: bool,
) -> Result<Map<String, Value>, AuthError> {
    let mut v = Validation::new(expect.alg);
    v.set_issuer(&[expect.issuer]);
    v.set_audience(&[expect.audience]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = leeway.as_secs();
    v.validate_nbf = true;
    v.validate_exp = check_expiry;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind::*;
        AuthError::invalid(match e.kind() {
            ExpiredSignature => "token expired",
            ImmatureSignature => "token not yet valid",
            InvalidIssuer => "wrong issuer",
            InvalidAudience => "wrong audience",
            InvalidSignature => "bad signature",
            _ => "invalid token",
        })
    })?;
    Ok(data.claims)
}

/// The `jti` and `client_id` of one of Sangam's own tokens.
fn ids(claims: &Map<String, Value>) -> Result<(&str, &str), AuthError> {
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthError::invalid("token has no jti"))?;
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok((jti, client_id))
}

fn refusal(verdict: gate::Verdict) -> AuthError {
    AuthError::invalid(match verdict {
        gate::Verdict::Disabled => "client disabled",
        _ => "token revoked",
    })
}

/// Sangam's access-token claims (RFC 9068 plus role, organisation and jurisdiction).
fn own_claims() -> ClaimNames {
    ClaimNames::default()
}

impl Authenticator {
    pub async fn new(db: DatabaseConnection, settings: AuthSettings) -> anyhow::Result<Self> {
        let keys = keys::Keys::new(db.clone());
        if settings.embedded {
            keys.ensure().await?;
        }
        let external = settings
            .external
            .clone()
            .map(|s| external::External::new(s, settings.leeway))
            .transpose()?;
        let introspection = settings
            .introspection
            .clone()
            .map(introspection::Introspector::new)
            .transpose()?;
        let gate = std::sync::Arc::new(gate::Gate::default());
        if settings.embedded {
            gate.start(&db);
        }
        Ok(Self {
            gate,
            organisations: organisations::Organisations::new(db.clone()),
            db,
            settings,
            keys,
            external,
            introspection,
            throttle: throttle::Throttle::default(),
        })
    }

    /// The principal a bearer token stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if self.settings.embedded
            && let Some(principal) = self.remembered(token).await?
        {
            return Ok(principal);
        }
        if token.split('.').count() == 3 {
            let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode(token)
                .map(|d| d.claims)
                .map_err(|_| AuthError::invalid("malformed token"))?;
            let iss = unverified
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if self.settings.embedded && iss == self.settings.issuer {
                return self.own_principal(token).await;
            }
            if let Some(ext) = &self.external
                && iss == ext.settings.issuer
            {
                let claims = ext.verify(token).await?;
                return claims::principal(&self.organisations, &ext.settings.claims, &claims).await;
            }
            return Err(AuthError::invalid("token from an unknown issuer"));
        }
        match &self.introspection {
            Some(i) => i.principal(&self.organisations, token).await,
            None => Err(AuthError::invalid("malformed token")),
        }
    }

    /// One of Sangam's own tokens verified before, not expired, still allowed by the in-memory
    /// sets and signed by a key that is still live: its principal, without a statement. `None`
    /// when the token must be checked in full.
    async fn remembered(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        match self.gate.remembered(token) {
            Some(Ok((principal, kid)))
                if self
                    .keys
                    .decoding_key(&kid)
                    .await
                    .map_err(AuthError::Unavailable)?
                    .is_some() =>
            {
                Ok(Some(principal))
            }
            Some(Err(refused)) => Err(refusal(refused)),
            _ => Ok(None),
        }
    }

    /// The principal of one of Sangam's own tokens, on the hot path: a token verified before
    /// and not expired is taken from memory; revocation and disabled clients are checked
    /// against the in-memory sets while they are current, and against the database otherwise
    /// (`gate.rs`). No statement while the sets are current and the token is known.
    async fn own_principal(&self, token: &str) -> Result<Principal, AuthError> {
        let (claims, kid) = self.verify_signed(token, true).await?;
        let (jti, client_id) = ids(&claims)?;
        match self.gate.check(jti, client_id) {
            gate::Verdict::Allowed => {}
            gate::Verdict::Unknown => self.check_in_database(jti, client_id).await?,
            refused => return Err(refusal(refused)),
        }
        let principal = claims::principal(&self.organisations, &own_claims(), &claims).await?;
        self.gate.remember(token, &principal, &kid, jti, client_id);
        Ok(principal)
    }

    /// Verifies one of Sangam's own tokens: signature by a live key, issuer, audience, times
    /// (expiry only when `check_expiry`), not revoked, client still enabled; the last two
    /// against the database, exactly (the token endpoints use this).
    pub async fn verify_own(
        &self,
        token: &str,
        check_expiry: bool,
    ) -> Result<Map<String, Value>, AuthError> {
        let (claims, _) = self.verify_signed(token, check_expiry).await?;
        let (jti, client_id) = ids(&claims)?;
        self.check_in_database(jti, client_id).await?;
        Ok(claims)
    }

    /// Signature by a live key, issuer, audience, times; no statement (keys are cached).
    /// Returns the claims and the key's id.
    async fn verify_signed(
        &self,
        token: &str,
        check_expiry: bool,
    ) -> Result<(Map<String, Value>, String), AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::invalid("malformed token"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::invalid("unexpected signing algorithm"));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::invalid("token has no key id"))?;
        let key = self
            .keys
            .decoding_key(&kid)
            .await
            .map_err(AuthError::Unavailable)?
            .ok_or_else(|| AuthError::invalid("token signed by an unknown key"))?;
        let expect = Expect {
            alg: Algorithm::EdDSA,
            issuer: &self.settings.issuer,
            audience: &self.settings.audience,
        };
        let claims = verify_jwt(token, &key, expect, self.settings.leeway, check_expiry)?;
        Ok((claims, kid))
    }

    /// Whether the token `jti` of `client_id` is revoked or its client disabled, asked of the
    /// database in one statement.
    async fn check_in_database(&self, jti: &str, client_id: &str) -> Result<(), AuthError> {
        let revoked = Query::select()
            .expr(Expr::val(1))
            .from(revoked_token::Entity)
            .and_where(revoked_token::Column::Jti.eq(jti))
            .to_owned();
        let check = Query::select()
            .column(oauth_client::Column::Disabled)
            .expr_as(Expr::exists(revoked), "revoked")
            .from(oauth_client::Entity)
            .and_where(oauth_client::Column::ClientId.eq(client_id))
            .to_owned();
        let row = self
            .db
            .query_one(&check)
            .await
            .map_err(AuthError::from_db)?;
        let (disabled, revoked) = match row {
            Some(r) => (
                r.try_get::<bool>("", "disabled")
                    .map_err(AuthError::from_db)?,
                r.try_get::<bool>("", "revoked")
                    .map_err(AuthError::from_db)?,
            ),
            None => (true, false),
        };
        if revoked {
            return Err(refusal(gate::Verdict::Revoked));
        }
        if disabled {
            return Err(refusal(gate::Verdict::Disabled));
        }
        Ok(())
    }

    /// Issues an access token to `client` for `scopes`; returns it with its lifetime in seconds.
    pub async fn issue(
        &self,
        client: &oauth_client::Model,
        scopes: &std::collections::BTreeSet<Scope>,
    ) -> anyhow::Result<(String, u64)> {
        let (kid, key) = self.keys.signer().await?;
        let org = match client.organisation_id {
            Some(id) => organisation::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .map(|o| o.code),
            None => None,
        };
        let now = Utc::now().timestamp();
        let ttl = self.settings.token_ttl.as_secs();
        let states = clients::parse_codes(&client.states);
        let districts = clients::parse_codes(&client.districts);
        let mut claims = json!({
            "iss": self.settings.issuer,
            "aud": self.settings.audience,
            "sub": client.client_id,
            "client_id": client.client_id,
            "scope": Scope::join(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + ttl as i64,
            "jti": uuid::Uuid::new_v4().to_string(),
            "role": client.role,
        });
        let extra = [
            ("org", org.map(Value::from)),
            ("department", client.department.map(|d| json!(d))),
            ("states", (!states.is_empty()).then(|| json!(states))),
            (
                "districts",
                (!districts.is_empty()).then(|| json!(districts)),
            ),
        ];
        for (name, value) in extra {
            if let (Some(v), Some(map)) = (value, claims.as_object_mut()) {
                map.insert(name.to_owned(), v);
            }
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid);
        header.typ = Some("at+jwt".to_owned());
        Ok((jsonwebtoken::encode(&header, &claims, &key)?, ttl))
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }
}
