//! Runs the fake upstreams (the fake Mistral API, and on the same port the
//! fake of the reference TTS provider) as a process, for browser tests and
//! benchmarks that point `MISTRAL_API_BASE` (or `TTS_API_BASE`, with any
//! `TTS_API_KEY` not starting with `invalid`) at it.
//!
//! ```text
//! cargo run -p testkit --bin fake_upstreams -- [--addr 127.0.0.1:3900] [--token-delay-ms 0]
//!     [--valid-key KEY]... [--awkward-chunking] [--reply TEXT] [--transcript TEXT]
//!     [--stall-after-tokens K --stall-ms N] [--finish-reason TEXT] [--no-nodelay]
//! ```
//!
//! Prints `MISTRAL_API_BASE=http://…` and `TTS_API_BASE=http://…` once
//! listening and runs until killed.
//! `--no-nodelay` leaves Nagle's algorithm on for accepted sockets (an
//! upstream or proxy that does not set TCP_NODELAY).
//! Owns argument parsing only; the behaviour lives in `testkit::mistral`. It must
//! never be started by the production server.
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use testkit::{FakeMistral, Nagle};

struct Args {
    addr: SocketAddr,
    token_delay: Duration,
    valid_keys: Vec<String>,
    awkward: bool,
    reply: Option<String>,
    transcript: Option<String>,
    stall_after_tokens: Option<usize>,
    stall: Duration,
    finish_reason: Option<String>,
    nagle: Nagle,
}

const USAGE: &str = "usage: fake_upstreams [--addr 127.0.0.1:3900] [--token-delay-ms N] [--valid-key KEY]... [--awkward-chunking] [--reply TEXT] [--transcript TEXT] [--stall-after-tokens K --stall-ms N] [--finish-reason TEXT] [--no-nodelay]";

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag} {v:?} is not a number"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 3900)),
        token_delay: Duration::ZERO,
        valid_keys: Vec::new(),
        awkward: false,
        reply: None,
        transcript: None,
        stall_after_tokens: None,
        stall: Duration::ZERO,
        finish_reason: None,
        nagle: Nagle::Off,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--addr" => {
                let v = value("--addr")?;
                args.addr = v
                    .parse()
                    .map_err(|e| format!("--addr {v:?} is not host:port ({e})"))?;
            }
            "--token-delay-ms" => {
                let v = value("--token-delay-ms")?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("--token-delay-ms {v:?} is not a number"))?;
                args.token_delay = Duration::from_millis(ms);
            }
            "--valid-key" => args.valid_keys.push(value("--valid-key")?),
            "--awkward-chunking" => args.awkward = true,
            "--reply" => args.reply = Some(value("--reply")?),
            "--transcript" => args.transcript = Some(value("--transcript")?),
            "--stall-after-tokens" => {
                let v = value("--stall-after-tokens")?;
                args.stall_after_tokens = Some(number("--stall-after-tokens", &v)?);
            }
            "--stall-ms" => {
                let v = value("--stall-ms")?;
                args.stall = Duration::from_millis(number("--stall-ms", &v)?);
            }
            "--finish-reason" => args.finish_reason = Some(value("--finish-reason")?),
            "--no-nodelay" => args.nagle = Nagle::On,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let fake = match FakeMistral::start_with(args.addr, args.nagle).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake_upstreams: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    fake.configure(|c| {
        c.token_delay = args.token_delay;
        c.awkward_chunking = args.awkward;
        c.reply = args.reply.clone();
        c.transcript = args.transcript.clone();
        c.stall = args.stall_after_tokens.map(|k| (k, args.stall));
        c.finish_reason = args.finish_reason.clone();
    });
    if !args.valid_keys.is_empty() {
        fake.set_valid_keys(args.valid_keys.clone());
    }
    println!("MISTRAL_API_BASE={}", fake.base_url);
    println!("TTS_API_BASE={}", fake.base_url);
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
