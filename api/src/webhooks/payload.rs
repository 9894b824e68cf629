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
        // The scheme, with what its events are about: the component progressed or added, the
        // inspection recorded, the handover (not the operator's name: personal data, and not
        // what a department system needs); `render` keeps the one the event names.
        Entity::Scheme => (
            Kind::Scheme,
            "... on Scheme { id version code name status statusReason physicalProgress overdue
                sanctionedOn workOrderOn targetCompletionOn completedOn commissionedOn
                handedOverOn openFindings { minor major critical total } district { id }
                components { id kind unit plannedQuantity quantityDone percentDone progressAsOf }
                inspections { id inspectedOn stage verdict component { id }
                    findings { parameter severity open } }
                handover { handedOverOn vwsc { members womenMembers } operatorTrained
                    omArrangement { userChargePerHouseholdPerMonth fundsSource } } }",
        ),
    }
}

/// The lists a scheme is read with for [`related`]; never sent whole.
const SCHEME_LISTS: [&str; 3] = ["components", "inspections", "handover"];

/// What a scheme event is about besides the scheme: (`component` | `inspection` | `handover`,
/// the row as the owner reads it), found by the id the event logged.
fn related(event: &EventRef, row: &Map<String, Value>) -> Option<(&'static str, Value)> {
    let logged = &event.changes;
    let find = |list: &str, kind: Kind, id: Option<i64>| {
        let id = encode(kind, id?).0;
        row.get(list)?
            .as_array()?
            .iter()
            .find(|x| x.get("id").and_then(Value::as_str) == Some(id.as_str()))
            .cloned()
    };
    match event.kind {
        EventKind::SchemeProgressRecorded => Some((
            "component",
            find(
                "components",
                Kind::SchemeComponent,
                logged.get("component_id").and_then(Value::as_i64),
            )?,
        )),
        EventKind::SchemeComponentAdded => Some((
            "component",
            find(
                "components",
                Kind::SchemeComponent,
                logged
                    .get("component")
                    .and_then(|c| c.get("id"))
                    .and_then(Value::as_i64),
            )?,
        )),
        EventKind::SchemeInspected => Some((
            "inspection",
            find(
                "inspections",
                Kind::SchemeInspection,
                logged.get("inspection_id").and_then(Value::as_i64),
            )?,
        )),
        EventKind::SchemeHandedOver => Some(("handover", row.get("handover")?.clone())),
        _ => None,
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
    // A scheme's stored basis points and finding counters are read as the API shows them.
    if logged == "physical_progress_bp" {
        names.push("physicalProgress".to_owned());
    }
    if logged.starts_with("open_findings_") {
        names.push("openFindings".to_owned());
    }
    names
}

/// Events whose rows one GraphQL request reads (each an alias; under the alias limit).
const PER_REQUEST: usize = 40;

/// The rows as the owner reads them, one per event: `None` when it is outside the owner's
/// reach. One request reads many rows, so their loads (and the related rows' ids) are batched
/// by the request's DataLoaders.
async fn read_as_owner(
    schema: &AppSchema,
    svc: Service,
    events: &[&EventRef],
) -> ApiResult<Vec<Option<Map<String, Value>>>> {
    let mut params = Vec::with_capacity(events.len());
    let mut fields = String::new();
    let mut vars = Map::new();
    for (i, event) in events.iter().enumerate() {
        let (kind, selection) = selection(event.entity);
        params.push(format!("$i{i}: ID!"));
        fields.push_str(&format!("e{i}: node(id: $i{i}) {{ {selection} }} "));
        vars.insert(
            format!("i{i}"),
            Value::String(encode(kind, event.entity_id).0),
        );
    }
    let query = format!("query({}) {{ {fields}}}", params.join(", "));
    let req = Request::new(query).variables(Variables::from_json(Value::Object(vars)));
    let (req, batches) = graphql::prepare(req, svc, std::time::Duration::ZERO);
    let res = batches.drive(schema.execute(req)).await;
    if let Some(e) = res
        .errors
        .iter()
        .find(|e| retryable(e) || e.path.is_empty())
    {
        return Err(ApiError::internal(anyhow::anyhow!(
            "reading events' rows failed: {}",
            e.message
        )));
    }
    let data = res.data.into_json().map_err(ApiError::internal)?;
    let mut rows: Vec<Option<Map<String, Value>>> = (0..events.len())
        .map(|i| {
            data.get(format!("e{i}"))
                .and_then(Value::as_object)
                .cloned()
                .filter(|o| !o.is_empty())
        })
        .collect();
    for e in &res.errors {
        // A field the owner may not read (personal data) is left out, not sent as null.
        if let (
            Some(async_graphql::PathSegment::Field(alias)),
            Some(async_graphql::PathSegment::Field(f)),
        ) = (e.path.first(), e.path.get(1))
            && let Some(Some(row)) = alias
                .strip_prefix('e')
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| rows.get_mut(n))
        {
            row.remove(f.as_str());
        }
    }
    Ok(rows)
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
    Ok(bodies(schema, svc, &[event]).await?.pop().flatten())
}

/// [`body`] for many events, read together (one GraphQL request per forty events).
pub async fn bodies(
    schema: &AppSchema,
    svc: Service,
    events: &[&EventRef],
) -> ApiResult<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(events.len());
    for chunk in events.chunks(PER_REQUEST) {
        let rows = read_as_owner(schema, svc.clone(), chunk).await?;
        out.extend(
            chunk
                .iter()
                .zip(rows)
                .map(|(event, row)| row.map(|row| render(event, row))),
        );
    }
    Ok(out)
}

fn render(event: &EventRef, mut row: Map<String, Value>) -> String {
    let related = related(event, &row);
    if event.entity == Entity::Scheme {
        for list in SCHEME_LISTS {
            row.remove(list);
        }
    }
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
    if let Some((name, value)) = related {
        changes.insert(name.to_owned(), value);
    }
    // `changes` holds the row's values when the message is made, which may be a later version
    // than the event's when dispatch is behind; `version` names the values, `eventVersion` the
    // event, so a receiver can tell them apart.
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
            "eventVersion": event.version,
            "changes": changes,
        }
    });
    body.to_string()
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
        assert!(field_names("physical_progress_bp").contains(&"physicalProgress".to_owned()));
        assert!(field_names("open_findings_major").contains(&"openFindings".to_owned()));
    }
}
