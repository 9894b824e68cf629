//! A span for each resolver, while spans are exported (`--otlp-endpoint`; the schema has this
//! extension only then).
//!
//! async-graphql's own `Tracing` extension (its `tracing` feature) is not used: its parse span
//! records the whole document with the variables' values put in, which would send callers'
//! data to the collector, and every resolver span is named `field`. Here a span is named after
//! the field (`Query.villages`), carries its path and types, and is marked `ERROR` when the
//! resolver fails. As there, fields of scalar and enum types get no span: they are read off
//! their parent's row, and a page of rows would otherwise be thousands of spans; nor do a
//! list's items, one by one.

use std::sync::Arc;

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
    registry::MetaTypeName,
};
use tracing::Instrument;

pub struct ResolverSpans;

impl ExtensionFactory for ResolverSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResolverSpans)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ResolverSpans {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let leaf = ctx
            .schema_env
            .registry
            .types
            .get(MetaTypeName::concrete_typename(info.return_type))
            .is_some_and(|ty| ty.is_leaf());
        // A list's items are resolved one by one under the list's field (their parent type is
        // the list, `[District!]`): a span each would repeat the field's for every row.
        let item = info.parent_type.starts_with('[');
        if info.is_for_introspection || leaf || item {
            return next.run(ctx, info).await;
        }
        let span = tracing::debug_span!(
            target: "sangam::graphql",
            "resolve",
            otel.name = %format_args!("{}.{}", info.parent_type, info.name),
            graphql.field.path = %info.path_node,
            graphql.field.parent_type = info.parent_type,
            graphql.field.name = info.name,
            graphql.field.type = info.return_type,
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
        );
        let res = next.run(ctx, info).instrument(span.clone()).await;
        if let Err(e) = &res {
            span.record("otel.status_code", "ERROR");
            span.record("otel.status_message", e.message.as_str());
        }
        res
    }
}
