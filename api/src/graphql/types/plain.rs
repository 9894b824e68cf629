//! Objects whose selection is plain values only, answered in one pass.
//!
//! async-graphql resolves each field of an object as a boxed future of its own, passes it
//! through the extensions' `resolve` hooks, and collects the results in a map; a list's items
//! each go through that as well. For fields that only read a value the row already holds, that
//! machinery was most of the server's CPU per request: S2's 75 rows of ten numbers
//! (BENCHMARKS.md, "S2 server CPU by instruction count"), S1's 50 villages with their schemes
//! and tasks ("S1 and S4 at 2×"). Such fields cannot fail and take no arguments, so the
//! extensions have nothing to do for them: completion needs only failures, and resolver spans
//! skip scalar fields.
//!
//! A type lists those fields in [`Plain::plain`], each made with the same conversion its
//! resolver's return type uses (`ScalarType`/`InputType::to_value`). A selection of such fields
//! only is answered here, keys in selection order; any other (a fragment, a directive, an
//! argument, a field with a selection or a context of its own, an empty selection) goes
//! through the resolvers as before. Tests hold both paths to the same response text.

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
};

/// An object type some of whose fields are plain values.
pub trait Plain: OutputType {
    /// The value of the field named `name`, when it is a plain value; `None` for every other
    /// field (and for an unknown name).
    fn plain(&self, name: &str) -> Option<Value>;

    /// The object a selection of plain values only makes, or `None` for any other selection.
    fn plain_values(&self, set: &SelectionSet) -> Option<Value> {
        if set.items.is_empty() {
            return None;
        }
        let mut object = IndexMap::with_capacity(set.items.len());
        for item in &set.items {
            let Selection::Field(f) = &item.node else {
                return None;
            };
            let f = &f.node;
            if !f.directives.is_empty()
                || !f.arguments.is_empty()
                || !f.selection_set.node.items.is_empty()
            {
                return None;
            }
            let value = match f.name.node.as_str() {
                "__typename" => Value::String(Self::type_name().into_owned()),
                name => self.plain(name)?,
            };
            // A key selected twice keeps its first place, as async-graphql's merge does.
            object.insert(f.response_key().node.clone(), value);
        }
        Some(Value::Object(object))
    }
}

/// A `[T!]!` list made in one pass when the items' selection is plain values only (whether it
/// is does not depend on the item: the first decides), and by `Vec<T>`'s resolver otherwise.
pub struct PlainList<T>(pub Vec<T>);

impl<T: Plain + Send + Sync> OutputType for PlainList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut values = Vec::with_capacity(self.0.len());
        for item in &self.0 {
            match item.plain_values(&ctx.item.node) {
                Some(value) => values.push(value),
                None => return OutputType::resolve(&self.0, ctx, field).await,
            }
        }
        Ok(Value::List(values))
    }
}
