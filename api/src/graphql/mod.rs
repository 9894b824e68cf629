//! The GraphQL schema.

pub mod allow_list;
pub mod batches;
pub mod bulk;
pub mod completion;
pub mod connection;
pub mod context;
pub mod documents;
pub mod hooks;
pub mod ids;
pub mod imports;
pub mod inputs;
pub mod limits;
pub mod loaders;
pub mod lookahead;
pub mod mutation;
pub mod nul_bytes;
pub mod persisted;
pub mod query;
pub mod scalars;
pub mod spans;
pub mod subscription;
pub mod types;
pub mod webhooks;
pub mod works;

use async_graphql::{MergedObject, Request, Schema, SchemaBuilder};
use batches::Batches;

pub use context::Limits;
use subscription::Subscription;

use crate::service::Service;

/// The root query: the domain's reads and the caller's webhooks.
#[derive(MergedObject)]
#[graphql(name = "Query")]
pub struct QueryRoot(query::Query, webhooks::WebhookQuery);

/// The root mutation: the domain's writes, batches of task writes, webhook registration,
/// scheme works and file imports.
#[derive(MergedObject)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    mutation::Mutation,
    bulk::BulkMutation,
    webhooks::WebhookMutation,
    works::WorksMutation,
    imports::ImportMutation,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, Subscription>;

/// The schema without any data: what `export-schema` prints and the server serves.
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, Subscription> {
    Schema::build(
        QueryRoot(query::Query, webhooks::WebhookQuery),
        MutationRoot(
            mutation::Mutation,
            bulk::BulkMutation,
            webhooks::WebhookMutation,
            works::WorksMutation,
            imports::ImportMutation,
        ),
        Subscription,
    )
}

pub fn schema(limits: Limits) -> AppSchema {
    let mut builder = schema_builder();
    // Only while spans are exported: without `--otlp-endpoint` resolvers run as they did.
    if crate::telemetry::exporting() {
        builder = builder.extension(spans::ResolverSpans);
    }
    builder
        // One extension for the limits, the NUL check, completion and the document caches:
        // every field passes through each extension's hooks (see `hooks.rs`).
        .extension(hooks::Hooks::new(limits.query))
        .data(limits)
        .finish()
}

/// The SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// Prepares a request for execution: the principal's service and fresh per-request loaders.
/// Run it with the returned batches' [`Batches::drive`].
pub fn prepare(
    mut req: Request,
    svc: Service,
    batch_window: std::time::Duration,
) -> (Request, Batches) {
    let batches = if batch_window.is_zero() {
        Batches::when_idle()
    } else {
        Batches::after(batch_window)
    };
    loaders::attach(&mut req.data, svc, &batches);
    (req, batches)
}
