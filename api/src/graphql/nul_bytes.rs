//! Refuses a NUL character in any string argument, before anything runs.
//!
//! PostgreSQL cannot store U+0000 in text (it answers "invalid byte sequence for encoding
//! UTF8: 0x00", which would reach the client as an internal error), and SQLite would store a
//! string other tools cut short. No Sangam value needs one, so every string argument (written
//! in the document or passed as a variable, at any depth of an input object or list) is checked
//! here, once, with a BAD_USER_INPUT naming the argument.

use std::sync::Arc;

use async_graphql::{
    Positioned, ServerResult, Value as ConstValue, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet},
};

use crate::error::ApiError;

pub struct NulBytes;

impl ExtensionFactory for NulBytes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NulBytes)
    }
}

/// The first string holding NUL in `value` (`async_graphql::Value`, variables already put in),
/// as the path of the argument or input field.
fn find_const(value: &ConstValue, path: &str) -> Option<String> {
    match value {
        ConstValue::String(s) if s.contains('\0') => Some(path.to_owned()),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_const(v, &format!("{path}[{i}]"))),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| find_const(v, &format!("{path}.{k}"))),
        _ => None,
    }
}

fn in_field(
    field: &Positioned<Field>,
    doc: &ExecutableDocument,
    vars: &Variables,
) -> Option<String> {
    field
        .node
        .arguments
        .iter()
        .find_map(|(name, value)| {
            let value = value
                .node
                .clone()
                .into_const_with(|var| {
                    Ok::<_, std::convert::Infallible>(vars.get(&var).cloned().unwrap_or_default())
                })
                .unwrap_or_default();
            find_const(&value, name.node.as_str())
        })
        .or_else(|| in_set(&field.node.selection_set.node, doc, vars))
}

fn in_set(set: &SelectionSet, doc: &ExecutableDocument, vars: &Variables) -> Option<String> {
    set.items.iter().find_map(|item| match &item.node {
        Selection::Field(f) => in_field(f, doc, vars),
        Selection::InlineFragment(f) => in_set(&f.node.selection_set.node, doc, vars),
        // Fragment definitions are checked once, on their own.
        Selection::FragmentSpread(_) => None,
    })
}

/// Refuses a document with a NUL character in any string argument, naming the argument.
pub(crate) fn check(doc: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node));
    for set in sets {
        if let Some(argument) = in_set(set, doc, variables) {
            let message = format!("`{argument}` contains a NUL character (U+0000)");
            return Err(ApiError::bad_input(argument, message).into_server_error());
        }
    }
    Ok(())
}

/// The check alone, as an extension of its own (the served schema runs it within
/// [`super::hooks::Hooks`]).
#[async_graphql::async_trait::async_trait]
impl Extension for NulBytes {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        check(&doc, variables)?;
        Ok(doc)
    }
}
