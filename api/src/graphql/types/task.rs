//! Convergence tasks and their history.

use async_graphql::{Context, ID, InputType, Object, Value};
use chrono::{DateTime, NaiveDate, Utc};
use entities::{enums::*, *};

use super::{District, Organisation, Scheme, Village, WaterQualityTest, personal, plain::Plain};
use crate::{
    error::ApiResult,
    graphql::{
        context::CtxExt,
        ids::{Kind, encode},
        loaders,
    },
    service::filters::is_overdue,
};

/// A piece of convergence work on a village or a scheme, assigned to a department or a partner.
pub struct Task(pub task::Model);

/// The fields that read the row alone, for a page's tasks answered in one pass (`plain.rs`):
/// each made as its resolver below makes it.
impl Plain for Task {
    fn plain(&self, name: &str) -> Option<Value> {
        let t = &self.0;
        Some(match name {
            "id" => encode(Kind::Task, t.id).to_value(),
            "kind" => t.kind.to_value(),
            "title" => Value::String(t.title.clone()),
            "description" => Value::String(t.description.clone()),
            "status" => t.status.to_value(),
            "priority" => t.priority.to_value(),
            "dueOn" => t.due_on.to_value(),
            "createdAt" => t.created_at.to_value(),
            "updatedAt" => t.updated_at.to_value(),
            "version" => t.version.to_value(),
            _ => return None,
        })
    }
}

#[Object]
impl Task {
    pub async fn id(&self) -> ID {
        encode(Kind::Task, self.0.id)
    }
    async fn kind(&self) -> TaskKind {
        self.0.kind
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn status(&self) -> TaskStatus {
        self.0.status
    }
    async fn priority(&self) -> TaskPriority {
        self.0.priority
    }
    async fn due_on(&self) -> Option<NaiveDate> {
        self.0.due_on
    }
    /// Past its due date and not yet done (derived, never stored).
    async fn is_overdue(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(is_overdue(&self.0, ctx.svc()?.today()))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Row version, for optimistic concurrency on updates.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// For a remediation or retest task a contaminated sample opened: that test.
    async fn opened_by_test(&self, ctx: &Context<'_>) -> ApiResult<Option<WaterQualityTest>> {
        let Some(link) = loaders::one::<task_test_link::Entity>(ctx, self.0.id).await? else {
            return Ok(None);
        };
        Ok(
            loaders::one::<water_quality_test::Entity>(ctx, link.opened_by_test_id)
                .await?
                .map(WaterQualityTest::from),
        )
    }
    /// For a retest task: the clean test that closed it (moved it to DONE).
    async fn closed_by_test(&self, ctx: &Context<'_>) -> ApiResult<Option<WaterQualityTest>> {
        let link = loaders::one::<task_test_link::Entity>(ctx, self.0.id).await?;
        let Some(test) = link.and_then(|l| l.closed_by_test_id) else {
            return Ok(None);
        };
        Ok(loaders::one::<water_quality_test::Entity>(ctx, test)
            .await?
            .map(WaterQualityTest::from))
    }
    async fn village(&self, ctx: &Context<'_>) -> ApiResult<Option<Village>> {
        let Some(id) = self.0.village_id else {
            return Ok(None);
        };
        Ok(loaders::one::<village::Entity>(ctx, id)
            .await?
            .map(Village::from))
    }
    async fn scheme(&self, ctx: &Context<'_>) -> ApiResult<Option<Scheme>> {
        let Some(id) = self.0.scheme_id else {
            return Ok(None);
        };
        Ok(loaders::one::<scheme::Entity>(ctx, id).await?.map(Scheme))
    }
    async fn district(&self, ctx: &Context<'_>) -> ApiResult<Option<District>> {
        Ok(loaders::one::<district::Entity>(ctx, self.0.district_id)
            .await?
            .map(District))
    }
    /// The department or partner that does the work.
    async fn assignee(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        Ok(
            loaders::one::<organisation::Entity>(ctx, self.0.assignee_organisation_id)
                .await?
                .map(Organisation),
        )
    }
    /// The organisation that raised the task.
    async fn raised_by(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        let Some(id) = self.0.raised_by_organisation_id else {
            return Ok(None);
        };
        Ok(loaders::one::<organisation::Entity>(ctx, id)
            .await?
            .map(Organisation))
    }
    /// Evidence attached to the task, oldest first.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn evidence(&self, ctx: &Context<'_>) -> ApiResult<Vec<Evidence>> {
        let rows = loaders::children::<task_evidence::Entity>(
            ctx,
            task_evidence::Column::TaskId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(Evidence).collect())
    }
    /// Everything that happened to the task, oldest first (append-only).
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn history(&self, ctx: &Context<'_>) -> ApiResult<Vec<TaskEvent>> {
        let rows =
            loaders::children::<task_event::Entity>(ctx, task_event::Column::TaskId, self.0.id)
                .await?;
        Ok(rows.into_iter().map(TaskEvent).collect())
    }
}

/// One entry in a task's history.
pub struct TaskEvent(pub task_event::Model);

#[Object]
impl TaskEvent {
    pub async fn id(&self) -> ID {
        encode(Kind::TaskEvent, self.0.id)
    }
    async fn kind(&self) -> TaskEventKind {
        self.0.kind
    }
    async fn from_status(&self) -> Option<TaskStatus> {
        self.0.from_status
    }
    async fn to_status(&self) -> Option<TaskStatus> {
        self.0.to_status
    }
    /// Free-text note or comment (personal data).
    async fn note(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        personal(ctx, self.0.note.clone())
    }
    /// Who did it: the subject of their token (personal data).
    async fn actor(&self, ctx: &Context<'_>) -> ApiResult<String> {
        personal(ctx, self.0.actor_sub.clone())
    }
    async fn actor_organisation(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        let Some(id) = self.0.actor_organisation_id else {
            return Ok(None);
        };
        Ok(loaders::one::<organisation::Entity>(ctx, id)
            .await?
            .map(Organisation))
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A link to evidence kept in the department's own storage.
pub struct Evidence(pub task_evidence::Model);

#[Object]
impl Evidence {
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// SHA-256 of the file, lower-case hex: check the file is the one attached.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn caption(&self) -> Option<&str> {
        self.0.caption.as_deref()
    }
    /// Who attached it (personal data).
    async fn attached_by(&self, ctx: &Context<'_>) -> ApiResult<String> {
        personal(ctx, self.0.attached_by.clone())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}
