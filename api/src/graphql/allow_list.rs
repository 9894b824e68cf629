//! The operator's side of the allow-list (`sangam persisted-query add | list | remove`):
//! operations are validated against the schema before they are registered, so that an
//! allow-listed server never holds an operation that can only fail.

use std::sync::Arc;

use async_graphql::{
    Request, Response, ServerError,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
    parser::{parse_query, types::DocumentOperations},
};
use entities::persisted_query;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{Limits, schema_builder};

/// Stops every request after validation: the operations are checked, never run.
struct ValidateOnly;

impl ExtensionFactory for ValidateOnly {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: NextExecute<'_>,
    ) -> Response {
        Response::default()
    }
}

/// Checks every operation of `document` against the schema (and the default query limits);
/// returns the operations' names (`None`: the one anonymous operation), or why not.
pub async fn validate(document: &str) -> Result<Vec<Option<String>>, String> {
    let doc = parse_query(document).map_err(|e| format!("not a GraphQL document: {e}"))?;
    let names: Vec<Option<String>> = match &doc.operations {
        DocumentOperations::Single(_) => vec![None],
        DocumentOperations::Multiple(ops) => ops.keys().map(|n| Some(n.to_string())).collect(),
    };
    let limits = Limits::default();
    let schema = schema_builder()
        .extension(limits.query)
        .extension(ValidateOnly)
        .data(limits)
        .finish();
    for name in &names {
        let mut req = Request::new(document);
        if let Some(n) = name {
            req = req.operation_name(n.as_str());
        }
        let res = schema.execute(req).await;
        if !res.errors.is_empty() {
            // Validation covers the whole document, whichever operation is named: blame the
            // operation the first error stands in.
            let at = res.errors.iter().find_map(|e| e.locations.first().copied());
            let culprit = match (&doc.operations, at) {
                (DocumentOperations::Multiple(ops), Some(at)) => ops
                    .iter()
                    .filter(|(_, op)| (op.pos.line, op.pos.column) <= (at.line, at.column))
                    .max_by_key(|(_, op)| (op.pos.line, op.pos.column))
                    .map(|(n, _)| n.to_string()),
                _ => None,
            };
            let what = culprit
                .or_else(|| name.clone())
                .map_or("the operation".to_owned(), |n| format!("operation {n}"));
            return Err(format!("{what} is invalid: {}", describe(&res.errors)));
        }
    }
    Ok(names)
}

fn describe(errors: &[ServerError]) -> String {
    errors
        .iter()
        .map(|e| match e.locations.first() {
            Some(p) => format!("{} (line {}, column {})", e.message, p.line, p.column),
            None => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The registered (allow-listed) operations, oldest first.
pub async fn list(db: &DatabaseConnection) -> anyhow::Result<Vec<persisted_query::Model>> {
    Ok(persisted_query::Entity::find()
        .filter(persisted_query::Column::Allowed.eq(true))
        .order_by_asc(persisted_query::Column::CreatedAt)
        .order_by_asc(persisted_query::Column::Sha256)
        .all(db)
        .await?)
}

/// Takes an operation off the allow-list; `false` when no registered operation has this hash.
/// The stored text stays as an ordinary automatic persisted query, which allow-list mode
/// refuses.
pub async fn remove(db: &DatabaseConnection, sha256: &str) -> anyhow::Result<bool> {
    let done = persisted_query::Entity::update_many()
        .col_expr(persisted_query::Column::Allowed, Expr::value(false))
        .filter(persisted_query::Column::Sha256.eq(sha256.to_ascii_lowercase()))
        .filter(persisted_query::Column::Allowed.eq(true))
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}
