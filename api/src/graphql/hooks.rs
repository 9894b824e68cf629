//! The served schema's per-request hooks, as one async-graphql extension: the query limits
//! (`limits.rs`), the NUL check (`nul_bytes.rs`), field completion (`completion.rs`) and the
//! document caches (`documents.rs`).
//!
//! They were four extensions. async-graphql runs every field of every object through each
//! extension's `resolve` hook, and one that does not define it still costs a boxed future and
//! a dynamic call per field: three of the four were such. A dashboard's report of 75 districts
//! resolves about 800 fields; one extension resolves each of them through one hook.
//!
//! The order is what the four had, outermost first: limits, NUL check, completion, caches.
//! Parsing: the caches hand over a remembered document (or the parser makes one and the caches
//! remember it), completion keeps the caches' shared copy rather than a copy of its own, the NUL
//! check and the limits look at it. Validation: a remembered result (or the rules), then the
//! limits, on every request.

use std::sync::Arc;

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextResolve, NextValidation, ResolveInfo,
    },
    parser::types::ExecutableDocument,
};

use super::{completion, documents, limits::QueryLimits, nul_bytes};

/// The factory registered on the served schema.
pub struct Hooks {
    pub limits: QueryLimits,
    pub completion: completion::Completion,
    pub documents: documents::Documents,
}

impl Hooks {
    pub fn new(limits: QueryLimits) -> Self {
        Self {
            limits,
            completion: completion::Completion::default(),
            documents: documents::Documents::default(),
        }
    }
}

impl ExtensionFactory for Hooks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            limits: self.limits,
            completion: self.completion.per_request(),
            documents: self.documents.per_request(),
        })
    }
}

struct PerRequest {
    limits: QueryLimits,
    completion: completion::PerRequest,
    documents: documents::PerRequest,
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        Ok(self.documents.prepared(request))
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let parsed = next.run(ctx, query, variables).await.and_then(|doc| {
            self.completion.remember(self.documents.parsed(&doc));
            nul_bytes::check(&doc, variables)?;
            Ok(doc)
        });
        self.limits.parsed(query, parsed)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let validated = self.documents.validation(next.run(ctx)).await;
        self.limits.validated(validated)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.completion.execute(ctx, operation_name, next).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        self.completion.resolve(ctx, info, next).await
    }
}
