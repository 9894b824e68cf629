//! Field errors and nulls exactly as the GraphQL spec defines them ("Handling Field Errors",
//! "Errors and Non-Null Fields"), and response keys in the order of the selection set.
//!
//! async-graphql 7 leaves the key of a failed field out of its parent object whatever the
//! field's type, never lets a non-null field's null reach its nullable parent, and inserts keys
//! in completion order (async-graphql #1449, #1532, #1549). Clients that normalise responses
//! (Apollo, Relay, urql) then read a query as incomplete. This extension restores the spec's
//! behaviour in one place for every field, instead of each resolver working around it:
//!
//! - a failed field leaves a *hole* (its path, and whether its type is non-null), its error
//!   already listed with that path by async-graphql;
//! - when a field completes, the holes beneath it are filled: a nullable field becomes `null`,
//!   a non-null one makes its parent object `null`, and that null climbs through non-null list
//!   items; a field whose own non-null value ends up `null` leaves a hole for its parent in turn;
//! - the root's holes are filled when the operation completes, so `data` is `null` only when a
//!   non-null root field failed;
//! - each completed object's keys are put in selection-set order (CollectFields).
//!
//! Subscriptions are left as the library makes them (no per-event completion hook exists).

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use async_graphql::{
    Name, PathSegment, Response, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve,
        ResolveInfo,
    },
    indexmap::IndexMap,
    parser::types::{ExecutableDocument, Selection, SelectionSet, TypeSystemDefinition},
};

/// The extension factory: registered once on the schema.
#[derive(Default)]
pub struct Completion {
    types: Arc<OnceLock<PossibleTypes>>,
}

impl Completion {
    /// One request's completion state.
    pub(crate) fn per_request(&self) -> PerRequest {
        PerRequest {
            types: self.types.clone(),
            executing: AtomicBool::new(false),
            hole_count: AtomicUsize::new(0),
            holes: Mutex::new(Vec::new()),
            doc: Mutex::new(None),
        }
    }
}

impl ExtensionFactory for Completion {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.per_request())
    }
}

/// The object types each interface or union may hold, to tell whether a fragment applies.
#[derive(Default)]
struct PossibleTypes(HashMap<String, HashSet<String>>);

impl PossibleTypes {
    fn from_sdl(sdl: &str) -> Self {
        use async_graphql::parser::types::TypeKind;
        let mut map: HashMap<String, HashSet<String>> = HashMap::new();
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return Self(map);
        };
        for def in doc.definitions {
            let TypeSystemDefinition::Type(ty) = def else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            match ty.node.kind {
                TypeKind::Object(o) => {
                    for i in o.implements {
                        map.entry(i.node.to_string())
                            .or_default()
                            .insert(name.clone());
                    }
                }
                TypeKind::Union(u) => {
                    let members = map.entry(name).or_default();
                    members.extend(u.members.into_iter().map(|m| m.node.to_string()));
                }
                _ => {}
            }
        }
        Self(map)
    }

    /// Whether a fragment on `condition` applies to an object of `concrete` type. Without
    /// `__typename` in the object every fragment is taken to apply: the keys of one that did not
    /// are absent anyway, so only a key repeated across differently typed fragments could be
    /// placed by the wrong one.
    fn applies(&self, condition: &str, concrete: Option<&str>) -> bool {
        concrete.is_none_or(|t| {
            condition == t
                || self
                    .0
                    .get(condition)
                    .is_some_and(|members| members.contains(t))
        })
    }
}

/// A failed field: where, and whether its null must climb to its parent.
struct Hole {
    path: Vec<PathSegment>,
    non_null: bool,
}

pub(crate) struct PerRequest {
    types: Arc<OnceLock<PossibleTypes>>,
    /// Set while a query or mutation executes (not for subscriptions, whose events have no
    /// completion hook to consume the holes).
    executing: AtomicBool,
    /// `holes.len()`, read without the lock on the (error-free) fast path.
    hole_count: AtomicUsize,
    holes: Mutex<Vec<Hole>>,
    doc: Mutex<Option<Arc<ExecutableDocument>>>,
}

fn path_of(node: &async_graphql::QueryPathNode<'_>) -> Vec<PathSegment> {
    use async_graphql::QueryPathSegment;
    let mut path: Vec<PathSegment> = std::iter::once(node)
        .chain(node.parents())
        .map(|n| match n.segment {
            QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
            QueryPathSegment::Index(i) => PathSegment::Index(i),
        })
        .collect();
    path.reverse();
    path
}

/// The non-null flag of each list level of a type, outermost first: `[Village!]!` is
/// `[true, true]`.
fn shape(ty: &str) -> Vec<bool> {
    let mut levels = Vec::new();
    let mut rest = ty.trim();
    loop {
        let non_null = rest.ends_with('!');
        if non_null {
            rest = &rest[..rest.len() - 1];
        }
        levels.push(non_null);
        match rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            Some(inner) => rest = inner,
            None => return levels,
        }
    }
}

impl PerRequest {
    fn record(&self, path: Vec<PathSegment>, non_null: bool) {
        let Ok(mut holes) = self.holes.lock() else {
            return;
        };
        holes.push(Hole { path, non_null });
        self.hole_count.store(holes.len(), Ordering::Release);
    }

    /// Removes the holes beneath `prefix`, returning their paths relative to it.
    fn take_below(&self, prefix: &[PathSegment]) -> Vec<Hole> {
        if self.hole_count.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let Ok(mut holes) = self.holes.lock() else {
            return Vec::new();
        };
        let (below, others): (Vec<Hole>, Vec<Hole>) = std::mem::take(&mut *holes)
            .into_iter()
            .partition(|h| h.path.len() > prefix.len() && h.path.starts_with(prefix));
        *holes = others;
        self.hole_count.store(holes.len(), Ordering::Release);
        below
            .into_iter()
            .map(|h| Hole {
                path: h.path[prefix.len()..].to_vec(),
                non_null: h.non_null,
            })
            .collect()
    }

    fn types(&self, ctx: &ExtensionContext<'_>) -> &PossibleTypes {
        self.types
            .get_or_init(|| PossibleTypes::from_sdl(&ctx.sdl()))
    }
}

/// Fills the holes beneath a completed value whose list levels are `levels`; returns whether
/// the value itself had to become null.
fn fill(value: &mut Value, levels: &[bool], holes: &[Hole]) -> bool {
    // Nullable holes first: they may recreate an object async-graphql reported as null because
    // every one of its fields failed; non-null holes then null whole objects.
    for h in holes.iter().filter(|h| !h.non_null) {
        let Some((PathSegment::Field(key), indexes)) = h.path.split_last() else {
            continue;
        };
        if let Some(obj) = object_at(value, indexes) {
            obj.entry(Name::new(key)).or_insert(Value::Null);
        }
    }
    let mut nulled = false;
    // A non-null field that ended null: its parent object goes null, and climbs.
    for h in holes.iter().filter(|h| h.non_null) {
        let Some((_, indexes)) = h.path.split_last() else {
            continue;
        };
        let Some(indexes) = indexes
            .iter()
            .map(|s| match s {
                PathSegment::Index(i) => Some(*i),
                PathSegment::Field(_) => None,
            })
            .collect::<Option<Vec<usize>>>()
        else {
            continue;
        };
        if null_at(value, &indexes, levels) {
            *value = Value::Null;
            nulled = true;
        }
    }
    nulled
}

/// The object at `indexes` (list positions) below `value`, made an object if it is null.
fn object_at<'v>(
    value: &'v mut Value,
    indexes: &[PathSegment],
) -> Option<&'v mut IndexMap<Name, Value>> {
    let mut at = value;
    for seg in indexes {
        let PathSegment::Index(i) = seg else {
            return None;
        };
        match at {
            Value::List(items) => at = items.get_mut(*i)?,
            _ => return None,
        }
    }
    if matches!(at, Value::Null) {
        *at = Value::Object(IndexMap::new());
    }
    match at {
        Value::Object(obj) => Some(obj),
        _ => None,
    }
}

/// Nulls the object at `indexes` below `value` and climbs through non-null list items; returns
/// whether `value` itself must be null.
fn null_at(value: &mut Value, indexes: &[usize], levels: &[bool]) -> bool {
    let Some((i, rest)) = indexes.split_first() else {
        return true;
    };
    let Value::List(items) = value else {
        return false;
    };
    let Some(item) = items.get_mut(*i) else {
        return false;
    };
    if null_at(item, rest, levels.get(1..).unwrap_or_default()) {
        *item = Value::Null;
        return levels.get(1).copied().unwrap_or(false);
    }
    false
}

/// Puts the keys of the objects at the last list level of `value` in selection-set order.
fn order(
    value: &mut Value,
    depth: usize,
    set: &SelectionSet,
    doc: &ExecutableDocument,
    types: &PossibleTypes,
) {
    // Without fragments the keys do not depend on an object's type: collect them once for all
    // the objects of a list.
    let plain = set
        .items
        .iter()
        .all(|item| matches!(item.node, Selection::Field(_)));
    let keys = plain.then(|| {
        let mut keys = Vec::with_capacity(set.items.len());
        collect(set, None, doc, types, &mut keys);
        keys
    });
    order_objects(value, depth, set, doc, types, keys.as_deref());
}

fn order_objects(
    value: &mut Value,
    depth: usize,
    set: &SelectionSet,
    doc: &ExecutableDocument,
    types: &PossibleTypes,
    plain_keys: Option<&[&str]>,
) {
    match value {
        Value::List(items) if depth > 0 => {
            for item in items {
                order_objects(item, depth - 1, set, doc, types, plain_keys);
            }
        }
        Value::Object(obj) => {
            let collected;
            let keys: &[&str] = match plain_keys {
                Some(keys) => keys,
                None => {
                    let concrete = match obj.get("__typename") {
                        Some(Value::String(t)) => Some(t.clone()),
                        _ => None,
                    };
                    let mut keys = Vec::with_capacity(obj.len());
                    collect(set, concrete.as_deref(), doc, types, &mut keys);
                    collected = keys;
                    &collected
                }
            };
            // Every selected key present (the usual case): compared as they stand, without a
            // lookup per key.
            let in_order = if obj.len() == keys.len() {
                obj.keys().map(|k| k.as_str()).eq(keys.iter().copied())
            } else {
                obj.keys()
                    .map(|k| k.as_str())
                    .eq(keys.iter().copied().filter(|k| obj.contains_key(*k)))
            };
            if !in_order {
                let mut sorted = IndexMap::with_capacity(obj.len());
                for k in keys {
                    if let Some((name, v)) = obj.shift_remove_entry(*k) {
                        sorted.insert(name, v);
                    }
                }
                sorted.extend(std::mem::take(obj));
                *obj = sorted;
            }
        }
        _ => {}
    }
}

/// CollectFields: the response keys of `set` in order of first appearance.
fn collect<'d>(
    set: &'d SelectionSet,
    concrete: Option<&str>,
    doc: &'d ExecutableDocument,
    types: &PossibleTypes,
    keys: &mut Vec<&'d str>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let key = f.node.response_key().node.as_str();
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            Selection::FragmentSpread(s) => {
                if let Some(frag) = doc.fragments.get(&s.node.fragment_name.node) {
                    let on = frag.node.type_condition.node.on.node.as_str();
                    if types.applies(on, concrete) {
                        collect(&frag.node.selection_set.node, concrete, doc, types, keys);
                    }
                }
            }
            Selection::InlineFragment(f) => {
                let applies = f
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| types.applies(c.node.on.node.as_str(), concrete));
                if applies {
                    collect(&f.node.selection_set.node, concrete, doc, types, keys);
                }
            }
        }
    }
}

impl PerRequest {
    /// The request's parsed document, for putting keys in order.
    pub(crate) fn remember(&self, doc: Arc<ExecutableDocument>) {
        if let Ok(mut slot) = self.doc.lock() {
            *slot = Some(doc);
        }
    }

    /// Runs the operation, then fills the root's holes and orders the root's keys.
    pub(crate) async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.executing.store(true, Ordering::Release);
        let mut res = next.run(ctx, operation_name).await;
        self.executing.store(false, Ordering::Release);
        let holes = self.take_below(&[]);
        if !holes.is_empty() && res.data == Value::Null {
            res.data = Value::Object(IndexMap::new());
        }
        fill(&mut res.data, &[false], &holes);
        let doc = self.doc.lock().ok().and_then(|d| d.clone());
        if let Some(doc) = doc {
            let op = match operation_name {
                Some(name) => doc
                    .operations
                    .iter()
                    .find(|(n, _)| n.is_some_and(|n| n == name)),
                None => doc.operations.iter().next(),
            };
            if let Some((_, op)) = op {
                let set = &op.node.selection_set.node;
                order(&mut res.data, 0, set, &doc, self.types(ctx));
            }
        }
        res
    }

    /// Resolves one field, recording it as a hole if it failed and completing its value
    /// (holes beneath it filled, keys in order) if it did not.
    pub(crate) async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // List items pass through this hook too, but with the element type's nullability lost
        // (async-graphql reports `T!` for `Option<T>` items); the list field itself knows its
        // item types and completes its items.
        let item = matches!(
            info.path_node.segment,
            async_graphql::QueryPathSegment::Index(_)
        );
        if item || !self.executing.load(Ordering::Acquire) {
            return next.run(ctx, info).await;
        }
        let path_node = info.path_node;
        let return_type = info.return_type;
        let field = info.field;
        // Every field of every object comes through here: a scalar that resolved, with no
        // hole anywhere, costs no allocation.
        let non_null = return_type.trim_end().ends_with('!');
        match next.run(ctx, info).await {
            Err(e) => {
                self.record(path_of(path_node), non_null);
                Err(e)
            }
            Ok(Some(mut value)) => {
                let is_composite = !field.selection_set.node.items.is_empty();
                if self.hole_count.load(Ordering::Acquire) > 0 {
                    let path = path_of(path_node);
                    let holes = self.take_below(&path);
                    if fill(&mut value, &shape(return_type), &holes) && non_null {
                        self.record(path, true);
                    }
                }
                if is_composite && !matches!(value, Value::Null) {
                    let doc = self.doc.lock().ok().and_then(|d| d.clone());
                    if let Some(doc) = doc {
                        order(
                            &mut value,
                            list_depth(return_type),
                            &field.selection_set.node,
                            &doc,
                            self.types(ctx),
                        );
                    }
                }
                Ok(Some(value))
            }
            Ok(None) => Ok(None),
        }
    }
}

/// How many list levels a type has: `[[Int]!]` has 2.
fn list_depth(ty: &str) -> usize {
    ty.bytes().filter(|b| *b == b'[').count()
}

/// Completion alone, as an extension of its own (the served schema runs it within
/// [`super::hooks::Hooks`], with the other per-request hooks, as one extension).
#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        self.remember(Arc::new(doc.clone()));
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        PerRequest::execute(self, ctx, operation_name, next).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        PerRequest::resolve(self, ctx, info, next).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_shapes() {
        assert_eq!(list_depth("String"), 0);
        assert_eq!(list_depth("[[Int]!]"), 2);
        assert_eq!(shape("String"), vec![false]);
        assert_eq!(shape("[Village!]!"), vec![true, true]);
        assert_eq!(shape("[[Int]!]"), vec![false, true, false]);
    }

    #[test]
    fn null_climbs_through_non_null_items_only() {
        let field = |k: &str| PathSegment::Field(k.to_owned());
        let mut v = Value::from_json(serde_json::json!([{ "a": 1 }, { "a": 2 }])).expect("json");
        let hole = Hole {
            path: vec![PathSegment::Index(1), field("b")],
            non_null: true,
        };
        // `[T]`: the item becomes null, the list stays.
        assert!(!fill(&mut v, &[false, false], std::slice::from_ref(&hole)));
        assert_eq!(
            v.into_json().expect("json"),
            serde_json::json!([{ "a": 1 }, null])
        );
        // `[T!]!`: the whole list becomes null and so must the field.
        let mut v = Value::from_json(serde_json::json!([{ "a": 1 }, { "a": 2 }])).expect("json");
        assert!(fill(&mut v, &[true, true], &[hole]));
        assert_eq!(v, Value::Null);
    }
}
