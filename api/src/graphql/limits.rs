//! Query cost limits: depth, complexity, aliases. A query over a limit is refused after
//! parsing and validation, before any resolver runs, with `extensions.code` naming the limit and
//! `extensions.limit` / `extensions.value` saying by how much.
//!
//! Complexity counts every field once, multiplies a connection by its page size and a nested
//! list by [`FANOUT`], so a deep walk of lists costs what it would cost to answer.

use std::sync::Arc;

use async_graphql::{
    ServerError, ServerResult, ValidationResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextValidation},
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::{
    error::{ApiError, code},
    service::page::DEFAULT_PAGE_SIZE,
};

/// The parser's own nesting limit (async-graphql's default `limit_recursive_depth`).
pub const MAX_NESTING: usize = 32;

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

fn refuse(code: &'static str, what: &str, limit: usize, value: usize) -> ServerError {
    ApiError::limit(code, &format!("query's {what}"), limit, value).into_server_error()
}

/// The deepest nesting of brackets in a document, outside strings and comments: what the
/// parser's recursion limit counts.
fn nesting(query: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => break,
                        _ => escaped = false,
                    }
                }
            }
            _ => {}
        }
    }
    deepest
}

/// Gives the library's request errors a code: a document that does not parse (or nests past
/// the parser's limit) or does not validate.
fn with_code(mut e: ServerError, code: &'static str) -> ServerError {
    let has_code = e
        .extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some());
    if !has_code {
        e.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    e
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

impl QueryLimits {
    /// What the parser's outcome becomes: a document nested past the parser's limit is
    /// refused as too deep, other parse errors get their code, and too many aliases refuse
    /// the document.
    pub(crate) fn parsed(
        &self,
        query: &str,
        parsed: ServerResult<ExecutableDocument>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) if e.message.contains("recursion depth") => {
                let value = nesting(query).max(MAX_NESTING + 1);
                return Err(refuse(code::QUERY_TOO_DEEP, "nesting", MAX_NESTING, value));
            }
            Err(e) => return Err(with_code(e, code::PARSE_FAILED)),
        };
        let n = count_aliases(&doc);
        if n > self.max_aliases {
            return Err(refuse(
                code::TOO_MANY_ALIASES,
                "number of aliases",
                self.max_aliases,
                n,
            ));
        }
        Ok(doc)
    }

    /// What validation's outcome becomes: its errors get their code, and a document deeper or
    /// more complex than the limits is refused.
    pub(crate) fn validated(
        &self,
        validated: Result<ValidationResult, Vec<ServerError>>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = validated.map_err(|errors| {
            errors
                .into_iter()
                .map(|e| with_code(e, code::VALIDATION_FAILED))
                .collect::<Vec<_>>()
        })?;
        if result.depth > self.max_depth {
            return Err(vec![refuse(
                code::QUERY_TOO_DEEP,
                "depth",
                self.max_depth,
                result.depth,
            )]);
        }
        if result.complexity > self.max_complexity {
            return Err(vec![refuse(
                code::QUERY_TOO_COMPLEX,
                "complexity",
                self.max_complexity,
                result.complexity,
            )]);
        }
        Ok(result)
    }
}

/// The limits alone, as an extension of their own (the served schema runs them within
/// [`super::hooks::Hooks`], with the other per-request hooks, as one extension).
#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        self.parsed(query, next.run(ctx, query, variables).await)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        self.validated(next.run(ctx).await)
    }
}
