//! Organisation codes to ids, remembered for a minute.
//!
//! Every partner and department token names its organisation by code, so without this every
//! request spends a statement on the same lookup. Sangam never changes an organisation's code,
//! id or department once created (no API writes them), so a remembered answer can only go stale
//! through an operator's hand edit, and then for at most [`FRESH`]. Unknown codes are not
//! remembered: an organisation added a moment ago is found on the next request. Revocation and
//! disabled clients are not affected: they are checked exactly on every request.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use entities::{enums::Department, organisation};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::AuthError;

const FRESH: Duration = Duration::from_secs(60);
/// More codes than any state has organisations; past it the memory is simply cleared.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct KnownOrganisation {
    pub id: i64,
    pub department: Option<Department>,
}

pub struct Organisations {
    db: DatabaseConnection,
    known: Mutex<HashMap<String, (KnownOrganisation, Instant)>>,
}

impl Organisations {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            known: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (KnownOrganisation, Instant)>> {
        // Only a cache sits behind the lock; a panic elsewhere cannot leave it inconsistent.
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The organisation with `code`, if there is one.
    pub async fn by_code(&self, code: &str) -> Result<Option<KnownOrganisation>, AuthError> {
        if let Some((org, at)) = self.remembered().get(code)
            && at.elapsed() < FRESH
        {
            return Ok(Some(*org));
        }
        let Some(row) = organisation::Entity::find()
            .filter(organisation::Column::Code.eq(code))
            .one(&self.db)
            .await
            .map_err(AuthError::from_db)?
        else {
            return Ok(None);
        };
        let org = KnownOrganisation {
            id: row.id,
            department: row.department,
        };
        let mut known = self.remembered();
        if known.len() >= MAX_REMEMBERED {
            known.clear();
        }
        known.insert(code.to_owned(), (org, Instant::now()));
        Ok(Some(org))
    }
}

#[cfg(test)]
mod tests {
    use entities::enums::OrganisationKind;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ActiveModelTrait, Set};

    use super::*;

    #[tokio::test]
    async fn a_code_unknown_a_moment_ago_is_found_once_the_organisation_exists() {
        let db = crate::db::connect("sqlite::memory:", 1).await.expect("db");
        Migrator::up(&db, None).await.expect("migrate");
        let orgs = Organisations::new(db.clone());
        assert!(orgs.by_code("SP-9").await.expect("lookup").is_none());
        let row = organisation::ActiveModel {
            code: Set("SP-9".into()),
            name: Set("Jal Sathi".into()),
            kind: Set(OrganisationKind::SectorPartner),
            ..Default::default()
        }
        .insert(&db)
        .await
        .expect("insert");
        let found = orgs.by_code("SP-9").await.expect("lookup").expect("found");
        assert_eq!(found.id, row.id);
        // Remembered: found again with the database gone.
        db.close().await.expect("close");
        assert_eq!(
            orgs.by_code("SP-9").await.expect("cached").map(|o| o.id),
            Some(row.id)
        );
    }
}
