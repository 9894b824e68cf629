//! Field errors and nulls as the GraphQL spec defines them ("Handling Field Errors", "Errors and
//! Non-Null Fields"), and response keys in selection-set order: the spec's own examples on a
//! schema shaped like them, then the queries dashboards sent to Sangam.

use std::time::Duration;

use api::graphql::completion::Completion;
use api::principal::Role;
use async_graphql::{EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject};
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, backends};

/// A character of the spec's examples; the friend with id 1002 has a name that cannot be
/// fetched.
struct Friend(&'static str, &'static str);

/// The same, with a non-null `name`.
struct StrictFriend(&'static str, &'static str);

fn name_of(id: &str, name: &str) -> async_graphql::Result<String> {
    if id == "1002" {
        Err(async_graphql::Error::new(format!(
            "Name for character with ID {id} could not be fetched."
        )))
    } else {
        Ok(name.to_owned())
    }
}

#[Object]
impl Friend {
    async fn id(&self) -> ID {
        ID(self.0.to_owned())
    }
    async fn name(&self) -> async_graphql::Result<Option<String>> {
        name_of(self.0, self.1).map(Some)
    }
}

#[Object]
impl StrictFriend {
    async fn id(&self) -> ID {
        ID(self.0.to_owned())
    }
    async fn name(&self) -> async_graphql::Result<String> {
        name_of(self.0, self.1)
    }
}

const FRIENDS: [(&str, &str); 3] = [
    ("1000", "Luke Skywalker"),
    ("1002", "Han Solo"),
    ("1003", "Leia Organa"),
];

#[derive(SimpleObject)]
struct Timing {
    slow: i32,
    fast: i32,
}

struct Hero;

#[Object]
impl Hero {
    async fn name(&self) -> &str {
        "R2-D2"
    }
    /// `[Friend]`: a friend may be null.
    async fn friends(&self) -> Vec<Option<Friend>> {
        FRIENDS.iter().map(|(i, n)| Some(Friend(i, n))).collect()
    }
}

struct StrictHero;

#[Object]
impl StrictHero {
    async fn name(&self) -> &str {
        "R2-D2"
    }
    /// `[StrictFriend]`: nullable items of a non-null name.
    async fn friends(&self) -> Vec<Option<StrictFriend>> {
        FRIENDS
            .iter()
            .map(|(i, n)| Some(StrictFriend(i, n)))
            .collect()
    }
    /// `[StrictFriend!]!`: nothing on the way up is nullable but the hero.
    async fn all_friends(&self) -> Vec<StrictFriend> {
        FRIENDS.iter().map(|(i, n)| StrictFriend(i, n)).collect()
    }
}

struct Query;

#[Object]
impl Query {
    async fn hero(&self) -> Option<Hero> {
        Some(Hero)
    }
    async fn strict_hero(&self) -> Option<StrictHero> {
        Some(StrictHero)
    }
    /// A non-null hero: its null reaches `data`.
    async fn required_hero(&self) -> StrictHero {
        StrictHero
    }
    async fn slow(&self) -> i32 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        1
    }
    async fn fast(&self) -> i32 {
        2
    }
    async fn timing(&self) -> Timing {
        Timing { slow: 1, fast: 2 }
    }
}

/// The response as JSON text, keys in the order the server put them.
async fn run_text(query: &str) -> String {
    let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
        .extension(Completion::default())
        .finish();
    let res = schema.execute(query).await;
    serde_json::to_string(&res).expect("json")
}

async fn run(query: &str) -> Value {
    serde_json::from_str(&run_text(query).await).expect("json")
}

#[tokio::test]
async fn a_nullable_field_error_is_null_with_its_path() {
    let res = run("{ hero { name heroFriends: friends { id name } } }").await;
    assert_eq!(
        res["data"],
        json!({ "hero": { "name": "R2-D2", "heroFriends": [
            { "id": "1000", "name": "Luke Skywalker" },
            { "id": "1002", "name": null },
            { "id": "1003", "name": "Leia Organa" },
        ] } })
    );
    assert_eq!(res["errors"].as_array().map(Vec::len), Some(1), "{res:#}");
    assert_eq!(
        res["errors"][0]["path"],
        json!(["hero", "heroFriends", 1, "name"])
    );
    assert_eq!(
        res["errors"][0]["message"],
        "Name for character with ID 1002 could not be fetched."
    );
}

#[tokio::test]
async fn a_non_null_field_error_nulls_the_nearest_nullable_parent() {
    let res = run("{ strictHero { name heroFriends: friends { id name } } }").await;
    assert_eq!(
        res["data"],
        json!({ "strictHero": { "name": "R2-D2", "heroFriends": [
            { "id": "1000", "name": "Luke Skywalker" },
            null,
            { "id": "1003", "name": "Leia Organa" },
        ] } })
    );
    assert_eq!(
        res["errors"][0]["path"],
        json!(["strictHero", "heroFriends", 1, "name"])
    );
    assert_eq!(res["errors"].as_array().map(Vec::len), Some(1), "{res:#}");

    // `[Strict!]!`: the list and the hero's object go; the hero field is nullable.
    let res = run("{ strictHero { name allFriends { id name } } }").await;
    assert_eq!(res["data"], json!({ "strictHero": null }), "{res:#}");
    assert_eq!(
        res["errors"][0]["path"],
        json!(["strictHero", "allFriends", 1, "name"])
    );
    assert_eq!(res["errors"].as_array().map(Vec::len), Some(1), "{res:#}");

    // Non-null all the way: `data` itself is null, and present.
    let res = run("{ fast requiredHero { allFriends { name } } }").await;
    assert_eq!(res["data"], Value::Null, "{res:#}");
    assert!(res.as_object().is_some_and(|o| o.contains_key("data")));
    assert_eq!(res["errors"].as_array().map(Vec::len), Some(1), "{res:#}");
}

#[tokio::test]
async fn keys_follow_the_selection_set() {
    let text =
        run_text("{ slow fast timing { fast slow } hero { friends { name id } name } }").await;
    assert!(
        text.starts_with(r#"{"data":{"slow":1,"fast":2,"timing":{"fast":2,"slow":1},"hero":{"friends":[{"name":"Luke Skywalker","id":"1000"},{"name":null,"id":"1002"}"#),
        "{text}"
    );
    // A key selected again in a fragment keeps its first place.
    let text = run_text("{ fast ... on Query { slow fast } }").await;
    assert_eq!(text, r#"{"data":{"fast":2,"slow":1}}"#);
}

#[tokio::test]
async fn dashboards_get_every_key_they_asked_for() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let dashboard = app.token(ClientSpec::new(Role::Dashboard)).await;

        // A nullable field the caller may not read is null, not missing, in its place.
        let query = "{ organisations(first: 2) { edges { node { id name contactName } } } }";
        let reply = app
            .send(app.graphql_request(Some(&dashboard), query, json!({})))
            .await;
        let res = reply.json();
        let edges = res["data"]["organisations"]["edges"]
            .as_array()
            .expect("edges")
            .clone();
        assert_eq!(edges.len(), 2, "{res:#}");
        for (i, e) in edges.iter().enumerate() {
            assert_eq!(e["node"]["contactName"], Value::Null);
            assert!(
                e["node"]
                    .as_object()
                    .expect("node")
                    .contains_key("contactName")
            );
            assert_eq!(
                res["errors"][i]["path"],
                json!(["organisations", "edges", i, "node", "contactName"])
            );
        }
        let first = reply.body.find("\"node\":{").expect("a node");
        let node = &reply.body[first..];
        let at = |k: &str| node.find(&format!("\"{k}\":")).expect("key");
        assert!(
            at("id") < at("name") && at("name") < at("contactName"),
            "selection-set order: {}",
            reply.body
        );

        // A nullable root field that failed is there, null.
        let res = app
            .post(
                r#"{ viewer { role } bad: node(id: "garbage") { id } }"#,
                json!({}),
            )
            .await;
        assert_eq!(res["data"]["bad"], Value::Null, "{res:#}");
        assert!(res["data"].as_object().expect("data").contains_key("bad"));
        assert_eq!(res["data"]["viewer"]["role"], "state_admin");
        assert_eq!(res["errors"][0]["path"], json!(["bad"]));
        assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

        // A non-null root field that failed makes `data` null.
        let res = app
            .post(
                "{ a: viewer { role } b: villages(first: 1000) { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(res["data"], Value::Null, "{res:#}");
        assert!(res.as_object().expect("response").contains_key("data"));
        assert_eq!(res["errors"][0]["path"], json!(["b"]));
        assert_eq!(res["errors"][0]["extensions"]["argument"], "first");
    }
}
