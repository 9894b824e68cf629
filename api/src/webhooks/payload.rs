//! The body of a delivery, read as the webhook's owner.
//!
//! The changed row is read with a GraphQL query run as the owner's principal, so the body holds
//! exactly what that principal would get from `node(id:)`: nothing when the row is out of its
//! reach (row scope, `service::scope`), and no personal data it may not read (the object types'
//! field rules). No rule is stated twice.

use async_graphql::{Request, Variables};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{Entity, EventKind};
use crate::{
    error::{ApiError, ApiResult, code},
    graphql::{
        self, AppSchema,
        ids::{Kind, encode},
    },
    service::Service,
};

/// One logged event, as webhooks need it.
#[derive(Debug, Clone)]
pub struct EventRef {
    /// Position in the event log.
    pub id: i64,
    pub kind: EventKind,
    pub entity: Entity,
    pub entity_id: i64,
    pub version: i32,
    pub at: DateTime<Utc>,
    /// The changed fields, as logged.
    pub changes: Value,
}

/// What a webhook payload may carry of each kind of row.
fn selection(entity: Entity) -> (Kind, &'static str) {
    match entity {
        Entity::Task => (
            Kind::Task,
            "... on Task { id version kind title description status priority dueOn isOverdue
                createdAt updatedAt village { id } scheme { id } district { id }
                assignee { id } raisedBy { id } }",
        ),
        Entity::Assignment => (
            Kind::Assignment,
            "... on Assignment { id version theme startsOn endsOn isActive
                organisation { id } village { id } }",
        ),
        Entity::WaterQualityTest => (
            Kind::WaterQualityTest,
            "... on WaterQualityTest { id sourceName sourceType sampledOn method labName
                testedBy contaminated village { id } }",
        ),
        Entity::Village => (
            Kind::Village,
            "... on Village { id version lgdCode name households tapConnections
                householdsWithoutTap coveragePercent hgjStatus updatedAt district { id } }",
        ),
    }
}

/// `tap_connections` → `tapConnections`; `assignee_organisation_id` → also tried as
/// `assigneeOrganisation` and `assignee`, so a logged column finds its GraphQL field.
fn field_names(logged: &str) -> Vec<String> {
    fn camel(s: &str) -> String {
        let mut out = String::new();
        let mut up = false;
        for c in s.chars() {
            if c == '_' {
                up = true;
            } else if up {
                out.extend(c.to_uppercase());
                up = false;
            } else {
                out.push(c);
            }
        }
        out
    }
    let mut names = vec![camel(logged)];
    if let Some(base) = logged.strip_suffix("_id") {
        names.push(camel(base));
        if let Some(first) = base.split('_').next() {
            names.push(first.to_owned());
        }
    }
    if logged == "raised_by_organisation_id" {
        names.push("raisedBy".to_owned());
    }
    names
}

/// The row as the owner reads it: `None` when it is outside the owner's reach.
async fn read_as_owner(
    schema: &AppSchema,
    svc: Service,
    entity: Entity,
    id: i64,
) -> ApiResult<Option<Map<String, Value>>> {
    let (kind, fields) = selection(entity);
    let query = format!("query($id: ID!) {{ node(id: $id) {{ {fields} }} }}");
    let vars = Variables::from_json(json!({ "id": encode(kind, id) }));
    let req = Request::new(query).variables(vars);
    let (req, batches) = graphql::prepare(req, svc, std::time::Duration::ZERO);
    let res = batches.drive(schema.execute(req)).await;
    let data = res.data.into_json().map_err(ApiError::internal)?;
    let Some(mut row) = data
        .get("node")
        .and_then(Value::as_object)
        .cloned()
        .filter(|o| !o.is_empty())
    else {
        if let Some(e) = res.errors.iter().find(|e| retryable(e)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "reading an event's row failed: {}",
                e.message
            )));
        }
        return Ok(None);
    };
    for e in &res.errors {
        if retryable(e) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "reading an event's row failed: {}",
                e.message
            )));
        }
        // A field the owner may not read (personal data) is left out, not sent as null.
        if let Some(async_graphql::PathSegment::Field(f)) = e.path.get(1) {
            row.remove(f.as_str());
        }
    }
    Ok(Some(row))
}

fn retryable(e: &async_graphql::ServerError) -> bool {
    let code = e
        .extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        });
    matches!(
        code.as_deref(),
        Some(code::INTERNAL) | Some(code::UNAVAILABLE)
    )
}

/// The JSON body for `event`, as `svc`'s principal may see it; `None` when the row is out of its
/// reach. `data.changes` holds the logged changed fields the owner may read, with their values
/// as of now; creations carry the whole row.
pub async fn body(schema: &AppSchema, svc: Service, event: &EventRef) -> ApiResult<Option<String>> {
    let Some(row) = read_as_owner(schema, svc, event.entity, event.entity_id).await? else {
        return Ok(None);
    };
    let created = matches!(
        event.kind,
        EventKind::TaskCreated | EventKind::AssignmentCreated | EventKind::WaterQualityRecorded
    );
    let mut changes = Map::new();
    if created {
        changes = row.clone();
    } else if let Some(logged) = event.changes.as_object() {
        for key in logged.keys() {
            if let Some((name, v)) = field_names(key)
                .into_iter()
                .find_map(|n| row.get(&n).map(|v| (n, v.clone())))
            {
                changes.insert(name, v);
            }
        }
    }
    changes.remove("id");
    let version = row
        .get("version")
        .and_then(Value::as_i64)
        .unwrap_or(i64::from(event.version));
    let body = json!({
        "type": event.kind.as_str(),
        "timestamp": event.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": {
            "eventId": event.id.to_string(),
            "entity": event.entity.as_str(),
            "id": row.get("id").cloned().unwrap_or(Value::Null),
            "version": version,
            "changes": changes,
        }
    });
    Ok(Some(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_columns_find_their_graphql_fields() {
        assert_eq!(field_names("status"), vec!["status"]);
        assert!(field_names("tap_connections").contains(&"tapConnections".to_owned()));
        assert!(field_names("assignee_organisation_id").contains(&"assignee".to_owned()));
        assert!(field_names("raised_by_organisation_id").contains(&"raisedBy".to_owned()));
    }
}
