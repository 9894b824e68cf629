//! Reading per-request data from the GraphQL context without `unwrap`.

use async_graphql::Context;

use crate::{
    error::{ApiError, ApiResult},
    service::Service,
};

/// Limits that apply to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest `first`/`last`.
    pub max_page_size: u64,
    pub query: super::limits::QueryLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_size: 100,
            query: super::limits::QueryLimits::default(),
        }
    }
}

pub trait CtxExt {
    /// The request's service, built for its principal.
    fn svc(&self) -> ApiResult<&Service>;
    fn limits(&self) -> Limits;
}

impl CtxExt for Context<'_> {
    fn svc(&self) -> ApiResult<&Service> {
        // Requests are given a service exactly when they carry a principal.
        self.data_opt::<Service>().ok_or(ApiError::Unauthenticated)
    }

    fn limits(&self) -> Limits {
        self.data_opt::<Limits>().copied().unwrap_or_default()
    }
}
