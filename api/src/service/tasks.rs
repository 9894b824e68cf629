//! Writes on convergence tasks. Each is one transaction: a version-checked update, a history
//! entry, an audit record, and an event once committed.

use chrono::{NaiveDate, Utc};
use entities::{
    district,
    enums::{Department, TaskEventKind, TaskKind, TaskPriority, TaskStatus},
    organisation, scheme, task, task_event, task_evidence, village,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};

use super::{
    Service, rollup,
    workflow::{check_move, may_attach, may_edit, may_move},
    write::{Begun, Tx},
};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        Event,
        change::{all_fields, changed_fields, with},
        log::NewEvent,
    },
    principal::{Role, Scope},
};

pub struct NewTask {
    pub kind: TaskKind,
    pub title: String,
    pub description: String,
    pub village: Option<i64>,
    pub scheme: Option<i64>,
    pub assignee: Option<i64>,
    pub priority: TaskPriority,
    pub due_on: Option<NaiveDate>,
}

#[derive(Default)]
pub struct TaskEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<TaskPriority>,
    /// `Some(None)` clears the due date.
    pub due_on: Option<Option<NaiveDate>>,
}

fn check_title(title: &str) -> ApiResult<()> {
    let n = title.trim().chars().count();
    if n == 0 || n > 200 {
        return Err(ApiError::bad_input(
            "input.title",
            "a title has 1 to 200 characters",
        ));
    }
    Ok(())
}

impl Service {
    /// The caller may write tasks at all (scope and role).
    fn task_writer(&self) -> ApiResult<()> {
        self.require(Scope::TasksWrite)?;
        if self.principal().role == Role::Dashboard {
            return Err(ApiError::Forbidden {
                needs: "a role that writes tasks".into(),
            });
        }
        Ok(())
    }

    async fn visible_task(&self, id: i64) -> ApiResult<task::Model> {
        self.by_id::<task::Entity>(id)
            .await?
            .ok_or(ApiError::NotFound("task"))
    }

    /// The PHED organisation of a state: where a partner's tasks go by default.
    async fn phed_of(&self, state_id: i64) -> ApiResult<i64> {
        organisation::Entity::find()
            .filter(organisation::Column::Department.eq(Department::Phed))
            .filter(organisation::Column::StateId.eq(state_id))
            .one(self.db())
            .await?
            .map(|o| o.id)
            .ok_or_else(|| {
                ApiError::bad_input(
                    "input.assignee",
                    "the state has no PHED organisation; name an assignee",
                )
            })
    }

    pub async fn create_task(&self, new: NewTask, key: Option<&str>) -> ApiResult<task::Model> {
        self.task_writer()?;
        check_title(&new.title)?;
        if new.due_on.is_some_and(|d| d < self.today()) {
            return Err(ApiError::bad_input(
                "input.dueOn",
                "a due date cannot be in the past",
            ));
        }
        let who = self.principal();
        let (village_id, scheme_id, district_id, state_id) = match (new.village, new.scheme) {
            (Some(v), None) => {
                let v = self
                    .by_id::<village::Entity>(v)
                    .await?
                    .ok_or(ApiError::NotFound("village"))?;
                (Some(v.id), None, v.district_id, v.state_id)
            }
            (None, Some(s)) => {
                if who.role == Role::Partner {
                    return Err(ApiError::Forbidden {
                        needs: "a role that raises scheme tasks".into(),
                    });
                }
                let s = self
                    .by_id::<scheme::Entity>(s)
                    .await?
                    .ok_or(ApiError::NotFound("scheme"))?;
                let d = district::Entity::find_by_id(s.district_id)
                    .one(self.db())
                    .await?
                    .ok_or(ApiError::NotFound("district"))?;
                (None, Some(s.id), d.id, d.state_id)
            }
            _ => {
                return Err(ApiError::bad_input(
                    "input.village",
                    "give exactly one of `village` and `scheme`",
                ));
            }
        };
        let assignee = match (new.assignee, who.role) {
            (Some(org), _) => {
                organisation::Entity::find_by_id(org)
                    .one(self.db())
                    .await?
                    .ok_or_else(|| ApiError::bad_input("input.assignee", "no such organisation"))?
                    .id
            }
            (None, Role::Partner) => self.phed_of(state_id).await?,
            (None, _) => {
                return Err(ApiError::bad_input(
                    "input.assignee",
                    "name the organisation that will do the work",
                ));
            }
        };
        let mut tx = match self.begin::<task::Model>("createTask", key).await? {
            Begun::Replay(t) => return Ok(t),
            Begun::Fresh(tx) => tx,
        };
        let now = Utc::now();
        let created = task::ActiveModel {
            kind: Set(new.kind),
            title: Set(new.title.trim().to_owned()),
            description: Set(new.description),
            village_id: Set(village_id),
            scheme_id: Set(scheme_id),
            district_id: Set(district_id),
            state_id: Set(state_id),
            assignee_organisation_id: Set(assignee),
            raised_by_organisation_id: Set(who.organisation_id),
            status: Set(TaskStatus::Open),
            priority: Set(new.priority),
            due_on: Set(new.due_on),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            ..Default::default()
        }
        .insert(tx.conn())
        .await?;
        history(
            &tx,
            created.id,
            TaskEventKind::Created,
            None,
            Some(TaskStatus::Open),
            None,
        )
        .await?;
        tx.audit(
            "task",
            created.id,
            Some(district_id),
            None::<&task::Model>,
            Some(&created),
        )
        .await?;
        rollup::task_changed(tx.conn(), None, &created).await?;
        announce(&mut tx, &created, "created");
        tx.record(NewEvent::task(
            "task.created",
            &created,
            all_fields(&created),
        ));
        tx.commit(&created).await?;
        Ok(created)
    }

    pub async fn update_task(
        &self,
        id: i64,
        expected: i32,
        edit: TaskEdit,
        key: Option<&str>,
    ) -> ApiResult<task::Model> {
        self.task_writer()?;
        if let Some(t) = &edit.title {
            check_title(t)?;
        }
        let before = self.visible_task(id).await?;
        may_edit(self.principal(), &before)?;
        let mut set: Vec<(task::Column, SimpleExpr)> = Vec::new();
        if let Some(t) = edit.title {
            set.push((task::Column::Title, Expr::value(t.trim().to_owned())));
        }
        if let Some(d) = edit.description {
            set.push((task::Column::Description, Expr::value(d)));
        }
        if let Some(p) = edit.priority {
            set.push((task::Column::Priority, Expr::value(p)));
        }
        if let Some(due) = edit.due_on {
            set.push((task::Column::DueOn, Expr::value(due)));
        }
        if set.is_empty() {
            return Err(ApiError::bad_input("input", "nothing to change"));
        }
        self.change_task(
            &before,
            Some(expected),
            set,
            TaskEventKind::Updated,
            None,
            None,
            "updateTask",
            key,
            "updated",
        )
        .await
    }

    pub async fn transition_task(
        &self,
        id: i64,
        expected: i32,
        to: TaskStatus,
        note: Option<String>,
        key: Option<&str>,
    ) -> ApiResult<task::Model> {
        self.task_writer()?;
        let before = self.visible_task(id).await?;
        may_move(self.principal(), &before, to)?;
        check_move(before.status, to, note.as_deref())?;
        let set = vec![(task::Column::Status, Expr::value(to))];
        let from = Some(before.status);
        self.change_task(
            &before,
            Some(expected),
            set,
            TaskEventKind::StatusChanged,
            from.zip(Some(to)),
            note,
            "transitionTask",
            key,
            "status",
        )
        .await
    }

    pub async fn reassign_task(
        &self,
        id: i64,
        expected: i32,
        assignee: i64,
        note: Option<String>,
        key: Option<&str>,
    ) -> ApiResult<task::Model> {
        self.task_writer()?;
        let before = self.visible_task(id).await?;
        may_edit(self.principal(), &before)?;
        organisation::Entity::find_by_id(assignee)
            .one(self.db())
            .await?
            .ok_or_else(|| ApiError::bad_input("assignee", "no such organisation"))?;
        let set = vec![(task::Column::AssigneeOrganisationId, Expr::value(assignee))];
        self.change_task(
            &before,
            Some(expected),
            set,
            TaskEventKind::Reassigned,
            None,
            note,
            "reassignTask",
            key,
            "reassigned",
        )
        .await
    }

    /// A comment depends on no state, so it needs no expected version; it still counts as a
    /// write (the version moves on).
    pub async fn comment_on_task(
        &self,
        id: i64,
        text: String,
        key: Option<&str>,
    ) -> ApiResult<task::Model> {
        self.task_writer()?;
        if text.trim().is_empty() || text.chars().count() > 4000 {
            return Err(ApiError::bad_input(
                "text",
                "a comment has 1 to 4000 characters",
            ));
        }
        let before = self.visible_task(id).await?;
        self.change_task(
            &before,
            None,
            Vec::new(),
            TaskEventKind::Commented,
            None,
            Some(text),
            "commentOnTask",
            key,
            "commented",
        )
        .await
    }

    pub async fn attach_evidence(
        &self,
        id: i64,
        url: String,
        sha256: String,
        caption: Option<String>,
        key: Option<&str>,
    ) -> ApiResult<task::Model> {
        self.task_writer()?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
            return Err(ApiError::bad_input(
                "input.url",
                "evidence must be an http(s) URL of at most 2000 characters",
            ));
        }
        let sha = sha256.to_ascii_lowercase();
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::bad_input(
                "input.sha256",
                "sha256 is 64 hexadecimal characters",
            ));
        }
        let before = self.visible_task(id).await?;
        may_attach(self.principal(), &before)?;
        let note = caption.clone().unwrap_or_else(|| url.clone());
        let fields = serde_json::json!({"url": url, "sha256": sha, "caption": caption});
        let mut tx = match self.begin::<task::Model>("attachEvidence", key).await? {
            Begun::Replay(t) => return Ok(t),
            Begun::Fresh(tx) => tx,
        };
        task_evidence::ActiveModel {
            task_id: Set(id),
            url: Set(url),
            sha256: Set(sha),
            caption: Set(caption),
            attached_by: Set(self.principal().sub.clone()),
            at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(tx.conn())
        .await?;
        let after = bump(&tx, &before, None, Vec::new()).await?;
        history(
            &tx,
            id,
            TaskEventKind::EvidenceAttached,
            None,
            None,
            Some(note),
        )
        .await?;
        tx.audit(
            "task",
            id,
            Some(before.district_id),
            Some(&before),
            Some(&after),
        )
        .await?;
        announce(&mut tx, &after, "evidence");
        tx.record(NewEvent::task("task.evidence_attached", &after, fields));
        tx.commit(&after).await?;
        Ok(after)
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_task(
        &self,
        before: &task::Model,
        expected: Option<i32>,
        set: Vec<(task::Column, SimpleExpr)>,
        kind: TaskEventKind,
        moved: Option<(TaskStatus, TaskStatus)>,
        note: Option<String>,
        operation: &'static str,
        key: Option<&str>,
        change: &str,
    ) -> ApiResult<task::Model> {
        if let Some(v) = expected
            && v != before.version
        {
            return Err(stale(before.version));
        }
        let mut tx = match self.begin::<task::Model>(operation, key).await? {
            Begun::Replay(t) => return Ok(t),
            Begun::Fresh(tx) => tx,
        };
        let after = bump(&tx, before, expected, set).await?;
        let (event_kind, note_field) = match kind {
            TaskEventKind::StatusChanged => ("task.transitioned", "note"),
            TaskEventKind::Reassigned => ("task.reassigned", "note"),
            TaskEventKind::Commented => ("task.commented", "comment"),
            _ => ("task.updated", "note"),
        };
        let mut fields = changed_fields(before, &after);
        if let Some(n) = &note {
            fields = with(fields, serde_json::json!({ note_field: n }));
        }
        history(
            &tx,
            before.id,
            kind,
            moved.map(|m| m.0),
            moved.map(|m| m.1),
            note,
        )
        .await?;
        tx.audit(
            "task",
            before.id,
            Some(before.district_id),
            Some(before),
            Some(&after),
        )
        .await?;
        // Only version-checked changes move a count (comments and evidence set no counted
        // column), and for those `before` is exactly the row this update replaced.
        if expected.is_some() {
            rollup::task_changed(tx.conn(), Some(before), &after).await?;
        }
        announce(&mut tx, &after, change);
        tx.record(NewEvent::task(event_kind, &after, fields));
        tx.commit(&after).await?;
        Ok(after)
    }
}

fn stale(current: i32) -> ApiError {
    ApiError::Conflict {
        message: format!("the task changed since you read it; it is now at version {current}"),
        current_version: Some(current),
    }
}

fn announce(tx: &mut Tx<'_>, t: &task::Model, change: &str) {
    tx.emit(Event::Task {
        task_id: t.id,
        version: t.version,
        change: change.to_owned(),
    });
}

/// The version-checked update: one statement that both checks and writes, so two writers
/// racing on PostgreSQL cannot both win.
async fn bump(
    tx: &Tx<'_>,
    t: &task::Model,
    expected: Option<i32>,
    set: Vec<(task::Column, SimpleExpr)>,
) -> ApiResult<task::Model> {
    let mut q = task::Entity::update_many()
        .col_expr(
            task::Column::Version,
            Expr::col(task::Column::Version).add(1),
        )
        .col_expr(task::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(task::Column::Id.eq(t.id));
    for (col, value) in set {
        q = q.col_expr(col, value);
    }
    if let Some(v) = expected {
        q = q.filter(task::Column::Version.eq(v));
    }
    let done = q.exec(tx.conn()).await?;
    let now = task::Entity::find_by_id(t.id)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("task"))?;
    if done.rows_affected == 0 {
        return Err(stale(now.version));
    }
    Ok(now)
}

async fn history(
    tx: &Tx<'_>,
    task_id: i64,
    kind: TaskEventKind,
    from: Option<TaskStatus>,
    to: Option<TaskStatus>,
    note: Option<String>,
) -> ApiResult<()> {
    let who = tx.svc().principal();
    task_event::ActiveModel {
        task_id: Set(task_id),
        kind: Set(kind),
        from_status: Set(from),
        to_status: Set(to),
        note: Set(note),
        actor_sub: Set(who.sub.clone()),
        actor_organisation_id: Set(who.organisation_id),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?;
    Ok(())
}
