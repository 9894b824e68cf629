"""Splits a folded profile (fold.py's output) into what the server spends its CPU on: each
sample goes to the first category, in the order below, with a frame matching it.
Usage: python3 breakdown.py NAME.folded [OTHER.folded]"""
import re
import sys

CATEGORIES = [
    ("pool: ping before handing out a connection", r"check_idle_conn|::ping"),
    ("SQL statements: sqlx + sea-orm (send, receive, decode)", r"sqlx_|sea_orm::|sqlx_core|sqlx_postgres"),
    ("SQL building (sea-query)", r"sea_query::"),
    ("GraphQL: request preparation (parse, validation, extensions, document caches)", r"prepare_request|parse_query|check_rules|validation|documents::|Schema.*::prepare"),
    ("GraphQL: per-field extension hooks and completion", r"NextResolve|hooks::|completion::|Extensions::resolve"),
    ("GraphQL: execution (resolvers, fields, lists)", r"async_graphql::|api::graphql::|resolve_container|resolve_list"),
    ("JSON: response serialisation", r"serde_json::ser|Serialize>::serialize|to_vec"),
    ("JSON: request parsing", r"serde_json::de|from_slice"),
    ("authentication", r"api::auth::|api::caller::"),
    ("metrics", r"metrics|PrometheusHandle|metrics_util|metrics::"),
    ("HTTP: hyper, axum, tower", r"hyper|axum|tower|http::|h1::"),
    ("tokio runtime, scheduling, timers", r"tokio::"),
    ("allocator", r"mi_|mimalloc|_mi_"),
    ("kernel", r"_\[k\]$"),
]


def load(path):
    out = {name: 0 for name, _ in CATEGORIES}
    out["other"] = 0
    total = 0
    for line in open(path):
        stack, n = line.rstrip("\n").rsplit(" ", 1)
        n = int(n)
        total += n
        frames = stack.split(";")[1:]
        for name, rx in CATEGORIES:
            r = re.compile(rx)
            if any(r.search(f) for f in frames):
                out[name] += n
                break
        else:
            out["other"] += n
    return out, total


runs = [load(p) for p in sys.argv[1:]]
print("| category | " + " | ".join(sys.argv[1:]) + " |")
print("| --- |" + " --- |" * len(runs))
for name in [c for c, _ in CATEGORIES] + ["other"]:
    print(f"| {name} | " + " | ".join(f"{o[name] * 100 / max(t, 1):.1f} % ({o[name]})" for o, t in runs) + " |")
print("| all samples | " + " | ".join(str(t) for _, t in runs) + " |")
