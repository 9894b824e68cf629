//! The events each kind of row produces: its kind, the keys row scope needs, and the changed
//! fields. Field names are the rows' own (snake_case), as the audit trail stores them.

use entities::{assignment, task, village, water_quality_test};
use serde::Serialize;
use serde_json::{Map, Value};

use super::log::NewEvent;

/// The fields whose values differ between `before` and `after` (with `after`'s values).
/// Bookkeeping that every write moves (`version`, `updated_at`) is left out.
pub fn changed_fields(before: &impl Serialize, after: &impl Serialize) -> Value {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Value::Object(Map::new());
    };
    let out: Map<String, Value> = a
        .into_iter()
        .filter(|(k, v)| k != "version" && k != "updated_at" && b.get(k) != Some(v))
        .collect();
    Value::Object(out)
}

/// All of a row's fields, for a created row.
pub fn all_fields(row: &impl Serialize) -> Value {
    serde_json::to_value(row).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// Adds `extra`'s fields to the object `payload`.
pub fn with(mut payload: Value, extra: Value) -> Value {
    if let (Value::Object(p), Value::Object(e)) = (&mut payload, extra) {
        p.extend(e);
    }
    payload
}

impl NewEvent {
    pub fn task(kind: &'static str, t: &task::Model, payload: Value) -> Self {
        Self {
            kind,
            entity: "task",
            entity_id: t.id,
            version: t.version,
            state_id: t.state_id,
            district_id: Some(t.district_id),
            village_id: t.village_id,
            payload,
        }
    }

    pub fn village(kind: &'static str, v: &village::Model, payload: Value) -> Self {
        Self {
            kind,
            entity: "village",
            entity_id: v.id,
            version: v.version,
            state_id: v.state_id,
            district_id: Some(v.district_id),
            village_id: Some(v.id),
            payload,
        }
    }

    pub fn assignment(
        kind: &'static str,
        a: &assignment::Model,
        v: &village::Model,
        payload: Value,
    ) -> Self {
        Self {
            kind,
            entity: "assignment",
            entity_id: a.id,
            version: a.version,
            state_id: v.state_id,
            district_id: Some(v.district_id),
            village_id: Some(v.id),
            payload,
        }
    }

    /// A test is never changed after it is recorded, so its version is always 1.
    pub fn water_quality(
        kind: &'static str,
        t: &water_quality_test::Model,
        v: &village::Model,
        payload: Value,
    ) -> Self {
        Self {
            kind,
            entity: "water_quality_test",
            entity_id: t.id,
            version: 1,
            state_id: v.state_id,
            district_id: Some(v.district_id),
            village_id: Some(v.id),
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changed_fields_keep_what_moved_and_leave_out_bookkeeping() {
        let before = json!({"status": "OPEN", "title": "t", "version": 1, "updated_at": "a"});
        let after = json!({"status": "DONE", "title": "t", "version": 2, "updated_at": "b"});
        assert_eq!(changed_fields(&before, &after), json!({"status": "DONE"}));
        assert_eq!(
            with(json!({"a": 1}), json!({"b": 2})),
            json!({"a": 1, "b": 2})
        );
    }
}
