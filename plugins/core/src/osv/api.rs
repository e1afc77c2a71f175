//! A client of the OSV API, independent of how requests travel.
//!
//! The scan asks the API in two steps. `POST <api>/v1/querybatch` names
//! packages and versions, at most [`MAX_BATCH`] per request, and answers,
//! query by query, the ids (and `modified` times) of the advisories that
//! concern each; a result with a `next_page_token` has more, asked for by
//! sending that query again with the token as `page_token`. Then
//! `GET <api>/v1/vulns/<id>` fetches each advisory once.
//!
//! The fetched records go through the same [`super::AdvisoryIndex`] and
//! matcher as a directory's, so the API decides only which advisories are
//! looked at, never whether a version is affected: both sources give the
//! same findings on the same data.
//!
//! Requests go through a [`Transport`], which the scan plugin implements
//! with the host's `http` import and tests implement with canned answers.
//!
//! Caching: within a run each advisory is fetched once, however many
//! packages name it (the ids are gathered into a set before any is
//! fetched). Nothing is kept across runs: the API serves the live
//! database, an old copy would go stale unseen, and what a run used is
//! named by its digest in any case.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::database::{LoadedDatabase, ManifestEntry, SourceKind};
use super::schema::Advisory;

/// The most queries one `querybatch` request may carry.
pub const MAX_BATCH: usize = 1000;

/// The most pages the client follows for one batch, so that a server that
/// keeps answering with tokens cannot keep the scan forever.
pub const MAX_PAGES: usize = 100;

/// The public OSV API.
pub const DEFAULT_API: &str = "https://api.osv.dev";

/// Sends requests; the plugin's is the host's `http` import.
pub trait Transport {
    /// POSTs `body` as `application/json` to `url` and returns the body of
    /// a 2xx answer.
    ///
    /// # Errors
    ///
    /// A message naming the URL: refused, failed, or an error status.
    fn post_json(&mut self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, String>;

    /// GETs `url` and returns the body of a 2xx answer.
    ///
    /// # Errors
    ///
    /// As for [`Transport::post_json`].
    fn get(&mut self, url: &str) -> Result<Vec<u8>, String>;
}

/// A package version to ask about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PackageQuery {
    /// The OSV ecosystem, e.g. `crates.io`.
    pub ecosystem: String,
    /// The package's name in it.
    pub name: String,
    /// The locked version.
    pub version: String,
}

/// Why the API's answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request was refused or failed; the transport's message.
    #[error("{0}")]
    Transport(String),
    /// The answer is not the JSON the API documents.
    #[error("failed to read the answer of `{url}`: {error}")]
    Decode {
        /// The URL asked.
        url: String,
        /// The JSON error.
        error: serde_json::Error,
    },
    /// The answer does not fit the request.
    #[error("the answer of `{url}` is not for the request sent: {problem}")]
    Mismatch {
        /// The URL asked.
        url: String,
        /// What does not fit.
        problem: String,
    },
}

/// One query as the API reads it.
#[derive(Debug, Serialize)]
struct Query<'a> {
    package: QueryPackage<'a>,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct QueryPackage<'a> {
    name: &'a str,
    ecosystem: &'a str,
}

#[derive(Debug, Serialize)]
struct BatchRequest<'a> {
    queries: Vec<Query<'a>>,
}

#[derive(Debug, Deserialize)]
struct BatchResponse {
    #[serde(default)]
    results: Vec<BatchResult>,
}

#[derive(Debug, Deserialize)]
struct BatchResult {
    #[serde(default)]
    vulns: Vec<VulnRef>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VulnRef {
    id: String,
}

/// Asks the API at a base URL through a transport.
pub struct ApiClient<T> {
    base: String,
    transport: T,
}

impl<T: Transport> ApiClient<T> {
    /// A client of the API at `base`, e.g. [`DEFAULT_API`]; a trailing `/`
    /// is dropped.
    pub fn new(base: &str, transport: T) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            transport,
        }
    }

    /// Asks for the advisories of `packages` and fetches each, returning
    /// them as a database named by the ids and the bytes fetched.
    ///
    /// # Errors
    ///
    /// [`ApiError`] for the first request that fails or answer that does
    /// not fit: the scan never goes on with part of the data.
    pub fn load(&mut self, packages: &[PackageQuery]) -> Result<LoadedDatabase, ApiError> {
        let ids = self.query_ids(packages)?;
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids {
            let (bytes, advisory) = self.fetch(&id)?;
            entries.push(ManifestEntry::new(id, &bytes, advisory));
        }
        Ok(LoadedDatabase::from_entries(
            SourceKind::Api,
            &self.base,
            entries,
        ))
    }

    /// The ids of every advisory the API names for `packages`, all pages.
    ///
    /// # Errors
    ///
    /// As for [`ApiClient::load`].
    pub fn query_ids(&mut self, packages: &[PackageQuery]) -> Result<BTreeSet<String>, ApiError> {
        let mut ids = BTreeSet::new();
        for batch in packages.chunks(MAX_BATCH) {
            self.query_batch(batch, &mut ids)?;
        }
        Ok(ids)
    }

    /// Asks about one batch, then again about the queries that have more
    /// pages, until none has.
    fn query_batch(
        &mut self,
        batch: &[PackageQuery],
        ids: &mut BTreeSet<String>,
    ) -> Result<(), ApiError> {
        let url = format!("{}/v1/querybatch", self.base);
        let mut pending: Vec<(usize, Option<String>)> =
            (0..batch.len()).map(|i| (i, None)).collect();
        for _ in 0..MAX_PAGES {
            if pending.is_empty() {
                return Ok(());
            }
            let body = batch_body(batch, &pending);
            let answer = self
                .transport
                .post_json(&url, body)
                .map_err(ApiError::Transport)?;
            let response: BatchResponse = decode(&url, &answer)?;
            if response.results.len() != pending.len() {
                return Err(ApiError::Mismatch {
                    url,
                    problem: format!(
                        "{} queries sent, {} results received",
                        pending.len(),
                        response.results.len()
                    ),
                });
            }
            let mut next = Vec::new();
            for ((position, _), result) in pending.iter().zip(response.results) {
                ids.extend(result.vulns.into_iter().map(|vuln| vuln.id));
                if let Some(token) = result.next_page_token.filter(|t| !t.is_empty()) {
                    next.push((*position, Some(token)));
                }
            }
            pending = next;
        }
        if pending.is_empty() {
            return Ok(());
        }
        Err(ApiError::Mismatch {
            url,
            problem: format!("still more pages after {MAX_PAGES}"),
        })
    }

    /// One advisory's bytes and record, checked to be the one asked for.
    fn fetch(&mut self, id: &str) -> Result<(Vec<u8>, Advisory), ApiError> {
        let url = format!("{}/v1/vulns/{}", self.base, encode_id(id));
        let bytes = self.transport.get(&url).map_err(ApiError::Transport)?;
        let advisory: Advisory = decode(&url, &bytes)?;
        if advisory.id != id {
            return Err(ApiError::Mismatch {
                url,
                problem: format!("asked for `{id}`, got `{}`", advisory.id),
            });
        }
        Ok((bytes, advisory))
    }

    /// The transport, e.g. to read what a test transport saw.
    pub fn transport(&self) -> &T {
        &self.transport
    }
}

/// The JSON body asking about `pending` (positions in `batch`, with the
/// page token of each, if any).
fn batch_body(batch: &[PackageQuery], pending: &[(usize, Option<String>)]) -> Vec<u8> {
    let queries = pending
        .iter()
        .map(|(position, token)| {
            let package = &batch[*position];
            Query {
                package: QueryPackage {
                    name: &package.name,
                    ecosystem: &package.ecosystem,
                },
                version: &package.version,
                page_token: token.as_deref(),
            }
        })
        .collect();
    // Serializing these plain structs cannot fail.
    serde_json::to_vec(&BatchRequest { queries }).unwrap_or_default()
}

fn decode<D: serde::de::DeserializeOwned>(url: &str, bytes: &[u8]) -> Result<D, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| ApiError::Decode {
        url: url.to_owned(),
        error,
    })
}

/// An id as a path segment: OSV ids are letters, digits, `-`, `.`, `:`
/// and `_`; anything else, and the dots of an id that is only dots, is
/// percent-encoded so that no id can change the path.
fn encode_id(id: &str) -> String {
    let only_dots = id.bytes().all(|byte| byte == b'.');
    id.bytes()
        .map(|byte| match byte {
            b'.' if only_dots => "%2E".to_owned(),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;
