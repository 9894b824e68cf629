//! The principal a webhook acts as. ACCESS.md: "a webhook belongs to the client that registered
//! it and acts with that client's role, scopes and reach; disabling the client stops its
//! webhooks". The registering token's principal is kept; at delivery an embedded-server client
//! is looked up again, so a disabled client's webhooks stop and a scope taken from it is gone.

use std::collections::BTreeSet;

use entities::{enums::Department, oauth_client};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::principal::{Jurisdiction, Principal, Role, Scope};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub sub: String,
    pub client_id: Option<String>,
    pub role: String,
    pub organisation_id: Option<i64>,
    pub department: Option<Department>,
    pub states: Vec<i32>,
    pub districts: Vec<i32>,
    /// `None`: every state (a national dashboard).
    pub all: bool,
    pub scopes: Vec<String>,
}

impl Owner {
    pub fn of(who: &Principal) -> Self {
        let (all, states, districts) = match &who.jurisdiction {
            Jurisdiction::All => (true, vec![], vec![]),
            Jurisdiction::States(s) => (false, s.clone(), vec![]),
            Jurisdiction::Districts(d) => (false, vec![], d.clone()),
        };
        Self {
            sub: who.sub.clone(),
            client_id: who.client_id.clone(),
            role: who.role.as_str().to_owned(),
            organisation_id: who.organisation_id,
            department: who.department,
            states,
            districts,
            all,
            scopes: who.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }

    /// The principal as registered (`None` when the stored text names an unknown role).
    fn principal(&self) -> Option<Principal> {
        let jurisdiction = if self.all {
            Jurisdiction::All
        } else if !self.districts.is_empty() {
            Jurisdiction::Districts(self.districts.clone())
        } else {
            Jurisdiction::States(self.states.clone())
        };
        Some(Principal {
            sub: self.sub.clone(),
            client_id: self.client_id.clone(),
            role: Role::parse(&self.role)?,
            organisation_id: self.organisation_id,
            department: self.department,
            jurisdiction,
            scopes: self.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            expires_at: None,
        })
    }
}

/// Whether a webhook may act now, and as whom.
#[derive(Debug, Clone)]
pub enum Acting {
    As(Principal),
    /// The owner may not act: the reason is shown on its deliveries.
    Stopped(&'static str),
}

/// The principal `stored` (a webhook's `owner` column) acts as now.
pub async fn acting(db: &impl ConnectionTrait, stored: &str) -> Result<Acting, DbErr> {
    let Ok(owner) = serde_json::from_str::<Owner>(stored) else {
        return Ok(Acting::Stopped("the webhook's owner record is unreadable"));
    };
    let Some(mut who) = owner.principal() else {
        return Ok(Acting::Stopped("the webhook's owner has an unknown role"));
    };
    if let Some(id) = &owner.client_id {
        let client = oauth_client::Entity::find()
            .filter(oauth_client::Column::ClientId.eq(id.as_str()))
            .one(db)
            .await?;
        // A client of an external identity provider is not in this table; its registering
        // token's principal stands.
        if let Some(client) = client {
            if client.disabled {
                return Ok(Acting::Stopped(
                    "the client that registered this webhook is disabled",
                ));
            }
            let now: BTreeSet<Scope> = Scope::parse_list(&client.scopes).unwrap_or_default();
            who.scopes.retain(|s| now.contains(s));
        }
    }
    if !who.has_scope(Scope::WebhooksWrite) {
        return Ok(Acting::Stopped(
            "the webhook's owner no longer holds webhooks:write",
        ));
    }
    Ok(Acting::As(who))
}
