//! Batches of task writes (`createTasks`, `transitionTasks`): each item is the single
//! mutation's own body (`tasks::create_in`, `tasks::transition_in`), so row scope, the state
//! machine and every check are the same, with its own result or error and its own idempotency
//! key.
//!
//! - Not atomic: each item is its own write through [`Service::write`]; an item that fails
//!   writes nothing and leaves the others standing.
//! - Atomic: one write. Each item runs in a savepoint (so one item's failure does not disturb
//!   the checks of those after it, and every item reports its own error); if any item failed,
//!   the whole write is discarded: nothing is written, and each valid item says it was rolled
//!   back.
//!
//! The batch's own idempotency key (`clientMutationId` or the `Idempotency-Key` header): an
//! atomic batch stores its whole result under it; a non-atomic batch gives each item without a
//! key of its own the key `KEY#INDEX`, so a resent batch replays the items that were written
//! and retries only those that failed.

use entities::task;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{
    Service,
    tasks::{Move, NewTask, create_in, task_writer, transition_in},
    write::Tx,
};
use crate::error::{ApiError, ApiResult, code};

/// Most items one batch may carry.
pub const MAX_ITEMS: usize = 100;

/// One item of a batch: its own idempotency key, and its input, or why its input was unusable
/// (a malformed id, named by the caller's `items.N.…` path).
pub struct Item<I> {
    pub client_mutation_id: Option<String>,
    pub input: ApiResult<I>,
}

/// Why an item wrote nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    /// A code of `error::code` (`ROLLED_BACK` for a valid item of a failed atomic batch).
    pub code: String,
    pub message: String,
    /// The item's input at fault, as `items.N.field`.
    pub field: Option<String>,
    /// For a CONFLICT: the row's version now.
    pub current_version: Option<i32>,
}

/// What became of one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemOutcome<T> {
    /// The item's place in the request, from 0.
    pub index: usize,
    pub client_mutation_id: Option<String>,
    /// The row as written (or as first written, when `replayed`); none when nothing was.
    pub row: Option<T>,
    pub error: Option<ItemError>,
    /// The row comes from an earlier request with the same key; nothing was written now.
    pub replayed: bool,
    /// The item was valid, but another item of its atomic batch failed, so it was undone.
    pub rolled_back: bool,
}

/// `argument` (as the single mutation names it) as the path of item `index`'s input.
fn item_field(index: usize, argument: &str) -> String {
    if argument.starts_with("items.") {
        return argument.to_owned();
    }
    let rest = argument
        .strip_prefix("input.")
        .or_else(|| argument.strip_prefix("input"))
        .unwrap_or(argument);
    if rest.is_empty() {
        format!("items.{index}")
    } else {
        format!("items.{index}.{rest}")
    }
}

fn item_error(index: usize, e: &ApiError) -> ItemError {
    if let ApiError::Internal(cause) = e {
        tracing::error!(error = ?cause, index, "batch item failed");
    }
    ItemError {
        code: e.code().to_owned(),
        message: e.to_string(),
        field: match e {
            ApiError::BadInput { argument, .. } => Some(item_field(index, argument)),
            _ => None,
        },
        current_version: match e {
            ApiError::Conflict {
                current_version, ..
            } => *current_version,
            _ => None,
        },
    }
}

/// The body both paths run for one item.
type Body<I, T> = for<'t, 's> fn(&'t mut Tx<'s>, I) -> BoxFuture<'t, ApiResult<T>>;

fn create_body<'t, 's>(tx: &'t mut Tx<'s>, new: NewTask) -> BoxFuture<'t, ApiResult<task::Model>> {
    Box::pin(create_in(tx, new))
}

fn transition_body<'t, 's>(tx: &'t mut Tx<'s>, m: Move) -> BoxFuture<'t, ApiResult<task::Model>> {
    Box::pin(transition_in(tx, m))
}

/// Checks that hold for the whole batch: the caller may write tasks at all, and the batch has
/// 1 to [`MAX_ITEMS`] items.
fn check_batch<I>(svc: &Service, items: &[Item<I>], key: Option<&str>) -> ApiResult<()> {
    task_writer(svc)?;
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(ApiError::bad_input(
            "items",
            format!(
                "a batch has 1 to {MAX_ITEMS} items; this one has {}",
                items.len()
            ),
        ));
    }
    // Room for the `#INDEX` of the keys derived from it.
    if key.is_some_and(|k| k.is_empty() || k.len() > 250) {
        return Err(ApiError::bad_input(
            "clientMutationId",
            "a batch's idempotency key has 1 to 250 characters",
        ));
    }
    Ok(())
}

impl Service {
    /// `createTasks`: each item as `createTask`.
    pub async fn create_tasks(
        &self,
        items: Vec<Item<NewTask>>,
        atomic: bool,
        key: Option<&str>,
    ) -> ApiResult<Vec<ItemOutcome<task::Model>>> {
        let body: Body<NewTask, task::Model> = create_body;
        self.batch("createTasks", "createTask", items, atomic, key, body)
            .await
    }

    /// `transitionTasks`: each item as `transitionTask`.
    pub async fn transition_tasks(
        &self,
        items: Vec<Item<Move>>,
        atomic: bool,
        key: Option<&str>,
    ) -> ApiResult<Vec<ItemOutcome<task::Model>>> {
        let body: Body<Move, task::Model> = transition_body;
        self.batch(
            "transitionTasks",
            "transitionTask",
            items,
            atomic,
            key,
            body,
        )
        .await
    }

    async fn batch<I, T>(
        &self,
        operation: &'static str,
        item_operation: &'static str,
        items: Vec<Item<I>>,
        atomic: bool,
        key: Option<&str>,
        body: Body<I, T>,
    ) -> ApiResult<Vec<ItemOutcome<T>>>
    where
        I: Send + 'static,
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        check_batch(self, &items, key)?;
        if atomic {
            return self
                .write(operation, key, move |tx| {
                    Box::pin(async move { all_or_nothing(tx, item_operation, items, body).await })
                })
                .await;
        }
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let own = item
                .client_mutation_id
                .clone()
                .or_else(|| key.map(|k| format!("{k}#{index}")));
            let done = match item.input {
                Err(e) => Err(e),
                Ok(input) => {
                    self.write_item(item_operation, own.as_deref(), move |tx| body(tx, input))
                        .await
                }
            };
            out.push(outcome(index, item.client_mutation_id, done));
        }
        Ok(out)
    }

    /// One item of a non-atomic batch: its own write, reporting whether it was a replay.
    async fn write_item<'s, T, F>(
        &'s self,
        operation: &'static str,
        key: Option<&str>,
        body: F,
    ) -> ApiResult<(T, bool)>
    where
        T: Serialize + DeserializeOwned + Send,
        F: for<'t> FnOnce(&'t mut Tx<'s>) -> BoxFuture<'t, ApiResult<T>> + Send,
    {
        // The body runs only for a fresh write; a replay returns without running it.
        let fresh = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ran = fresh.clone();
        let row = self
            .write(operation, key, move |tx| {
                ran.store(true, std::sync::atomic::Ordering::Relaxed);
                body(tx)
            })
            .await?;
        Ok((row, !fresh.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

fn outcome<T>(
    index: usize,
    client_mutation_id: Option<String>,
    done: ApiResult<(T, bool)>,
) -> ItemOutcome<T> {
    match done {
        Ok((row, replayed)) => ItemOutcome {
            index,
            client_mutation_id,
            row: Some(row),
            error: None,
            replayed,
            rolled_back: false,
        },
        Err(e) => ItemOutcome {
            index,
            client_mutation_id,
            row: None,
            error: Some(item_error(index, &e)),
            replayed: false,
            rolled_back: false,
        },
    }
}

/// An atomic batch inside its one write: every item in its savepoint, then, if any failed,
/// the write is discarded and each item that would have been written says so.
async fn all_or_nothing<'s, I, T>(
    tx: &mut Tx<'s>,
    item_operation: &'static str,
    items: Vec<Item<I>>,
    body: Body<I, T>,
) -> ApiResult<Vec<ItemOutcome<T>>>
where
    I: Send + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let done = match item.input {
            Err(e) => Err(e),
            Ok(input) => {
                tx.item(
                    item_operation,
                    item.client_mutation_id.as_deref(),
                    move |t| body(t, input),
                )
                .await
            }
        };
        out.push(outcome(index, item.client_mutation_id, done));
    }
    let failed: Vec<String> = out
        .iter()
        .filter(|o| o.error.is_some())
        .map(|o| o.index.to_string())
        .collect();
    if failed.is_empty() {
        return Ok(out);
    }
    tx.discard();
    let why = format!(
        "nothing was written: the batch is atomic and item{} {} failed",
        if failed.len() == 1 { "" } else { "s" },
        failed.join(", ")
    );
    for o in &mut out {
        // A replayed item was written by an earlier request; it stands.
        if o.error.is_none() && !o.replayed {
            o.row = None;
            o.rolled_back = true;
            o.error = Some(ItemError {
                code: code::ROLLED_BACK.to_owned(),
                message: why.clone(),
                field: None,
                current_version: None,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::item_field;

    #[test]
    fn item_errors_name_the_items_input() {
        assert_eq!(item_field(3, "input.title"), "items.3.title");
        assert_eq!(item_field(0, "note"), "items.0.note");
        assert_eq!(item_field(2, "input"), "items.2");
        assert_eq!(item_field(4, "items.4.id"), "items.4.id");
        assert_eq!(
            item_field(1, "clientMutationId"),
            "items.1.clientMutationId"
        );
    }
}
