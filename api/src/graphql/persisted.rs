//! Automatic persisted queries (the Apollo protocol) and the allow-list mode.
//!
//! A client sends `extensions.persistedQuery.sha256Hash` without the query text; an unknown hash
//! is answered `PERSISTED_QUERY_NOT_FOUND`, and the client resends with the text, which is then
//! stored (shared by all instances through the database). In allow-list mode only queries an
//! operator registered (`sangam persisted-query add`) run, and nothing new is stored.

use async_graphql::Request;
use chrono::Utc;
use entities::persisted_query;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set, SqlErr};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, code};

fn bad_extension(message: &str) -> ApiError {
    ApiError::bad_input("extensions.persistedQuery", message)
}

pub fn sha256_hex(query: &str) -> String {
    Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn requested_hash(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(pq) = req.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let json = serde_json::to_value(pq).map_err(|_| bad_extension("malformed persistedQuery"))?;
    if json.get("version").and_then(|v| v.as_i64()) != Some(1) {
        return Err(bad_extension("unsupported persistedQuery version"));
    }
    let hash = json
        .get("sha256Hash")
        .and_then(|h| h.as_str())
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad_extension("persistedQuery.sha256Hash must be 64 hex characters"))?;
    Ok(Some(hash.to_ascii_lowercase()))
}

/// Fills in the query of a persisted-query request, stores new ones, and applies the allow-list.
pub async fn resolve(
    db: &DatabaseConnection,
    req: &mut Request,
    allow_list: bool,
) -> Result<(), ApiError> {
    let internal = ApiError::from;
    let hash = requested_hash(req)?;
    match (&hash, req.query.trim().is_empty()) {
        (Some(h), true) => {
            let stored = persisted_query::Entity::find_by_id(h.clone())
                .one(db)
                .await
                .map_err(internal)?;
            match stored {
                Some(q) => req.query = q.query,
                None => {
                    return Err(ApiError::refused(
                        code::PERSISTED_QUERY_NOT_FOUND,
                        "PersistedQueryNotFound",
                    ));
                }
            }
        }
        (Some(h), false) => {
            if sha256_hex(&req.query) != *h {
                return Err(bad_extension(
                    "persistedQuery.sha256Hash does not match the query",
                ));
            }
            if !allow_list {
                let row = persisted_query::ActiveModel {
                    sha256: Set(h.clone()),
                    query: Set(req.query.clone()),
                    allowed: Set(false),
                    created_at: Set(Utc::now()),
                };
                if let Err(e) = row.insert(db).await
                    && !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
                {
                    return Err(internal(e));
                }
            }
        }
        (None, _) => {}
    }
    if allow_list {
        let h = hash.unwrap_or_else(|| sha256_hex(&req.query));
        let known = persisted_query::Entity::find_by_id(h)
            .one(db)
            .await
            .map_err(internal)?;
        if !known.is_some_and(|q| q.allowed && q.query == req.query) {
            return Err(ApiError::refused(
                code::OPERATION_NOT_ALLOWED,
                "only registered operations run on this server",
            ));
        }
    }
    Ok(())
}

/// Registers `query` for the allow-list; returns its hash.
pub async fn register(db: &DatabaseConnection, query: &str) -> anyhow::Result<String> {
    let hash = sha256_hex(query);
    let row = persisted_query::ActiveModel {
        sha256: Set(hash.clone()),
        query: Set(query.to_owned()),
        allowed: Set(true),
        created_at: Set(Utc::now()),
    };
    match persisted_query::Entity::find_by_id(hash.clone())
        .one(db)
        .await?
    {
        Some(_) => {
            row.update(db).await?;
        }
        None => {
            row.insert(db).await?;
        }
    }
    Ok(hash)
}
