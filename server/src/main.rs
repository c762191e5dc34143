//! The MistralChat server binary: read configuration, open the database, serve.
//!
//! Any configuration or startup problem ends the process with one line naming
//! the variable at fault and exit status 2 (no panic, no backtrace).
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match server::startup::run_from_env().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mistralchat: {e}");
            ExitCode::from(2)
        }
    }
}
