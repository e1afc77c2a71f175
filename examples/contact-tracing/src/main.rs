//! `contact-tracing`: a small exposure-notification service.
//!
//! Devices `POST /exposures` to report that they were near another device;
//! contact tracers `GET /exposures/<id>` to read a report back with its
//! close-contact assessment; `GET /health` serves liveness checks. Data is
//! kept in memory, and only for the retention window.
//!
//! Settings come from the environment: `CONTACT_TRACING_ADDR` (default
//! `127.0.0.1:8080`) and `CONTACT_TRACING_RETENTION` (default `14days`).

mod config;
mod exposure;
mod routes;
mod server;
mod store;

use std::process::ExitCode;

use config::Config;
use store::ExposureStore;

fn main() -> ExitCode {
    let config = match Config::from_lookup(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let server = match tiny_http::Server::http(&config.addr) {
        Ok(server) => server,
        Err(err) => {
            eprintln!("error: failed to listen on `{}`: {err}", config.addr);
            return ExitCode::FAILURE;
        }
    };

    eprintln!(
        "contact-tracing listening on {} (retention {})",
        config.addr,
        config::describe_retention(config.retention)
    );
    let mut store = ExposureStore::new(config.retention);
    server::serve(&server, &mut store);
    ExitCode::SUCCESS
}
