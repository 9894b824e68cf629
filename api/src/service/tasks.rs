//! Writes on convergence tasks. Each goes through the one write path (`Service::write`): the
//! checks, a version-checked update, a history entry, an audit record and an event, in one
//! transaction.

use chrono::{NaiveDate, Utc};
use entities::{
    district,
    enums::{Department, TaskEventKind, TaskKind, TaskPriority, TaskStatus},
    organisation, scheme, state, task, task_event, task_evidence, village,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, SimpleExpr},
};
use serde_json::{Value, json};

use super::{
    Service, rollup,
    text::{self, at_most, at_most_opt},
    workflow::{check_move, may_attach, may_edit, may_move},
    write::Tx,
};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        change::{all_fields, changed_fields, with},
        log::NewEvent,
    },
    principal::{Principal, Role, Scope},
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
    if n == 0 || n > text::TITLE {
        return Err(ApiError::bad_input(
            "input.title",
            format!("a title has 1 to {} characters", text::TITLE),
        ));
    }
    Ok(())
}

/// The caller may write tasks at all (scope and role).
pub(crate) fn task_writer(svc: &Service) -> ApiResult<()> {
    svc.require(Scope::TasksWrite)?;
    if svc.principal().role == Role::Dashboard {
        return Err(ApiError::Forbidden {
            needs: "a role that writes tasks".into(),
        });
    }
    Ok(())
}

/// The PHED organisation of a state: where a partner's tasks go by default.
async fn phed_of(tx: &Tx<'_>, state_id: i64) -> ApiResult<i64> {
    super::quality::department_org(tx.conn(), Department::Phed, state_id)
        .await?
        .ok_or_else(|| {
            ApiError::bad_input(
                "input.assignee",
                "the state has no PHED organisation; name an assignee",
            )
        })
}

async fn organisation_named(tx: &Tx<'_>, argument: &str, id: i64) -> ApiResult<i64> {
    Ok(organisation::Entity::find_by_id(id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::bad_input(argument, "no such organisation"))?
        .id)
}

/// BAD_USER_INPUT on `argument` unless the task's assignee can see it: a task handed to an
/// organisation outside its reach would be work nobody is told about. The question is row
/// scope's, asked for the organisation acting as itself (`Principal::of_organisation`).
async fn assignee_sees(tx: &Tx<'_>, argument: &str, t: &task::Model) -> ApiResult<()> {
    let org = organisation::Entity::find_by_id(t.assignee_organisation_id)
        .one(tx.conn())
        .await?
        .ok_or_else(|| ApiError::bad_input(argument, "no such organisation"))?;
    let home = match org.state_id {
        Some(s) => state::Entity::find_by_id(s).one(tx.conn()).await?,
        None => None,
    };
    let who = Principal::of_organisation(&org, home.as_ref().map(|s| s.lgd_code));
    let view = Service::on(tx.svc().db().clone(), who, tx.svc().today());
    let seen = view
        .scoped::<task::Entity>()?
        .filter(task::Column::Id.eq(t.id))
        .one(tx.conn())
        .await?;
    if seen.is_some() {
        return Ok(());
    }
    let where_ = home.map_or_else(String::new, |s| format!(" (it works in {})", s.name));
    Err(ApiError::bad_input(
        argument,
        format!(
            "{} could not see this task{where_}, so it cannot be assigned it",
            org.code
        ),
    ))
}

/// The entry a write adds to a task's history.
struct Entry {
    kind: TaskEventKind,
    moved: Option<(TaskStatus, TaskStatus)>,
    note: Option<String>,
}

impl Entry {
    fn plain(kind: TaskEventKind, note: Option<String>) -> Self {
        Self {
            kind,
            moved: None,
            note,
        }
    }
}

/// The end of every task write: its history entry, its audit record, the counts it moves and
/// its event. `before` is `None` for a created task; `counted` says whether the update was
/// version-checked, so that `before` is exactly the row it replaced (rollups need that).
async fn finish(
    tx: &mut Tx<'_>,
    before: Option<&task::Model>,
    after: &task::Model,
    entry: Entry,
    kind: &'static str,
    fields: Value,
    counted: bool,
) -> ApiResult<()> {
    history(tx, after.id, entry).await?;
    tx.audit(
        "task",
        after.id,
        Some(after.district_id),
        before,
        Some(after),
    )
    .await?;
    if counted {
        rollup::task_changed(tx.conn(), before, after).await?;
    }
    tx.emit(NewEvent::task(kind, after, fields));
    Ok(())
}

/// Raises a task in `tx`: the body of `createTask`, and of each item of `createTasks`.
pub(crate) async fn create_in(tx: &mut Tx<'_>, new: NewTask) -> ApiResult<task::Model> {
    let svc = tx.svc();
    task_writer(svc)?;
    check_title(&new.title)?;
    at_most("input.description", &new.description, text::DESCRIPTION)?;
    if new.due_on.is_some_and(|d| d < svc.today()) {
        return Err(ApiError::bad_input(
            "input.dueOn",
            "a due date cannot be in the past",
        ));
    }
    let who = svc.principal().clone();
    let (village_id, scheme_id, district_id, state_id) = match (new.village, new.scheme) {
        (Some(v), None) => {
            let v = tx.visible::<village::Entity>(v, "village").await?;
            (Some(v.id), None, v.district_id, v.state_id)
        }
        (None, Some(s)) => {
            if who.role == Role::Partner {
                return Err(ApiError::Forbidden {
                    needs: "a role that raises scheme tasks".into(),
                });
            }
            let s = tx.visible::<scheme::Entity>(s, "scheme").await?;
            let d = district::Entity::find_by_id(s.district_id)
                .one(tx.conn())
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
        (Some(org), _) => organisation_named(tx, "input.assignee", org).await?,
        (None, Role::Partner) => phed_of(tx, state_id).await?,
        (None, _) => {
            return Err(ApiError::bad_input(
                "input.assignee",
                "name the organisation that will do the work",
            ));
        }
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
    assignee_sees(tx, "input.assignee", &created).await?;
    let entry = Entry {
        kind: TaskEventKind::Created,
        moved: None,
        note: None,
    };
    let fields = all_fields(&created);
    finish(tx, None, &created, entry, "task.created", fields, true).await?;
    Ok(created)
}

/// A move through the workflow, asked of task `id` at version `expected`.
#[derive(Debug, Clone)]
pub struct Move {
    pub id: i64,
    pub expected: i32,
    pub to: TaskStatus,
    pub note: Option<String>,
}

/// Moves a task in `tx`: the body of `transitionTask`, and of each item of `transitionTasks`.
pub(crate) async fn transition_in(tx: &mut Tx<'_>, m: Move) -> ApiResult<task::Model> {
    let Move {
        id,
        expected,
        to,
        note,
    } = m;
    task_writer(tx.svc())?;
    at_most_opt("note", note.as_deref(), text::NOTE)?;
    let before = tx.visible::<task::Entity>(id, "task").await?;
    may_move(tx.svc().principal(), &before, to)?;
    check_move(before.status, to, note.as_deref())?;
    let set = vec![(task::Column::Status, Expr::value(to))];
    let after = bump(tx, &before, Some(expected), set).await?;
    let fields = with(changed_fields(&before, &after), json!({ "note": note }));
    let entry = Entry {
        kind: TaskEventKind::StatusChanged,
        moved: Some((before.status, to)),
        note,
    };
    finish(
        tx,
        Some(&before),
        &after,
        entry,
        "task.transitioned",
        fields,
        true,
    )
    .await?;
    Ok(after)
}

impl Service {
    pub async fn create_task(&self, new: NewTask, key: Option<&str>) -> ApiResult<task::Model> {
        self.write("createTask", key, move |tx| Box::pin(create_in(tx, new)))
            .await
    }

    pub async fn update_task(
        &self,
        id: i64,
        expected: i32,
        edit: TaskEdit,
        key: Option<&str>,
    ) -> ApiResult<task::Model> {
        self.write("updateTask", key, move |tx| {
            Box::pin(async move {
                task_writer(tx.svc())?;
                if let Some(t) = &edit.title {
                    check_title(t)?;
                }
                at_most_opt(
                    "input.description",
                    edit.description.as_deref(),
                    text::DESCRIPTION,
                )?;
                let before = tx.visible::<task::Entity>(id, "task").await?;
                may_edit(tx.svc().principal(), &before)?;
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
                let after = bump(tx, &before, Some(expected), set).await?;
                let entry = Entry::plain(TaskEventKind::Updated, None);
                let fields = changed_fields(&before, &after);
                finish(
                    tx,
                    Some(&before),
                    &after,
                    entry,
                    "task.updated",
                    fields,
                    true,
                )
                .await?;
                Ok(after)
            })
        })
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
        let m = Move {
            id,
            expected,
            to,
            note,
        };
        self.write("transitionTask", key, move |tx| {
            Box::pin(transition_in(tx, m))
        })
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
        self.write("reassignTask", key, move |tx| {
            Box::pin(async move {
                task_writer(tx.svc())?;
                at_most_opt("note", note.as_deref(), text::NOTE)?;
                let before = tx.visible::<task::Entity>(id, "task").await?;
                may_edit(tx.svc().principal(), &before)?;
                let assignee = organisation_named(tx, "assignee", assignee).await?;
                let set = vec![(task::Column::AssigneeOrganisationId, Expr::value(assignee))];
                let after = bump(tx, &before, Some(expected), set).await?;
                assignee_sees(tx, "assignee", &after).await?;
                let fields = with(changed_fields(&before, &after), json!({ "note": note }));
                let entry = Entry::plain(TaskEventKind::Reassigned, note);
                finish(
                    tx,
                    Some(&before),
                    &after,
                    entry,
                    "task.reassigned",
                    fields,
                    true,
                )
                .await?;
                Ok(after)
            })
        })
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
        self.write("commentOnTask", key, move |tx| {
            Box::pin(async move {
                task_writer(tx.svc())?;
                if text.trim().is_empty() || text.chars().count() > text::NOTE {
                    return Err(ApiError::bad_input(
                        "text",
                        format!("a comment has 1 to {} characters", text::NOTE),
                    ));
                }
                let before = tx.visible::<task::Entity>(id, "task").await?;
                let after = bump(tx, &before, None, Vec::new()).await?;
                let fields = json!({ "comment": text });
                let entry = Entry::plain(TaskEventKind::Commented, Some(text));
                // No counted column moves, and `before` may not be the row this update replaced.
                finish(
                    tx,
                    Some(&before),
                    &after,
                    entry,
                    "task.commented",
                    fields,
                    false,
                )
                .await?;
                Ok(after)
            })
        })
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
        self.write("attachEvidence", key, move |tx| {
            Box::pin(async move {
                task_writer(tx.svc())?;
                if !(url.starts_with("https://") || url.starts_with("http://"))
                    || url.chars().count() > text::URL
                {
                    return Err(ApiError::bad_input(
                        "input.url",
                        format!(
                            "evidence must be an http(s) URL of at most {} characters",
                            text::URL
                        ),
                    ));
                }
                let sha = sha256.to_ascii_lowercase();
                if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ApiError::bad_input(
                        "input.sha256",
                        "sha256 is 64 hexadecimal characters",
                    ));
                }
                at_most_opt("input.caption", caption.as_deref(), text::CAPTION)?;
                let before = tx.visible::<task::Entity>(id, "task").await?;
                may_attach(tx.svc().principal(), &before)?;
                let fields = json!({ "url": url, "sha256": sha, "caption": caption });
                task_evidence::ActiveModel {
                    task_id: Set(id),
                    url: Set(url),
                    sha256: Set(sha),
                    caption: Set(caption),
                    attached_by: Set(tx.svc().principal().sub.clone()),
                    at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(tx.conn())
                .await?;
                let after = bump(tx, &before, None, Vec::new()).await?;
                // The caption lives with the evidence; the history entry only marks the moment.
                let entry = Entry::plain(TaskEventKind::EvidenceAttached, None);
                finish(
                    tx,
                    Some(&before),
                    &after,
                    entry,
                    "task.evidence_attached",
                    fields,
                    false,
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }
}

fn stale(current: i32) -> ApiError {
    ApiError::Conflict {
        message: format!("the task changed since you read it; it is now at version {current}"),
        current_version: Some(current),
    }
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

async fn history(tx: &Tx<'_>, task_id: i64, entry: Entry) -> ApiResult<()> {
    let who = tx.svc().principal();
    task_event::ActiveModel {
        task_id: Set(task_id),
        kind: Set(entry.kind),
        from_status: Set(entry.moved.map(|m| m.0)),
        to_status: Set(entry.moved.map(|m| m.1)),
        note: Set(entry.note),
        actor_sub: Set(who.sub.clone()),
        actor_organisation_id: Set(who.organisation_id),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?;
    Ok(())
}

/// Moves task `before` to `to` as the system's consequence of another write in `tx` (a clean
/// retest closing its retest task): checked against the version just read, with history, audit,
/// counts and event like any transition. Row scope and the role's rights were the triggering
/// write's to check; the state machine is not consulted, since the work the task asked for is
/// what the triggering write records.
pub(crate) async fn moved_by_system(
    tx: &mut Tx<'_>,
    before: &task::Model,
    to: TaskStatus,
    note: String,
) -> ApiResult<task::Model> {
    let set = vec![(task::Column::Status, Expr::value(to))];
    let after = bump(tx, before, Some(before.version), set).await?;
    let fields = with(changed_fields(before, &after), json!({ "note": note }));
    let entry = Entry {
        kind: TaskEventKind::StatusChanged,
        moved: Some((before.status, to)),
        note: Some(note),
    };
    finish(
        tx,
        Some(before),
        &after,
        entry,
        "task.transitioned",
        fields,
        true,
    )
    .await?;
    Ok(after)
}

/// Adds `note` to task `before`'s history as the system's comment on another write in `tx`
/// (a contaminated retest that keeps the task open), as `commentOnTask` would.
pub(crate) async fn noted_by_system(
    tx: &mut Tx<'_>,
    before: &task::Model,
    note: String,
) -> ApiResult<task::Model> {
    let after = bump(tx, before, None, Vec::new()).await?;
    let fields = json!({ "comment": note });
    let entry = Entry::plain(TaskEventKind::Commented, Some(note));
    finish(
        tx,
        Some(before),
        &after,
        entry,
        "task.commented",
        fields,
        false,
    )
    .await?;
    Ok(after)
}
