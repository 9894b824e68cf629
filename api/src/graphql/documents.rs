//! Parsed and validated documents, remembered so that a repeated query (a dashboard's, a
//! client's fixed lookups) skips the parser and the validation rules.
//!
//! async-graphql has no validated-document cache of its own. It does let a request carry its
//! parsed document (`Request::set_parsed_query`), and it runs every extension's `parse_query`
//! and `validation` hooks around its own parse and `check_rules`. This extension, registered
//! last (so innermost), uses exactly those:
//!
//! - **parsed documents**, keyed by the SHA-256 of the query text (an automatic persisted query
//!   is the same text, so its hash hits the same entry): on a hit the request gets a copy of the
//!   parsed document and the parser does not run. The outer hooks still run on it every time:
//!   the parser's nesting limit, aliases and NUL bytes in arguments (`limits.rs`,
//!   `nul_bytes.rs`).
//! - **validation results** (the rules passed, and the depth and complexity they measured),
//!   keyed by the query text, the operation name and the variables, since complexity reads
//!   page sizes from variables. Only successes are remembered. The limits extension still
//!   compares that depth and complexity with its limits on every request.
//!
//! Nothing here depends on who asks: a document and its validation are functions of the text,
//! the operation name, the variables and the schema (one per process). What does depend on the
//! caller is decided outside these two steps and still runs per request: the token, the
//! allow-list and persisted-query lookups (`persisted.rs`), introspection being disabled for
//! anonymous callers (enforced when the operation executes), and every resolver's row scope.
//! A document that does not parse or validate is not remembered, so its errors come from the
//! library each time, unchanged.

use std::{
    num::NonZeroUsize,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{
    Request, ServerError, ServerResult, ValidationResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextValidation,
    },
    parser::types::ExecutableDocument,
};
use lru::LruCache;
use sha2::{Digest, Sha256};

/// Documents remembered (each a few kilobytes at most); least recently used go first.
pub const CAPACITY: usize = 1024;

type Key = [u8; 32];

struct Caches {
    parsed: Mutex<LruCache<Key, Arc<ExecutableDocument>>>,
    validated: Mutex<LruCache<Key, ValidationResult>>,
}

/// The extension factory: one pair of caches per schema.
#[derive(Clone)]
pub struct Documents(Arc<Caches>);

impl Default for Documents {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl Documents {
    pub fn with_capacity(n: usize) -> Self {
        let n = NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self(Arc::new(Caches {
            parsed: Mutex::new(LruCache::new(n)),
            validated: Mutex::new(LruCache::new(n)),
        }))
    }

    /// How many parsed documents and validation results are remembered (for tests).
    pub fn len(&self) -> (usize, usize) {
        (lock(&self.0.parsed).len(), lock(&self.0.validated).len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Only caches behind the lock: a panic elsewhere cannot leave an entry half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Documents {
    /// One request's view of the caches.
    pub(crate) fn per_request(&self) -> PerRequest {
        PerRequest {
            caches: self.0.clone(),
            keys: Mutex::new(None),
        }
    }
}

impl ExtensionFactory for Documents {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.per_request())
    }
}

/// The keys of one request, set when it is prepared.
struct Keys {
    /// The query text's hash.
    text: Key,
    /// The hash of text, operation name and variables.
    validation: Key,
    /// The parsed document, when it came from the cache.
    hit: Option<Arc<ExecutableDocument>>,
}

pub(crate) struct PerRequest {
    caches: Arc<Caches>,
    keys: Mutex<Option<Keys>>,
}

fn validation_key(text: &Key, req: &Request) -> Key {
    let mut h = Sha256::new();
    h.update(text);
    match &req.operation_name {
        Some(name) => {
            h.update([1]);
            h.update(name.as_bytes());
        }
        None => h.update([0]),
    }
    // Variables serialise the same way every time for the same values (an ordered map).
    h.update(serde_json::to_vec(&req.variables).unwrap_or_default());
    h.finalize().into()
}

impl PerRequest {
    /// Notes the request's keys and, when its document is known, hands it the parsed copy.
    pub(crate) fn prepared(&self, mut request: Request) -> Request {
        let text: Key = Sha256::digest(request.query.as_bytes()).into();
        let hit = lock(&self.caches.parsed).get(&text).cloned();
        if let Some(doc) = &hit {
            request.set_parsed_query((**doc).clone());
        }
        *lock(&self.keys) = Some(Keys {
            text,
            validation: validation_key(&text, &request),
            hit,
        });
        request
    }

    /// Remembers a document the parser made; returns the shared copy (the remembered one),
    /// which the request's other hooks may keep without copying it again.
    pub(crate) fn parsed(&self, doc: &ExecutableDocument) -> Arc<ExecutableDocument> {
        let keys = lock(&self.keys);
        match keys.as_ref() {
            Some(Keys {
                hit: Some(known), ..
            }) => known.clone(),
            Some(Keys { text, .. }) => {
                let shared = Arc::new(doc.clone());
                lock(&self.caches.parsed).put(*text, shared.clone());
                shared
            }
            None => Arc::new(doc.clone()),
        }
    }

    /// Validates through `validate` unless this request's validation is remembered.
    pub(crate) async fn validation(
        &self,
        validate: impl Future<Output = Result<ValidationResult, Vec<ServerError>>>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let key = lock(&self.keys).as_ref().map(|k| k.validation);
        if let Some(key) = key
            && let Some(known) = lock(&self.caches.validated).get(&key).copied()
        {
            return Ok(known);
        }
        let result = validate.await?;
        if let Some(key) = key {
            lock(&self.caches.validated).put(key, result);
        }
        Ok(result)
    }
}

/// The caches alone, as an extension of their own (the served schema runs them within
/// [`super::hooks::Hooks`], with the other per-request hooks, as one extension).
#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        Ok(self.prepared(request))
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        self.parsed(&doc);
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        PerRequest::validation(self, next.run(ctx)).await
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Variables;
    use serde_json::json;

    use super::*;
    use crate::graphql::limits::QueryLimits;

    fn schema(docs: &Documents, max_depth: usize) -> crate::graphql::AppSchema {
        crate::graphql::schema_builder()
            .extension(QueryLimits {
                max_depth,
                ..QueryLimits::default()
            })
            .extension(docs.clone())
            .finish()
    }

    const DEEP: &str = "{ __schema { types { fields { type { name } } } } }";

    #[tokio::test]
    async fn a_repeated_document_is_parsed_and_validated_once_and_limits_still_apply() {
        let docs = Documents::with_capacity(8);
        let lenient = schema(&docs, 16);
        for _ in 0..3 {
            let res = lenient.execute(DEEP).await;
            assert!(res.errors.is_empty(), "{:?}", res.errors);
        }
        assert_eq!(docs.len(), (1, 1), "one document, one validation");

        // Other variables: the same parse, a validation of their own.
        const WITH_VARS: &str = "query($t: String!) { __type(name: $t) { name } }";
        let with_vars =
            Request::new(WITH_VARS).variables(Variables::from_json(json!({ "t": "Query" })));
        let res = lenient.execute(with_vars).await;
        assert!(res.errors.is_empty(), "{:?}", res.errors);
        let other_vars =
            Request::new(WITH_VARS).variables(Variables::from_json(json!({ "t": "Mutation" })));
        assert!(lenient.execute(other_vars).await.errors.is_empty());
        assert_eq!(docs.len(), (2, 3));

        // The remembered validation does not bypass the limits: a stricter schema sharing the
        // cache still refuses the same document as too deep.
        let strict = schema(&docs, 2);
        let res = strict.execute(DEEP).await;
        let code = res
            .errors
            .first()
            .and_then(|e| e.extensions.as_ref().and_then(|x| x.get("code").cloned()));
        assert_eq!(
            code,
            Some(async_graphql::Value::from(
                crate::error::code::QUERY_TOO_DEEP
            )),
            "{:?}",
            res.errors
        );

        // A document that does not validate is not remembered, and fails the same way again.
        for _ in 0..2 {
            let res = lenient.execute("{ noSuchField }").await;
            assert_eq!(res.errors.len(), 1, "{:?}", res.errors);
        }
        let (parsed, validated) = docs.len();
        assert_eq!(validated, 3, "no validation result for an invalid document");
        assert_eq!(parsed, 3, "it parsed, so its parse is remembered");
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let docs = Documents::with_capacity(2);
        let s = schema(&docs, 16);
        for alias in ["a", "b", "c", "d"] {
            let q = format!("{{ {alias}: __typename }}");
            assert!(s.execute(q.as_str()).await.errors.is_empty());
        }
        assert_eq!(docs.len(), (2, 2));
    }
}

/// How much the cache saves per request, on the benchmark's S4 document: the real schema with
/// and without it, in this build's profile. Run with
/// `cargo test -p api --lib --release -- documents::gain --ignored --nocapture`.
#[cfg(test)]
mod gain {
    use std::time::Instant;

    const S4: &str = "{ village(lgdCode: 434512) { name households latestWaterQualityTest { sampledOn contaminated results { parameter value exceeds } } } }";
    const S1: &str = "{ villages(first: 50) { edges { node { name households tapConnections coveragePercent schemes { code status } tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { title status dueOn } } } } }";

    async fn per_request(schema: &crate::graphql::AppSchema, query: &str, n: u32) -> f64 {
        // Without a principal every resolver refuses at once: what is timed is the request's
        // preparation (parse, validation, extensions) and a trivial execution.
        for _ in 0..50 {
            schema.execute(query).await;
        }
        let start = Instant::now();
        for _ in 0..n {
            schema.execute(query).await;
        }
        start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    }

    #[tokio::test]
    #[ignore = "a measurement; prints microseconds per request"]
    async fn gain() {
        let limits = crate::graphql::Limits::default();
        let plain = crate::graphql::schema_builder()
            .extension(limits.query)
            .extension(crate::graphql::nul_bytes::NulBytes)
            .extension(crate::graphql::completion::Completion::default())
            .data(limits)
            .finish();
        let cached = crate::graphql::schema(limits);
        for (name, q) in [("S4", S4), ("S1", S1)] {
            let mut rows = Vec::new();
            for _ in 0..3 {
                rows.push((
                    per_request(&plain, q, 2000).await,
                    per_request(&cached, q, 2000).await,
                ));
            }
            for (without, with) in &rows {
                eprintln!(
                    "{name}: without the cache {without:.1} us/request, with {with:.1} us/request ({:.2}x)",
                    without / with
                );
            }
            let better = rows.iter().filter(|(w, c)| c < w).count();
            assert!(better >= 2, "{name}: the cache should be faster: {rows:?}");
        }
    }
}
