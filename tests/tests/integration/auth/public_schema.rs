//! What a caller without a token may read: the schema, only with `--public-schema`.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use tests::tokens::*;

#[tokio::test]
async fn the_schema_is_readable_without_a_token_only_with_public_schema() {
    let html = || {
        Request::get("/graphql")
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .expect("request")
    };

    let public = public_schema_app().await;
    let intro = anonymous(&public, "{ __schema { queryType { name } } }").await;
    assert_eq!(
        intro.status,
        StatusCode::OK,
        "anonymous introspection is allowed: {}",
        intro.body
    );
    assert_eq!(
        intro.json()["data"]["__schema"]["queryType"]["name"],
        "Query",
        "{}",
        intro.body
    );
    let sdl = public.get("/schema.graphql").await;
    assert_eq!(sdl.status, StatusCode::OK, "the SDL is public");
    assert!(
        sdl.body.contains("type Query"),
        "{}",
        &sdl.body[..sdl.body.len().min(200)]
    );
    assert_eq!(
        public.send(html()).await.status,
        StatusCode::OK,
        "GraphiQL is public"
    );

    let private = app().await;
    let sdl = private.get("/schema.graphql").await;
    assert_eq!(
        sdl.status,
        StatusCode::UNAUTHORIZED,
        "the SDL needs a token by default: {}",
        sdl.body
    );
    assert_eq!(challenge(&sdl), "Bearer realm=\"sangam\"");
    let page = private.send(html()).await;
    assert_eq!(
        page.status,
        StatusCode::UNAUTHORIZED,
        "GraphiQL needs a token by default"
    );
    let intro = anonymous(&private, "{ __schema { queryType { name } } }").await;
    assert_eq!(
        intro.status,
        StatusCode::UNAUTHORIZED,
        "introspection needs a token by default: {}",
        intro.body
    );
    assert_eq!(
        private.get_authed("/schema.graphql").await.status,
        StatusCode::OK,
        "a token holder reads the SDL"
    );
}

#[tokio::test]
async fn with_a_public_schema_an_anonymous_data_query_is_told_it_needs_a_token() {
    let public = public_schema_app().await;
    let reply = anonymous(&public, "{ villages { totalCount } }").await;
    let body = reply.json();
    assert!(
        body["data"]["villages"].is_null() && body["data"]["villages"]["totalCount"].is_null(),
        "an anonymous caller reads no data even with a public schema: {body:#}"
    );
    // ACCESS.md: a missing token is answered 401 with a Bearer challenge. At the least the caller
    // must be told why it got nothing (`villages` is non-null, so a bare null breaks the schema).
    let told = reply.status == StatusCode::UNAUTHORIZED
        || body["errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["extensions"]["code"] == "UNAUTHENTICATED")
        });
    assert!(
        told,
        "an anonymous data query must get a 401 or an UNAUTHENTICATED error, got {}: {body:#}",
        reply.status
    );
}
