//! A loopback stand-in for the OSV API, answering from an OSV directory.
//!
//! `POST /v1/querybatch` answers each query with the ids of every advisory
//! in the directory that names the query's package in its ecosystem,
//! whatever the version: deciding whether a version is affected is the
//! scan's own matcher's job, so a superset is a fair answer. It answers
//! `page_size` ids per result and a `next_page_token` while more are left,
//! so a package with several advisories makes the client follow pages.
//! `GET /v1/vulns/<id>` answers the advisory's file as it is on disk.
//! Anything else is `404`. Every response closes its connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// The advisories, by id and by (ecosystem, package).
#[derive(Default)]
struct Data {
    records: BTreeMap<String, Vec<u8>>,
    by_package: BTreeMap<(String, String), Vec<String>>,
}

/// What reached the server.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    /// Request lines, e.g. `GET /v1/vulns/X-1 HTTP/1.1`.
    requests: Mutex<Vec<String>>,
    /// The bodies of `querybatch` requests, parsed.
    batches: Mutex<Vec<Value>>,
}

/// A running server; it stops when dropped.
pub struct OsvServer {
    address: SocketAddr,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl OsvServer {
    /// Serves the advisories under `dir`, `page_size` ids per result.
    pub fn start(dir: &Path, page_size: usize) -> Result<OsvServer> {
        let data = Arc::new(load(dir)?);
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_seen, accept_stop) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                accept_seen.connections.fetch_add(1, Ordering::SeqCst);
                let (seen, data) = (accept_seen.clone(), data.clone());
                thread::spawn(move || {
                    let _ = serve(stream, &data, page_size, &seen);
                });
            }
        });
        Ok(OsvServer {
            address,
            seen,
            stop,
        })
    }

    /// `http://127.0.0.1:<port>`, the base URL and the grant.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.address.port())
    }

    pub fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<String> {
        self.seen
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn batches(&self) -> Vec<Value> {
        self.seen
            .batches
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }
}

impl Drop for OsvServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

fn load(dir: &Path) -> Result<Data> {
    let mut data = Data::default();
    for path in json_files(dir)? {
        let bytes = std::fs::read(&path)?;
        let record: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("`{}` is not JSON", path.display()))?;
        let id = record["id"].as_str().context("no id")?.to_owned();
        for affected in record["affected"].as_array().into_iter().flatten() {
            let package = &affected["package"];
            let key = (
                package["ecosystem"].as_str().unwrap_or_default().to_owned(),
                package["name"].as_str().unwrap_or_default().to_owned(),
            );
            let ids = data.by_package.entry(key).or_default();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
        }
        data.records.insert(id, bytes);
    }
    Ok(data)
}

fn json_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(json_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(files)
}

fn serve(stream: TcpStream, data: &Data, page_size: usize, seen: &Seen) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
    }
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    seen.requests
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .push(request_line.clone());
    let mut body = vec![0; content_length(&head)];
    reader.read_exact(&mut body)?;

    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (status, answer) = match (method, path) {
        ("POST", "/v1/querybatch") => {
            let request: Value = serde_json::from_slice(&body)?;
            seen.batches
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?
                .push(request.clone());
            (
                200,
                serde_json::to_vec(&query_batch(data, &request, page_size))?,
            )
        }
        ("GET", path) => match path
            .strip_prefix("/v1/vulns/")
            .and_then(|id| data.records.get(id))
        {
            Some(record) => (200, record.clone()),
            None => (
                404,
                b"{\"code\": 5, \"message\": \"Bug not found.\"}".to_vec(),
            ),
        },
        _ => (404, b"{}".to_vec()),
    };
    respond(stream, status, &answer)
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn query_batch(data: &Data, request: &Value, page_size: usize) -> Value {
    let results: Vec<Value> = request["queries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|query| {
            let package = &query["package"];
            let key = (
                package["ecosystem"].as_str().unwrap_or_default().to_owned(),
                package["name"].as_str().unwrap_or_default().to_owned(),
            );
            let ids = data.by_package.get(&key).cloned().unwrap_or_default();
            let start: usize = query["page_token"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let end = (start + page_size).min(ids.len());
            let vulns: Vec<Value> = ids[start.min(end)..end]
                .iter()
                .map(|id| json!({ "id": id, "modified": modified(data, id) }))
                .collect();
            if end < ids.len() {
                json!({ "vulns": vulns, "next_page_token": end.to_string() })
            } else if vulns.is_empty() {
                json!({})
            } else {
                json!({ "vulns": vulns })
            }
        })
        .collect();
    json!({ "results": results })
}

fn modified(data: &Data, id: &str) -> Value {
    let record: Value = serde_json::from_slice(&data.records[id]).unwrap_or_default();
    record["modified"].clone()
}

fn respond(mut stream: TcpStream, status: u16, body: &[u8]) -> Result<()> {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    Ok(())
}
