use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

/// Answers from a table of advisories by package name, `page` ids per
/// page, and records every request.
struct FakeApi {
    by_package: BTreeMap<String, Vec<String>>,
    page: usize,
    posts: Vec<Value>,
    gets: Vec<String>,
    refuse: bool,
}

impl FakeApi {
    fn new(page: usize, table: &[(&str, &[&str])]) -> Self {
        let by_package = table
            .iter()
            .map(|(name, ids)| {
                (
                    name.to_string(),
                    ids.iter().map(|i| i.to_string()).collect(),
                )
            })
            .collect();
        Self {
            by_package,
            page,
            posts: Vec::new(),
            gets: Vec::new(),
            refuse: false,
        }
    }

    fn result(&self, query: &Value) -> Value {
        let name = query["package"]["name"].as_str().unwrap();
        let ids = self.by_package.get(name).cloned().unwrap_or_default();
        let start: usize = query["page_token"]
            .as_str()
            .map_or(0, |t| t.parse().unwrap());
        let end = (start + self.page).min(ids.len());
        let vulns: Vec<Value> = ids[start..end]
            .iter()
            .map(|id| json!({"id": id, "modified": "2026-01-01T00:00:00Z"}))
            .collect();
        if end < ids.len() {
            json!({"vulns": vulns, "next_page_token": end.to_string()})
        } else {
            json!({"vulns": vulns})
        }
    }
}

impl Transport for FakeApi {
    fn post_json(&mut self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
        assert_eq!(url, "http://osv.test/v1/querybatch");
        if self.refuse {
            return Err(format!("request to `{url}` refused: not granted"));
        }
        let request: Value = serde_json::from_slice(&body).unwrap();
        let results: Vec<Value> = request["queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|query| self.result(query))
            .collect();
        self.posts.push(request);
        Ok(serde_json::to_vec(&json!({"results": results})).unwrap())
    }

    fn get(&mut self, url: &str) -> Result<Vec<u8>, String> {
        self.gets.push(url.to_owned());
        let id = url.rsplit('/').next().unwrap();
        let record =
            json!({"id": id, "modified": format!("2026-0{}-01T00:00:00Z", id.len() % 9 + 1)});
        Ok(serde_json::to_vec(&record).unwrap())
    }
}

fn query(name: &str) -> PackageQuery {
    PackageQuery {
        ecosystem: "crates.io".to_owned(),
        name: name.to_owned(),
        version: "1.0.0".to_owned(),
    }
}

#[test]
fn pages_are_followed_until_no_token_is_left() {
    let fake = FakeApi::new(1, &[("time", &["A-1", "A-2", "A-3"]), ("log", &["B-1"])]);
    let mut client = ApiClient::new("http://osv.test/", fake);
    let ids = client
        .query_ids(&[query("time"), query("log"), query("clean")])
        .unwrap();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        ["A-1", "A-2", "A-3", "B-1"]
    );

    let posts = &client.transport().posts;
    assert_eq!(posts.len(), 3, "first page, then two more for `time` only");
    assert_eq!(posts[0]["queries"].as_array().unwrap().len(), 3);
    assert_eq!(
        posts[1]["queries"],
        json!([{
            "package": {"name": "time", "ecosystem": "crates.io"},
            "version": "1.0.0",
            "page_token": "1"
        }])
    );
    assert!(posts[0]["queries"][0].get("page_token").is_none());
}

#[test]
fn batches_hold_at_most_a_thousand_queries() {
    let fake = FakeApi::new(10, &[]);
    let mut client = ApiClient::new("http://osv.test", fake);
    let packages: Vec<_> = (0..2001).map(|i| query(&format!("p{i}"))).collect();
    assert!(client.query_ids(&packages).unwrap().is_empty());
    let sizes: Vec<_> = client
        .transport()
        .posts
        .iter()
        .map(|post| post["queries"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1000, 1000, 1]);
}

#[test]
fn each_advisory_is_fetched_once_and_the_database_is_named_by_them() {
    let fake = FakeApi::new(5, &[("a", &["X-1", "SHARED"]), ("b", &["SHARED"])]);
    let mut client = ApiClient::new("http://osv.test", fake);
    let loaded = client.load(&[query("a"), query("b")]).unwrap();
    assert_eq!(
        client.transport().gets,
        [
            "http://osv.test/v1/vulns/SHARED",
            "http://osv.test/v1/vulns/X-1"
        ]
    );
    assert_eq!(loaded.info.source, SourceKind::Api);
    assert_eq!(loaded.info.location, "http://osv.test");
    assert_eq!(loaded.info.advisories, 2);
    assert_eq!(
        loaded.info.snapshot.as_deref(),
        Some("2026-07-01T00:00:00Z")
    );
    let ids: Vec<_> = loaded.advisories.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["SHARED", "X-1"]);
}

#[test]
fn a_refused_request_fails_the_load_with_the_transport_message() {
    let mut fake = FakeApi::new(5, &[]);
    fake.refuse = true;
    let mut client = ApiClient::new("http://osv.test", fake);
    let error = client.load(&[query("a")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "request to `http://osv.test/v1/querybatch` refused: not granted"
    );
}

/// A transport with one canned answer for every request.
struct Canned(&'static str);

impl Transport for Canned {
    fn post_json(&mut self, _: &str, _: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(self.0.as_bytes().to_vec())
    }

    fn get(&mut self, _: &str) -> Result<Vec<u8>, String> {
        Ok(self.0.as_bytes().to_vec())
    }
}

#[test]
fn answers_that_do_not_fit_the_request_are_refused() {
    let short = ApiClient::new("http://o", Canned(r#"{"results": []}"#))
        .query_ids(&[query("a")])
        .unwrap_err();
    assert!(
        short
            .to_string()
            .contains("1 queries sent, 0 results received"),
        "{short}"
    );

    let endless = r#"{"results": [{"vulns": [], "next_page_token": "again"}]}"#;
    let error = ApiClient::new("http://o", Canned(endless))
        .query_ids(&[query("a")])
        .unwrap_err();
    assert!(
        error.to_string().contains("still more pages after 100"),
        "{error}"
    );

    let garbage = ApiClient::new("http://o", Canned("<html>"))
        .query_ids(&[query("a")])
        .unwrap_err();
    assert!(
        garbage
            .to_string()
            .starts_with("failed to read the answer of `http://o/v1/querybatch`"),
        "{garbage}"
    );
}

#[test]
fn a_record_for_another_id_is_refused() {
    let mut client = ApiClient::new("http://o", Canned(r#"{"id": "OTHER-1"}"#));
    let error = client.fetch("WANTED-1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the answer of `http://o/v1/vulns/WANTED-1` is not for the request sent: \
         asked for `WANTED-1`, got `OTHER-1`"
    );
    assert!(client.fetch("OTHER-1").is_ok());
}

#[test]
fn ids_cannot_change_the_path() {
    assert_eq!(encode_id("RUSTSEC-2020-0071"), "RUSTSEC-2020-0071");
    assert_eq!(encode_id("a/../b?c"), "a%2F..%2Fb%3Fc");
    assert_eq!(encode_id(".."), "%2E%2E");
}
