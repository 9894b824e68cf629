//! Batches of task writes: `createTasks` and `transitionTasks` (`service::bulk`). Each item has
//! its own result or error, its own `clientMutationId`, and is checked exactly as the single
//! mutation would check it; `atomic: true` writes all items or none.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use entities::enums::TaskStatus;

use super::{
    context::CtxExt,
    ids::Kind,
    mutation::{CreateTaskInput, id_of, key, new_task},
    types::Task,
};
use crate::{
    error::ApiResult,
    service::{
        bulk::{Item, ItemError, ItemOutcome},
        tasks::Move,
    },
};

#[derive(InputObject)]
pub struct TransitionTaskInput {
    pub id: ID,
    pub expected_version: i32,
    pub to: TaskStatus,
    /// The reason (needed to block or cancel).
    pub note: Option<String>,
    /// This item's idempotency key: a retry with the same key returns the first result (also
    /// for a key first used with `transitionTask`).
    pub client_mutation_id: Option<String>,
}

/// Why an item of a batch wrote nothing.
#[derive(SimpleObject)]
#[graphql(name = "BatchItemError")]
pub struct BatchItemError {
    /// As `extensions.code` of a single mutation's error (`BAD_USER_INPUT`, `FORBIDDEN`,
    /// `NOT_FOUND`, `CONFLICT`, …), or `ROLLED_BACK`: the item was valid, but another item of
    /// its atomic batch failed, so nothing was written.
    pub code: String,
    pub message: String,
    /// The item's input at fault, as `items.N.field` (for `BAD_USER_INPUT`).
    pub field: Option<String>,
    /// For a `CONFLICT`: the task's version now.
    pub current_version: Option<i32>,
}

impl From<ItemError> for BatchItemError {
    fn from(e: ItemError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            field: e.field,
            current_version: e.current_version,
        }
    }
}

/// What became of one item of a task batch: its task, or why nothing was written.
#[derive(SimpleObject)]
pub struct TaskItemResult {
    /// The item's place in `items`, from 0.
    pub index: i32,
    /// The item's own key, as given.
    pub client_mutation_id: Option<String>,
    /// The task as written (as first written, when `replayed`); null when nothing was.
    pub task: Option<Task>,
    pub error: Option<BatchItemError>,
    /// The task comes from an earlier request with the same key; nothing was written now.
    pub replayed: bool,
    /// The item was valid but was undone, because another item of its atomic batch failed.
    pub rolled_back: bool,
}

#[derive(SimpleObject)]
pub struct CreateTasksPayload {
    /// One result per item, in the order of `items`.
    pub results: Vec<TaskItemResult>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct TransitionTasksPayload {
    /// One result per item, in the order of `items`.
    pub results: Vec<TaskItemResult>,
    pub client_mutation_id: Option<String>,
}

fn results(done: Vec<ItemOutcome<entities::task::Model>>) -> Vec<TaskItemResult> {
    done.into_iter()
        .map(|o| TaskItemResult {
            index: i32::try_from(o.index).unwrap_or(i32::MAX),
            client_mutation_id: o.client_mutation_id,
            task: o.row.map(Task),
            error: o.error.map(Into::into),
            replayed: o.replayed,
            rolled_back: o.rolled_back,
        })
        .collect()
}

pub struct BulkMutation;

#[Object]
impl BulkMutation {
    /// Raise up to 100 tasks, each as `createTask` would. Each item gets its own result or
    /// error; with `atomic: true` either every item is written or none is.
    async fn create_tasks(
        &self,
        ctx: &Context<'_>,
        items: Vec<CreateTaskInput>,
        #[graphql(default)] atomic: bool,
        #[graphql(
            desc = "Idempotency key of the whole batch (or the `Idempotency-Key` header); items without their own key get `KEY#INDEX`."
        )]
        client_mutation_id: Option<String>,
    ) -> ApiResult<CreateTasksPayload> {
        let k = key(ctx, &client_mutation_id);
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, input)| Item {
                client_mutation_id: input.client_mutation_id.clone(),
                input: new_task(input, &format!("items.{i}")),
            })
            .collect();
        let done = ctx.svc()?.create_tasks(items, atomic, k.as_deref()).await?;
        Ok(CreateTasksPayload {
            results: results(done),
            client_mutation_id,
        })
    }

    /// Move up to 100 tasks through their workflow, each as `transitionTask` would (the same
    /// row scope, rights and legal moves). Each item gets its own result or error; with
    /// `atomic: true` either every move is written or none is.
    async fn transition_tasks(
        &self,
        ctx: &Context<'_>,
        items: Vec<TransitionTaskInput>,
        #[graphql(default)] atomic: bool,
        #[graphql(
            desc = "Idempotency key of the whole batch (or the `Idempotency-Key` header); items without their own key get `KEY#INDEX`."
        )]
        client_mutation_id: Option<String>,
    ) -> ApiResult<TransitionTasksPayload> {
        let k = key(ctx, &client_mutation_id);
        let items = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Item {
                client_mutation_id: item.client_mutation_id,
                input: id_of(&format!("items.{i}.id"), &item.id, Kind::Task).map(|id| Move {
                    id,
                    expected: item.expected_version,
                    to: item.to,
                    note: item.note,
                }),
            })
            .collect();
        let done = ctx
            .svc()?
            .transition_tasks(items, atomic, k.as_deref())
            .await?;
        Ok(TransitionTasksPayload {
            results: results(done),
            client_mutation_id,
        })
    }
}
