//! Query cost limits: depth, complexity, aliases. A query over a limit is refused after
//! parsing and validation, before any resolver runs, with `extensions.code` naming the limit and
//! `extensions.limit` / `extensions.value` saying by how much.
//!
//! Complexity counts every field once, multiplies a connection by its page size and a nested
//! list by [`FANOUT`], so a deep walk of lists costs what it would cost to answer.

use std::sync::Arc;

use async_graphql::{
    ErrorExtensions, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::service::page::DEFAULT_PAGE_SIZE;

/// The cost a nested (unpaged) list multiplies its children by: about how many rows such a
/// list holds in practice (schemes of a village, villages of a block are usually fewer).
pub const FANOUT: usize = 10;

/// Complexity of a connection: its page size times what each row asks for.
pub fn page(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let n = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE as usize, |n| n.max(1) as usize);
    n.saturating_mul(child.max(1))
}

#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_depth: 16,
            max_complexity: 250_000,
            max_aliases: 50,
        }
    }
}

fn refuse(code: &str, what: &str, limit: usize, value: usize) -> ServerError {
    let message = format!("the query's {what} is {value}, over the limit of {limit}");
    async_graphql::Error::new(message)
        .extend_with(|_, e| {
            e.set("code", code);
            e.set("limit", limit);
            e.set("value", value);
        })
        .into_server_error(Default::default())
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| aliases(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| aliases(&f.node.selection_set.node))
        .sum();
    ops + frags
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let n = count_aliases(&doc);
        if n > self.max_aliases {
            return Err(refuse(
                "TOO_MANY_ALIASES",
                "number of aliases",
                self.max_aliases,
                n,
            ));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.depth > self.max_depth {
            return Err(vec![refuse(
                "QUERY_TOO_DEEP",
                "depth",
                self.max_depth,
                result.depth,
            )]);
        }
        if result.complexity > self.max_complexity {
            return Err(vec![refuse(
                "QUERY_TOO_COMPLEX",
                "complexity",
                self.max_complexity,
                result.complexity,
            )]);
        }
        Ok(result)
    }
}
