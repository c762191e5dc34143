//! Integration tests: the real router on 127.0.0.1:0 with a fresh database per
//! test (SQLite always; MariaDB and PostgreSQL when TEST_MYSQL_URL /
//! TEST_POSTGRES_URL are set) and local fakes for Google.
//! One test binary with modules, so the workspace links it once.
#[macro_use]
mod support;

mod auth;
mod chat;
mod files;
mod forms;
mod google;
mod guests;
mod health;
mod limits;
mod mistral_client;
mod openapi;
mod pages;
mod parity;
mod persistence;
mod process;
mod request_ids;
mod security_headers;
mod sessions;
mod settings;
mod static_files;
mod threads;
mod tools;
mod uploads;
mod voice;
