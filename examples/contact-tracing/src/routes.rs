//! Request handling, apart from the socket: method and path in, reply out.
//!
//! Keeping this free of the HTTP server type lets every route and error be
//! tested as a plain function call; `server.rs` does the I/O around it.

use serde_json::{json, Value};
use time::Timespec;

use crate::config::describe_retention;
use crate::exposure::ExposureReport;
use crate::store::ExposureStore;

/// What the server read from one HTTP request.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Request method, upper case as sent (`GET`).
    pub method: &'a str,
    /// Request target, possibly with a query string.
    pub target: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The whole request body.
    pub body: &'a [u8],
}

/// A JSON reply and the headers that go with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// `Location` of a created resource.
    pub location: Option<String>,
    /// `Allow` methods, sent with 405.
    pub allow: Option<&'static str>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body,
            location: None,
            allow: None,
        }
    }

    /// A reply carrying `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "error": message.into() }))
    }

    fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::error(405, format!("method not allowed; use {allow}"))
        }
    }
}

/// Routes one request against the store, at the instant `now`.
pub fn handle(store: &mut ExposureStore, request: Incoming<'_>, now: Timespec) -> Reply {
    let path = request.target.split('?').next().unwrap_or_default();
    match path {
        "/health" => match request.method {
            "GET" | "HEAD" => health(store, now),
            _ => Reply::method_not_allowed("GET"),
        },
        "/exposures" => match request.method {
            "POST" => create_exposure(store, request, now),
            _ => Reply::method_not_allowed("POST"),
        },
        _ => match path.strip_prefix("/exposures/") {
            Some(id) => match request.method {
                "GET" | "HEAD" => show_exposure(store, id, now),
                _ => Reply::method_not_allowed("GET"),
            },
            None => Reply::error(404, format!("no route for `{path}`")),
        },
    }
}

fn health(store: &ExposureStore, now: Timespec) -> Reply {
    Reply::json(
        200,
        json!({
            "status": "ok",
            "exposures": store.live_count(now),
            "retention": describe_retention(store.retention()),
        }),
    )
}

fn create_exposure(store: &mut ExposureStore, request: Incoming<'_>, now: Timespec) -> Reply {
    if !is_json(request.content_type) {
        return Reply::error(415, "`Content-Type` must be `application/json`");
    }
    let report: ExposureReport = match serde_json::from_slice(request.body) {
        Ok(report) => report,
        Err(err) => return Reply::error(400, format!("invalid exposure report: {err}")),
    };
    match store.record(report, now) {
        Ok(exposure) => Reply {
            location: Some(format!("/exposures/{}", exposure.id)),
            ..Reply::json(201, json!(exposure))
        },
        Err(err) => Reply::error(422, err.to_string()),
    }
}

fn show_exposure(store: &ExposureStore, id: &str, now: Timespec) -> Reply {
    let found = id.parse::<u64>().ok().and_then(|id| store.get(id, now));
    match found {
        Some(exposure) => Reply::json(200, json!(exposure)),
        None => Reply::error(404, format!("no exposure `{id}`")),
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::parse_utc;
    use std::time::Duration;

    const BODY: &str = r#"{
        "reporter": "0123456789abcdef0123456789abcdef",
        "contact": "fedcba9876543210fedcba9876543210",
        "contact_at": "2026-11-02T14:30:00Z",
        "duration_minutes": 20,
        "distance_meters": 1.5
    }"#;

    fn now() -> Timespec {
        parse_utc("2026-11-03T09:00:00Z").unwrap()
    }

    fn send(store: &mut ExposureStore, method: &str, target: &str, body: &str) -> Reply {
        let request = Incoming {
            method,
            target,
            content_type: Some("application/json; charset=utf-8"),
            body: body.as_bytes(),
        };
        handle(store, request, now())
    }

    fn store() -> ExposureStore {
        ExposureStore::new(Duration::from_secs(14 * 24 * 3600))
    }

    #[test]
    fn posted_exposure_is_created_and_can_be_read_back() {
        let mut store = store();
        let created = send(&mut store, "POST", "/exposures", BODY);
        assert_eq!(created.status, 201);
        assert_eq!(created.location.as_deref(), Some("/exposures/1"));
        assert_eq!(created.body["risk"], "close-contact");
        assert_eq!(created.body["expires_at"], "2026-11-16T14:30:00Z");
        assert!(created.body.get("expires_at_secs").is_none());

        let shown = send(&mut store, "GET", "/exposures/1?fields=all", "");
        assert_eq!(shown.status, 200);
        assert_eq!(shown.body, created.body);
    }

    #[test]
    fn health_reports_the_live_exposure_count_and_retention() {
        let mut store = store();
        send(&mut store, "POST", "/exposures", BODY);
        let reply = send(&mut store, "GET", "/health", "");
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.body,
            json!({ "status": "ok", "exposures": 1, "retention": "14days" })
        );
    }

    #[test]
    fn malformed_or_unknown_json_fields_are_a_bad_request() {
        let mut store = store();
        let reply = send(&mut store, "POST", "/exposures", "{not json");
        assert_eq!(reply.status, 400);

        let extra = BODY.replace(
            "\"duration_minutes\"",
            "\"name\": \"Ann\", \"duration_minutes\"",
        );
        let reply = send(&mut store, "POST", "/exposures", &extra);
        assert_eq!(reply.status, 400);
        assert!(
            reply.body["error"]
                .as_str()
                .unwrap()
                .contains("unknown field `name`"),
            "{reply:?}"
        );
    }

    #[test]
    fn reports_that_break_the_rules_are_unprocessable() {
        let mut store = store();
        let stale = BODY.replace("2026-11-02T14:30:00Z", "2026-10-01T14:30:00Z");
        let reply = send(&mut store, "POST", "/exposures", &stale);
        assert_eq!(reply.status, 422);
        assert!(
            reply.body["error"]
                .as_str()
                .unwrap()
                .contains("retention window"),
            "{reply:?}"
        );
        assert_eq!(send(&mut store, "GET", "/health", "").body["exposures"], 0);
    }

    #[test]
    fn posting_without_a_json_content_type_is_refused() {
        let mut store = store();
        let request = Incoming {
            method: "POST",
            target: "/exposures",
            content_type: Some("text/plain"),
            body: BODY.as_bytes(),
        };
        assert_eq!(handle(&mut store, request, now()).status, 415);
    }

    #[test]
    fn unknown_ids_routes_and_methods_get_distinct_errors() {
        let mut store = store();
        assert_eq!(send(&mut store, "GET", "/exposures/9", "").status, 404);
        assert_eq!(send(&mut store, "GET", "/exposures/abc", "").status, 404);
        assert_eq!(send(&mut store, "GET", "/metrics", "").status, 404);

        let reply = send(&mut store, "DELETE", "/exposures/1", "");
        assert_eq!((reply.status, reply.allow), (405, Some("GET")));
        let reply = send(&mut store, "GET", "/exposures", "");
        assert_eq!((reply.status, reply.allow), (405, Some("POST")));
    }
}
