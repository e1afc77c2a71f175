//! The HTTP side: reads requests off the socket and writes replies back.

use std::io::Read;

use tiny_http::{Header, Request, Response, Server};

use crate::routes::{self, Incoming, Reply};
use crate::store::ExposureStore;

/// Largest request body accepted; a report is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Answers requests one at a time until the server is unblocked or fails.
///
/// One thread is plenty for the sample's load and keeps the store free of
/// locks.
pub fn serve(server: &Server, store: &mut ExposureStore) {
    for request in server.incoming_requests() {
        answer(store, request);
    }
}

fn answer(store: &mut ExposureStore, mut request: Request) {
    let reply = match read_body(&mut request) {
        Ok(body) => {
            let incoming = Incoming {
                method: request.method().as_str(),
                target: request.url(),
                content_type: header_value(&request, "Content-Type"),
                body: &body,
            };
            routes::handle(store, incoming, time::get_time())
        }
        Err(reply) => reply,
    };
    // Paths carry only server-assigned ids, so they are safe to log; bodies
    // carry device identifiers and are never logged.
    eprintln!("{} {} {}", request.method(), request.url(), reply.status);
    if let Err(err) = request.respond(into_response(&reply)) {
        eprintln!("failed to send reply: {err}");
    }
}

fn read_body(request: &mut Request) -> Result<Vec<u8>, Reply> {
    let too_large = || Reply::error(413, format!("body is larger than {MAX_BODY_BYTES} bytes"));
    if request
        .body_length()
        .is_some_and(|len| len > MAX_BODY_BYTES)
    {
        return Err(too_large());
    }
    // Chunked bodies have no declared length, so the read itself is capped.
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES + 1).unwrap_or(u64::MAX);
    request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|err| Reply::error(400, format!("failed to read body: {err}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn header_value<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|header| header.field.equiv(name))
        .map(|header| header.value.as_str())
}

fn into_response(reply: &Reply) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut response = Response::from_string(reply.body.to_string()).with_status_code(reply.status);
    let headers = [
        Some(("Content-Type", "application/json")),
        reply
            .location
            .as_deref()
            .map(|location| ("Location", location)),
        reply.allow.map(|allow| ("Allow", allow)),
    ];
    for (name, value) in headers.into_iter().flatten() {
        // Values here are ASCII built by this crate, so conversion cannot
        // fail; a header that somehow did is left off rather than crashing.
        if let Ok(header) = Header::from_bytes(name, value) {
            response.add_header(header);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    /// A server on a free loopback port, stopped when dropped.
    struct Running {
        server: Arc<Server>,
        addr: SocketAddr,
        thread: Option<thread::JoinHandle<()>>,
    }

    impl Running {
        fn start() -> Self {
            let server = Arc::new(Server::http("127.0.0.1:0").unwrap());
            let addr = server.server_addr().to_ip().unwrap();
            let serving = Arc::clone(&server);
            let thread = thread::spawn(move || {
                let mut store = ExposureStore::new(Duration::from_secs(14 * 24 * 3600));
                serve(&serving, &mut store);
            });
            Self {
                server,
                addr,
                thread: Some(thread),
            }
        }

        /// Sends raw request bytes and returns the whole raw response.
        fn exchange(&self, request: &str) -> String {
            let mut stream = TcpStream::connect(self.addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            self.server.unblock();
            if let Some(thread) = self.thread.take() {
                thread.join().unwrap();
            }
        }
    }

    fn post(body: &str) -> String {
        format!(
            "POST /exposures HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// A contact that happened a minute ago, so it is within retention
    /// whatever the real clock says.
    fn recent_report() -> String {
        let minute_ago = time::Timespec::new(time::get_time().sec - 60, 0);
        format!(
            r#"{{"reporter":"{}","contact":"{}","contact_at":"{}","duration_minutes":5,"distance_meters":3}}"#,
            "1".repeat(32),
            "2".repeat(32),
            crate::exposure::format_utc(minute_ago),
        )
    }

    #[test]
    fn exposure_posted_over_http_is_served_back_with_its_location() {
        let running = Running::start();
        let created = running.exchange(&post(&recent_report()));
        assert!(created.starts_with("HTTP/1.1 201"), "{created}");
        assert!(created.contains("Location: /exposures/1\r\n"), "{created}");
        assert!(
            created.contains("Content-Type: application/json\r\n"),
            "{created}"
        );
        assert!(created.contains(r#""risk":"proximity""#), "{created}");

        let shown = running
            .exchange("GET /exposures/1 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert!(shown.starts_with("HTTP/1.1 200"), "{shown}");
        assert!(shown.contains(&"2".repeat(32)), "{shown}");
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let running = Running::start();
        let huge = format!("{{\"reporter\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        let response = running.exchange(&post(&huge));
        assert!(response.starts_with("HTTP/1.1 413"), "{response}");

        let health =
            running.exchange("GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert!(health.contains(r#""exposures":0"#), "{health}");
    }
}
