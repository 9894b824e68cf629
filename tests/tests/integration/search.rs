//! Search that forgives spelling: the spellings people type for a place find it, in English
//! or Devanagari, measured as recall over every demo and synthetic name and checked through
//! the API on both databases.

use std::collections::BTreeSet;

use api::{
    seed::names::{DISTRICTS, RIVERS, STATES, place},
    service::search_key::{query_key, search_key},
};
use serde_json::{Value, json};
use tests::{TestApp, each_backend};

/// The ways people misspell a romanised name, each applied once where it applies.
fn variants(en: &str, hi: &str) -> Vec<(&'static str, String)> {
    let lower = en.to_lowercase();
    let mut out = vec![("as written", en.to_owned()), ("Devanagari", hi.to_owned())];
    let mut push = |rule: &'static str, v: String| {
        if v != lower && !v.is_empty() {
            out.push((rule, v));
        }
    };
    push("lower case", lower.clone());
    push("upper case", en.to_uppercase());
    push("sh as s", lower.replacen("sh", "s", 1));
    if let Some(i) = lower.find('s').filter(|i| !lower[i + 1..].starts_with('h')) {
        push("s as sh", format!("{}sh{}", &lower[..i], &lower[i + 1..]));
    }
    push("v as w", lower.replacen('v', "w", 1));
    push("w as v", lower.replacen('w', "v", 1));
    push("aa for a", lower.replacen('a', "aa", 1));
    push("a for aa", lower.replacen("aa", "a", 1));
    push("ee for i", lower.replacen('i', "ee", 1));
    push("i for ee", lower.replacen("ee", "i", 1));
    push("oo for u", lower.replacen('u', "oo", 1));
    if let Some((i, c)) = lower
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_alphabetic() && !"aeiou".contains(*c))
    {
        push(
            "doubled letter",
            format!("{}{c}{}", &lower[..i], &lower[i..]),
        );
    }
    if lower.ends_with('a') {
        push("no trailing a", lower[..lower.len() - 1].to_owned());
    } else {
        push("trailing a", format!("{lower}a"));
    }
    // The short a that romanisation writes or leaves out inside a word (Shivpur / Shivapur).
    let chars: Vec<char> = lower.chars().collect();
    if let Some(i) = (1..chars.len().saturating_sub(1)).find(|&i| {
        chars[i] == 'a' && !"aeiou".contains(chars[i - 1]) && !"aeiouh".contains(chars[i + 1])
    }) {
        let mut c = chars.clone();
        c.remove(i);
        push("medial a dropped", c.into_iter().collect());
    }
    out
}

/// Every place name the demo and the synthetic seeds use: states, districts, blocks, rivers,
/// and all generated village and gram panchayat names.
fn names() -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for s in &STATES {
        all.insert((s.name.to_owned(), s.name_hi.to_owned()));
    }
    for d in &DISTRICTS {
        all.insert((d.name.to_owned(), d.name_hi.to_owned()));
        for (en, hi) in d.blocks {
            all.insert(((*en).to_owned(), (*hi).to_owned()));
        }
    }
    for (en, hi) in RIVERS {
        all.insert((en.to_owned(), hi.to_owned()));
    }
    for n in 0..320 {
        all.insert(place(n));
    }
    all
}

/// The name search before the key: English (any case) or Hindi contains the text.
fn found_by_name(en: &str, hi: &str, text: &str) -> bool {
    en.to_lowercase().contains(&text.trim().to_lowercase()) || hi.contains(text.trim())
}

fn found_by_key(en: &str, hi: &str, text: &str) -> bool {
    let key = query_key(text);
    found_by_name(en, hi, text) || (!key.is_empty() && search_key(en, hi).contains(&key))
}

#[test]
fn recall_over_demo_and_synthetic_names() {
    let names = names();
    let (mut total, mut by_name, mut by_key) = (0, 0, 0);
    let mut per_rule: std::collections::BTreeMap<&str, (u32, u32, u32)> = Default::default();
    let mut misses = Vec::new();
    for (en, hi) in &names {
        for (rule, text) in variants(en, hi) {
            total += 1;
            let n = found_by_name(en, hi, &text);
            let k = found_by_key(en, hi, &text);
            by_name += u32::from(n);
            by_key += u32::from(k);
            let r = per_rule.entry(rule).or_default();
            r.0 += 1;
            r.1 += u32::from(n);
            r.2 += u32::from(k);
            if !k {
                misses.push(format!("{en} / {hi}: {rule} `{text}`"));
            }
        }
    }
    let pct = |n: u32, of: u32| f64::from(n) * 100.0 / f64::from(of);
    println!("{} names, {total} spellings", names.len());
    println!("| spelling | searches | found by name | found by key |");
    println!("|---|---:|---:|---:|");
    for (rule, (n, a, b)) in &per_rule {
        println!(
            "| {rule} | {n} | {:.1} % | {:.1} % |",
            pct(*a, *n),
            pct(*b, *n)
        );
    }
    println!(
        "| all | {total} | {:.1} % | {:.1} % |",
        pct(by_name, total),
        pct(by_key, total)
    );
    println!("misses: {misses:#?}");
    // Every spelling rule the key folds must be found; what is left are real spelling changes.
    assert!(
        pct(by_key, total) >= 99.0,
        "recall {:.1} %",
        pct(by_key, total)
    );
    assert!(
        by_key > by_name,
        "the key must find more than the plain name search"
    );
}

#[tokio::test]
async fn sivpur_shivpur_and_devanagari_find_the_same_villages() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let q = "query($s: String) { villages(first: 100, filter: { search: $s }) { totalCount edges { node { id name nameHi } } } }";
        let found = |data: Value| -> BTreeSet<String> {
            data["villages"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
                .collect()
        };
        let shivpur = found(app.data(q, json!({ "s": "Shivpur" })).await);
        assert!(!shivpur.is_empty(), "the demo has a Shivpur");
        for spelling in ["sivpur", "shivpur", "SHIWPUR", "Shivapur", "शिवपुर"] {
            let got = found(app.data(q, json!({ "s": spelling })).await);
            assert_eq!(got, shivpur, "{spelling}");
        }

        // Recall through the database: each spelling of a sample of villages finds it.
        let sample = app
            .data("{ villages(first: 60) { edges { node { id name nameHi } } } }", json!({}))
            .await;
        let (mut total, mut hits) = (0, 0);
        for e in sample["villages"]["edges"].as_array().expect("edges").iter().step_by(3) {
            let v = &e["node"];
            let (en, hi) = (v["name"].as_str().expect("name"), v["nameHi"].as_str().expect("nameHi"));
            for (rule, text) in variants(en, hi) {
                let q = "query($s: String, $c: String) { villages(first: 100, after: $c, filter: { search: $s }) { pageInfo { endCursor hasNextPage } edges { node { id } } } }";
                let mut cursor = Value::Null;
                let mut all = BTreeSet::new();
                loop {
                    let data = app.data(q, json!({ "s": text, "c": cursor })).await;
                    all.extend(found(data.clone()));
                    if data["villages"]["pageInfo"]["hasNextPage"] != true {
                        break;
                    }
                    cursor = data["villages"]["pageInfo"]["endCursor"].clone();
                }
                total += 1;
                if all.contains(v["id"].as_str().expect("id")) {
                    hits += 1;
                } else {
                    println!("missed {en} / {hi} by {rule} `{text}`");
                }
            }
        }
        println!("database recall: {hits} of {total}");
        assert!(hits * 100 >= total * 99, "{hits} of {total}");
    })
    .await;
}
