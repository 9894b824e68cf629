//! Registered machine clients of the embedded authorization server.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use entities::{district, enums::OrganisationKind, oauth_client, organisation, state};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::gate;
use crate::principal::{Role, Scope};

/// What `sangam client add` registers.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub client_id: Option<String>,
    pub name: String,
    pub role: Role,
    /// Organisation code (required for `department` and `partner`).
    pub organisation: Option<String>,
    pub states: Vec<i32>,
    pub districts: Vec<i32>,
    pub scopes: BTreeSet<Scope>,
}

/// A fresh client secret: 32 random bytes, URL-safe.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_secret(secret: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a client secret: {e}"))
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &h)
            .is_ok()
    })
}

/// Argon2 is deliberately slow (tens of milliseconds): run it on the blocking pool, so that a
/// burst of token requests does not stall the async workers serving everything else.
async fn verify_off_runtime(secret: &str, hash: String) -> anyhow::Result<bool> {
    let secret = secret.to_owned();
    tokio::task::spawn_blocking(move || verify_secret(&secret, &hash))
        .await
        .context("verifying a client secret")
}

fn codes(list: &[i32]) -> String {
    list.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub fn parse_codes(s: &str) -> Vec<i32> {
    s.split(',').filter_map(|c| c.trim().parse().ok()).collect()
}

/// Registers a client and returns it with its secret, which is shown once and never stored.
pub async fn add(
    db: &DatabaseConnection,
    new: NewClient,
) -> anyhow::Result<(oauth_client::Model, String)> {
    if new.scopes.is_empty() {
        bail!("a client needs at least one scope");
    }
    if let Some(extra) = new
        .scopes
        .iter()
        .find(|s| !new.role.allowed_scopes().contains(s))
    {
        bail!(
            "role {} may not hold scope {}",
            new.role.as_str(),
            extra.as_str()
        );
    }
    if new.role.needs_jurisdiction() && new.states.is_empty() && new.districts.is_empty() {
        bail!("role {} needs --states or --districts", new.role.as_str());
    }
    if new.role == Role::DistrictCoordinator && new.districts.is_empty() {
        bail!("a district coordinator needs --districts");
    }
    let (organisation_id, department) = match &new.organisation {
        None if matches!(
            new.role,
            Role::Department | Role::Partner | Role::InspectionAgency
        ) =>
        {
            bail!("role {} needs --org", new.role.as_str())
        }
        None => (None, None),
        Some(code) => {
            let org = organisation::Entity::find()
                .filter(organisation::Column::Code.eq(code.as_str()))
                .one(db)
                .await?
                .with_context(|| format!("no organisation with code {code}"))?;
            match (new.role, org.kind) {
                (Role::Partner, OrganisationKind::SectorPartner)
                | (Role::Department, OrganisationKind::Department)
                | (Role::InspectionAgency, OrganisationKind::InspectionAgency)
                | (Role::StateAdmin | Role::DistrictCoordinator | Role::Dashboard, _) => {}
                (role, kind) => bail!(
                    "role {} does not fit organisation {code} ({kind:?})",
                    role.as_str()
                ),
            }
            (Some(org.id), org.department)
        }
    };
    if new.role == Role::Department && department.is_none() {
        bail!("a department client's organisation must be a department");
    }
    let secret = generate_secret();
    let now = Utc::now();
    let client_id = new
        .client_id
        .unwrap_or_else(|| format!("sangam-{}", uuid::Uuid::new_v4().simple()));
    let tx = db.begin().await?;
    let row = oauth_client::ActiveModel {
        client_id: Set(client_id),
        secret_hash: Set(hash_secret(&secret)?),
        name: Set(new.name),
        role: Set(new.role.as_str().to_owned()),
        organisation_id: Set(organisation_id),
        department: Set(department),
        states: Set(codes(&new.states)),
        districts: Set(codes(&new.districts)),
        scopes: Set(Scope::join(&new.scopes)),
        disabled: Set(false),
        created_at: Set(now),
        secret_rotated_at: Set(now),
        ..Default::default()
    }
    .insert(&tx)
    .await?;
    // Every instance learns of the client as the row commits (`auth/gate.rs`).
    gate::announce(
        &tx,
        gate::Change::Client {
            client_id: &row.client_id,
            disabled: false,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((row, secret))
}

/// Refuses LGD codes of states or districts the database does not hold: a client of an unknown
/// place would be registered and then see nothing.
pub async fn check_jurisdiction(
    db: &DatabaseConnection,
    states: &[i32],
    districts: &[i32],
) -> anyhow::Result<()> {
    async fn missing<E, C>(
        db: &DatabaseConnection,
        column: C,
        codes: &[i32],
    ) -> anyhow::Result<Vec<i32>>
    where
        E: EntityTrait,
        C: ColumnTrait,
    {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let found: Vec<i32> = E::find()
            .filter(column.is_in(codes.iter().copied()))
            .select_only()
            .column(column)
            .into_tuple()
            .all(db)
            .await?;
        Ok(codes
            .iter()
            .copied()
            .filter(|c| !found.contains(c))
            .collect())
    }
    let list = |codes: Vec<i32>| {
        codes
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let states_missing = missing::<state::Entity, _>(db, state::Column::LgdCode, states).await?;
    if !states_missing.is_empty() {
        bail!(
            "no state with LGD code {} in this database",
            list(states_missing)
        );
    }
    let districts_missing =
        missing::<district::Entity, _>(db, district::Column::LgdCode, districts).await?;
    if !districts_missing.is_empty() {
        bail!(
            "no district with LGD code {} in this database",
            list(districts_missing)
        );
    }
    Ok(())
}

pub async fn list(db: &DatabaseConnection) -> anyhow::Result<Vec<oauth_client::Model>> {
    Ok(oauth_client::Entity::find()
        .order_by_asc(oauth_client::Column::Id)
        .all(db)
        .await?)
}

pub async fn find(
    db: &DatabaseConnection,
    client_id: &str,
) -> anyhow::Result<Option<oauth_client::Model>> {
    Ok(oauth_client::Entity::find()
        .filter(oauth_client::Column::ClientId.eq(client_id))
        .one(db)
        .await?)
}

async fn existing(db: &DatabaseConnection, client_id: &str) -> anyhow::Result<oauth_client::Model> {
    find(db, client_id)
        .await?
        .with_context(|| format!("no client {client_id}"))
}

/// A disabled client can get no token, and the tokens it holds stop working.
pub async fn set_disabled(
    db: &DatabaseConnection,
    client_id: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let mut row = existing(db, client_id).await?.into_active_model();
    row.disabled = Set(disabled);
    // Every instance learns of it as the change commits, and acts on it within a second
    // (`auth/gate.rs`).
    let tx = db.begin().await?;
    row.update(&tx).await?;
    gate::announce(
        &tx,
        gate::Change::Client {
            client_id,
            disabled,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the secret and returns the new one.
pub async fn rotate_secret(db: &DatabaseConnection, client_id: &str) -> anyhow::Result<String> {
    let secret = generate_secret();
    let mut row = existing(db, client_id).await?.into_active_model();
    row.secret_hash = Set(hash_secret(&secret)?);
    row.secret_rotated_at = Set(Utc::now());
    row.update(db).await?;
    Ok(secret)
}

/// The enabled client with this id and secret.
pub async fn authenticate(
    db: &DatabaseConnection,
    client_id: &str,
    secret: &str,
) -> anyhow::Result<Option<oauth_client::Model>> {
    let Some(client) = find(db, client_id).await? else {
        // Spend the same time as a real check, so a response time does not tell which client
        // ids exist.
        let _ = verify_off_runtime(secret, DUMMY_HASH.to_owned()).await?;
        return Ok(None);
    };
    let ok = verify_off_runtime(secret, client.secret_hash.clone()).await? && !client.disabled;
    Ok(ok.then_some(client))
}

/// An Argon2id hash of a random string nobody knows.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FuZ2FtZHVtbXlzYWx0$TbHpJ0mvuyR6z1Kyc4uQK5xrYHIFO9ZdcQ6cI5c0mhQ";
