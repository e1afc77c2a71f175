//! A small HTTP/1.1 server on loopback that counts what reaches it.
//!
//! Each test starts its own, on a port the system picks, and asks it
//! afterwards how many connections and requests it saw: a refused request
//! must leave it at zero. It answers by path:
//!
//! - `/to/<host:port>/<rest>`: `302 Found` to `http://<host:port>/<rest>`;
//! - `/big/<n>`: `n` bytes, with a `content-length`;
//! - `/stream/<n>`: `n` bytes, without one (the end of the body is the
//!   end of the connection);
//! - `/slow/<ms>`: waits, then answers;
//! - `/echo`: the request's head, as the server received it;
//! - anything else: `200`, `hello from <name>`.
//!
//! Every response closes its connection, so one request is one connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The longest request head the server reads.
const MAX_HEAD: usize = 64 * 1024;

/// A running server; it stops when dropped.
pub struct TestServer {
    address: SocketAddr,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    /// The request lines, e.g. `GET /ok HTTP/1.1`.
    requests: Mutex<Vec<String>>,
}

impl TestServer {
    /// Starts a server called `name` on 127.0.0.1.
    pub fn start(name: &'static str) -> anyhow::Result<TestServer> {
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
                let seen = accept_seen.clone();
                thread::spawn(move || {
                    let _ = serve(stream, name, &seen);
                });
            }
        });
        Ok(TestServer {
            address,
            seen,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    /// The request lines received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.seen
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

fn serve(stream: TcpStream, name: &str, seen: &Seen) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || head.len() > MAX_HEAD {
            break;
        }
        head.push_str(&line);
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    if let Ok(mut requests) = seen.requests.lock() {
        requests.push(request_line.clone());
    }
    drain_body(&head, &mut reader)?;
    let path = request_line.split(' ').nth(1).unwrap_or("/");
    respond(stream, name, path, &head)
}

/// Reads a `content-length` body, so that closing does not reset the
/// connection under the client.
fn drain_body(head: &str, reader: &mut impl Read) -> std::io::Result<()> {
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    std::io::copy(&mut reader.take(length), &mut std::io::sink())?;
    Ok(())
}

fn respond(mut stream: TcpStream, name: &str, path: &str, head: &str) -> std::io::Result<()> {
    if let Some(target) = path.strip_prefix("/to/") {
        let location = format!("http://{target}");
        return write!(
            stream,
            "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        );
    }
    if let Some(n) = path.strip_prefix("/big/").and_then(|n| n.parse().ok()) {
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-length: {n}\r\nconnection: close\r\n\r\n"
        )?;
        return write_bytes(&mut stream, n);
    }
    if let Some(n) = path.strip_prefix("/stream/").and_then(|n| n.parse().ok()) {
        write!(stream, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")?;
        return write_bytes(&mut stream, n);
    }
    if let Some(ms) = path.strip_prefix("/slow/").and_then(|n| n.parse().ok()) {
        thread::sleep(Duration::from_millis(ms));
    }
    let body = if path == "/echo" {
        head.to_owned()
    } else {
        format!("hello from {name}")
    };
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Writes `n` bytes of `x`, stopping quietly when the client hangs up.
fn write_bytes(stream: &mut TcpStream, n: u64) -> std::io::Result<()> {
    let chunk = [b'x'; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let take = left.min(chunk.len() as u64) as usize;
        if stream.write_all(&chunk[..take]).is_err() {
            return Ok(());
        }
        left -= take as u64;
    }
    Ok(())
}
