//! Relay cursor connections over the service's keyset pages.

use async_graphql::{
    Object, OutputType,
    connection::{Connection, CursorType, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::context::Limits;
use crate::{
    error::{ApiError, ApiResult},
    service::page::{Cursor, Page, PageRequest, TotalCount},
};

/// An opaque cursor holding a row id and, under an ordering, the row's sort key.
pub struct PageCursor(pub Cursor);

const PREFIX: &str = "cursor:";

impl CursorType for PageCursor {
    type Error = ApiError;

    fn decode_cursor(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_input("cursor", "not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let cursor = text
            .strip_prefix(PREFIX)
            .and_then(Cursor::from_text)
            .ok_or_else(bad)?;
        Ok(Self(cursor))
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", self.0.to_text()))
    }
}

/// Extra fields on every connection.
pub struct Counted(TotalCount);

#[Object]
impl Counted {
    /// How many rows match the filter, across all pages, among those the caller may see.
    async fn total_count(&self) -> ApiResult<u64> {
        self.0.get().await
    }
}

pub type Conn<N> = Connection<PageCursor, N, Counted>;

/// Relay pagination arguments as a client sent them.
#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    pub after: Option<String>,
    pub before: Option<String>,
    pub first: Option<i32>,
    pub last: Option<i32>,
}

impl PageArgs {
    pub fn new(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> Self {
        Self {
            after,
            before,
            first,
            last,
        }
    }

    /// Validates the arguments, naming the one at fault.
    pub fn request(&self, limits: Limits) -> ApiResult<PageRequest> {
        let cursor = |name: &str, c: &Option<String>| -> ApiResult<Option<Cursor>> {
            c.as_deref()
                .map(|s| {
                    PageCursor::decode_cursor(s).map(|c| c.0).map_err(|_| {
                        ApiError::bad_input(name, format!("`{name}` is not a valid cursor"))
                    })
                })
                .transpose()
        };
        let size = |name: &str, n: Option<i32>| -> ApiResult<Option<u64>> {
            match n {
                None => Ok(None),
                Some(n) if n < 0 => Err(ApiError::bad_input(
                    name,
                    format!("`{name}` must not be negative"),
                )),
                Some(n) if n as u64 > limits.max_page_size => Err(ApiError::bad_input(
                    name,
                    format!("`{name}` must be at most {}", limits.max_page_size),
                )),
                Some(n) => Ok(Some(n as u64)),
            }
        };
        Ok(PageRequest {
            after: cursor("after", &self.after)?,
            before: cursor("before", &self.before)?,
            first: size("first", self.first)?,
            last: size("last", self.last)?,
        })
    }
}

/// Builds a connection from a page, wrapping each row as its GraphQL type.
pub fn connection<M, N: OutputType>(page: Page<M>, mut wrap: impl FnMut(M) -> N) -> Conn<N> {
    let mut conn =
        Connection::with_additional_fields(page.has_previous, page.has_next, Counted(page.total));
    conn.edges = page
        .rows
        .into_iter()
        .zip(page.cursors)
        .map(|(m, c)| Edge::new(PageCursor(c), wrap(m)))
        .collect();
    conn
}
