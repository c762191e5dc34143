//! `app::server::mistral::MistralClient` against `testkit::FakeMistral`
//! over real HTTP: models, JSON and streamed chat, thinking, usage, the
//! request actually sent, error mapping, retries and interrupted streams.
//! No database is involved.
use app::server::config::Secret;
use app::server::mistral::{
    ChatRequest, Message, MistralClient, MistralError, PromptMode, ReasoningEffort, RetryPolicy,
    StreamEvent, Timeouts,
};
use app::server::AppError;
use futures::StreamExt;
use std::time::{Duration, Instant};
use testkit::mistral::{default_thinking, echo_reply, models_body};
use testkit::{FakeFailure, FakeMistral};

const KEY: &str = "sk-test-0123456789";

async fn setup() -> (FakeMistral, MistralClient) {
    let fake = FakeMistral::start().await;
    let client = MistralClient::new(reqwest::Client::new(), fake.base_url.clone());
    (fake, client)
}

fn key() -> Secret {
    Secret::new(KEY)
}

fn ask(model: &str, text: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user(text)])
}

/// Collects a stream: (answer text, thinking text, every event, final error).
struct Collected {
    text: String,
    thinking: String,
    events: Vec<StreamEvent>,
    error: Option<MistralError>,
}

async fn collect(client: &MistralClient, req: &ChatRequest) -> Result<Collected, MistralError> {
    let stream = client.chat_stream(&key(), req).await?;
    futures::pin_mut!(stream);
    let mut c = Collected {
        text: String::new(),
        thinking: String::new(),
        events: Vec::new(),
        error: None,
    };
    while let Some(item) = stream.next().await {
        match item {
            Ok(ev) => {
                if let StreamEvent::Delta { text, thinking } = &ev {
                    c.text.push_str(text);
                    c.thinking.push_str(thinking);
                }
                c.events.push(ev);
            }
            Err(e) => {
                assert!(c.error.is_none(), "nothing may follow an error");
                c.error = Some(e);
            }
        }
    }
    Ok(c)
}

#[tokio::test]
async fn lists_models_with_capabilities() {
    let (fake, client) = setup().await;
    let models = client.list_models(&key()).await.unwrap();
    let expected: serde_json::Value = serde_json::from_str(&models_body()).unwrap();
    assert_eq!(models.len(), expected["data"].as_array().unwrap().len());
    let find = |id: &str| {
        models
            .iter()
            .find(|m| m.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let small = find("mistral-small-latest");
    assert!(small.capabilities.completion_chat && small.capabilities.function_calling);
    assert_eq!(small.max_context_length, 262144);
    assert_eq!(small.default_model_temperature, Some(0.3));
    assert_eq!(small.name.as_deref(), Some("mistral-small-2603"));
    let large = find("mistral-large-latest");
    assert!(large.capabilities.vision && !large.capabilities.reasoning);
    let magistral = find("magistral-medium-latest");
    assert!(magistral.capabilities.reasoning);
    assert!(!magistral.is_deprecated());
    let pixtral = find("pixtral-large-latest");
    assert!(pixtral.is_deprecated());
    assert_eq!(
        pixtral.deprecation_replacement_model.as_deref(),
        Some("mistral-large-latest")
    );
    let ocr = find("mistral-ocr-latest");
    assert!(ocr.capabilities.ocr && !ocr.capabilities.completion_chat);
    let r = fake.last_request().unwrap();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/v1/models"));
    assert_eq!(r.api_key.as_deref(), Some(KEY));
}

#[tokio::test]
async fn non_streaming_chat_returns_the_reply() {
    let (fake, client) = setup().await;
    let resp = client
        .chat(&key(), &ask("mistral-small-latest", "Name this thread"))
        .await
        .unwrap();
    assert_eq!(resp.text(), echo_reply("Name this thread"));
    assert_eq!(resp.finish_reason(), Some("stop"));
    assert_eq!(resp.object.as_deref(), Some("chat.completion"));
    let usage = resp.usage.unwrap();
    assert!(usage.completion_tokens > 0);
    assert_eq!(
        usage.total_tokens,
        usage.prompt_tokens + usage.completion_tokens
    );
    let r = fake.last_request().unwrap();
    assert_eq!(r.body["stream"], false);
    assert_eq!(r.accept.as_deref(), Some("application/json"));

    // max_tokens truncates and reports `length`, as Mistral does.
    let mut req = ask("mistral-small-latest", "x");
    req.max_tokens = Some(2);
    let resp = client.chat(&key(), &req).await.unwrap();
    assert_eq!(resp.text(), "You said:");
    assert_eq!(resp.finish_reason(), Some("length"));
}

#[tokio::test]
async fn awkward_chunking_reassembles_the_exact_text() {
    let (fake, client) = setup().await;
    let reply = "Grüße aus Köln — 😀 漢字 «ok»\nline two, “quoted” text.";
    fake.configure(|c| {
        c.reply = Some(reply.into());
        c.awkward_chunking = true;
    });
    let c = collect(&client, &ask("mistral-small-latest", "hi"))
        .await
        .unwrap();
    assert!(c.error.is_none(), "{:?}", c.error);
    assert_eq!(c.text, reply);
    assert!(c.thinking.is_empty());
    let deltas = c
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Delta { .. }))
        .count();
    assert_eq!(
        deltas,
        reply.split_whitespace().count(),
        "one delta per token"
    );
    assert_eq!(
        &c.events[c.events.len() - 3..],
        &[
            StreamEvent::Finish {
                reason: "stop".into()
            },
            StreamEvent::Usage {
                prompt_tokens: 2,
                completion_tokens: deltas as u64
            },
            StreamEvent::Done,
        ]
    );
    let r = fake.last_request().unwrap();
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.accept.as_deref(), Some("text/event-stream"));

    // On the wire the pieces really are split inside JSON and inside UTF-8.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", fake.base_url))
        .bearer_auth(KEY)
        .json(
            &serde_json::json!({"model":"mistral-small-latest","stream":true,
            "messages":[{"role":"user","content":"hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().contains_key("mistral-correlation-id"));
    let pieces: Vec<Vec<u8>> = resp
        .bytes_stream()
        .map(|b| b.unwrap().to_vec())
        .collect()
        .await;
    assert!(pieces.len() > 20, "{} pieces", pieces.len());
    assert!(
        pieces.iter().any(|p| std::str::from_utf8(p).is_err()),
        "no split inside UTF-8"
    );
    let whole = String::from_utf8(pieces.concat()).unwrap();
    assert!(whole.starts_with("data: {\"id\":"));
    assert!(whole.ends_with("data: [DONE]\n\n"));
    assert!(whole.contains(&format!(
        "\"content\":{}",
        serde_json::to_string("Grüße").unwrap()
    )));
}

#[tokio::test]
async fn thinking_is_separated_from_text() {
    let (fake, client) = setup().await;
    fake.configure(|c| c.awkward_chunking = true);
    // Magistral: every delta is a chunk list.
    let c = collect(&client, &ask("magistral-medium-latest", "2+2?"))
        .await
        .unwrap();
    assert!(c.error.is_none());
    assert_eq!(c.thinking, default_thinking("2+2?"));
    assert_eq!(c.text, echo_reply("2+2?"));
    // Thinking comes strictly before the answer.
    let first_text = c
        .events
        .iter()
        .position(|e| matches!(e, StreamEvent::Delta { text, .. } if !text.is_empty()))
        .unwrap();
    assert!(c.events[first_text..]
        .iter()
        .all(|e| !matches!(e, StreamEvent::Delta { thinking, .. } if !thinking.is_empty())));

    // reasoning_effort on a hybrid model: thinking list, transition list, strings.
    fake.configure(|c| c.thinking = Some("Short thought.".into()));
    let mut req = ask("mistral-small-latest", "why?");
    req.reasoning_effort = Some(ReasoningEffort::High);
    let c = collect(&client, &req).await.unwrap();
    assert_eq!(c.thinking, "Short thought.");
    assert_eq!(c.text, echo_reply("why?"));
    assert_eq!(c.events.last(), Some(&StreamEvent::Done));

    // Non-streaming reasoning answer: content is [thinking, text].
    let resp = client.chat(&key(), &req).await.unwrap();
    assert_eq!(resp.text(), echo_reply("why?"));
    assert_eq!(resp.parts().thinking, "Short thought.");
}

#[tokio::test]
async fn usage_is_reported_on_the_last_chunk() {
    let (_fake, client) = setup().await;
    let req = ChatRequest::new(
        "mistral-large-latest",
        vec![Message::system("Be brief."), Message::user("one two three")],
    );
    let c = collect(&client, &req).await.unwrap();
    let usage: Vec<_> = c
        .events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Usage {
                prompt_tokens,
                completion_tokens,
            } => Some((*prompt_tokens, *completion_tokens)),
            _ => None,
        })
        .collect();
    // prompt: 2 + 3 words, +1 per message; completion: one per token.
    let tokens = echo_reply("one two three").split_whitespace().count() as u64;
    assert_eq!(usage, vec![(7, tokens)]);
}

#[tokio::test]
async fn request_carries_key_model_system_prompt_and_history() {
    let (fake, client) = setup().await;
    let mut req = ChatRequest::new(
        "mistral-medium-latest",
        vec![
            Message::system("You are MistralChat."),
            Message::user("First question"),
            Message::assistant_with_thinking("pondering", "First answer"),
            Message::user("Second question"),
        ],
    );
    req.temperature = Some(0.3);
    req.prompt_mode = PromptMode::Null;
    let c = collect(&client, &req).await.unwrap();
    assert_eq!(c.text, echo_reply("Second question"));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(r.api_key.as_deref(), Some(KEY));
    assert_eq!(r.body["model"], "mistral-medium-latest");
    assert_eq!(r.body["temperature"], 0.3);
    assert!(r.body.as_object().unwrap().contains_key("prompt_mode"));
    assert!(r.body["prompt_mode"].is_null());
    assert!(!r.body.as_object().unwrap().contains_key("max_tokens"));
    assert_eq!(
        r.messages(),
        vec![
            ("system".to_string(), "You are MistralChat.".to_string()),
            ("user".to_string(), "First question".to_string()),
            ("assistant".to_string(), "First answer".to_string()),
            ("user".to_string(), "Second question".to_string()),
        ]
    );
    assert_eq!(r.body["messages"][2]["content"][0]["type"], "thinking");
}

#[tokio::test]
async fn refused_key_gives_the_settings_sentence() {
    let (fake, client) = setup().await;
    fake.set_valid_keys(["sk-the-right-one"]);
    let expected = "Your Mistral API key was refused — update it in Settings → Models";
    let e = client.list_models(&key()).await.unwrap_err();
    assert_eq!(e, MistralError::Unauthorized);
    assert_eq!(e.user_message(), expected);
    let e = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .unwrap();
    assert_eq!(e.user_message(), expected);
    // 401 is never retried.
    assert_eq!(fake.requests().len(), 2);
    // An empty key never leaves the process.
    let e = client.list_models(&Secret::new("")).await.unwrap_err();
    assert_eq!(e, MistralError::Unauthorized);
    assert_eq!(fake.requests().len(), 2);
    // Forced 401 with the right key, and a Debug of the client/key shows no key.
    fake.set_valid_keys([KEY]);
    fake.fail_times(FakeFailure::Unauthorized, 1);
    let e = client
        .chat(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .unwrap_err();
    assert_eq!(e.user_message(), expected);
    assert!(!format!("{client:?} {:?} {e:?}", key()).contains(KEY));
    let app: AppError = e.into();
    assert_eq!(app.status().as_u16(), 502);
    assert_eq!(app.public_message(), expected);
}

#[tokio::test]
async fn rejected_requests_quote_mistral() {
    let (fake, client) = setup().await;
    fake.fail_times(FakeFailure::Unprocessable, 1);
    let e = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        e.user_message(),
        "Mistral rejected the request: store: Extra inputs are not permitted"
    );
    assert!(matches!(e, MistralError::Rejected { status: 422, .. }));
    assert_eq!(fake.requests().len(), 1, "4xx is not retried");

    // The fake's own validation: a model Mistral does not know (400).
    let e = client.chat(&key(), &ask("gpt-4o", "hi")).await.unwrap_err();
    assert_eq!(
        e.user_message(),
        "Mistral rejected the request: Invalid model: gpt-4o"
    );
    // Last message from the assistant (400, Mistral's wording).
    let req = ChatRequest::new(
        "mistral-small-latest",
        vec![Message::user("hi"), Message::assistant("hello")],
    );
    let e = client.chat(&key(), &req).await.unwrap_err();
    assert_eq!(
        e.user_message(),
        "Mistral rejected the request: Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant"
    );
    // Lenient bodies: nested error object and plain text.
    fake.fail_times(
        FakeFailure::Custom {
            status: 400,
            content_type: "application/json".into(),
            body: r#"{"error":{"message":"Prompt is too long","code":"ctx"}}"#.into(),
        },
        1,
    );
    let e = client
        .chat(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        e.user_message(),
        "Mistral rejected the request: Prompt is too long"
    );
    fake.fail_times(
        FakeFailure::Custom {
            status: 403,
            content_type: "text/plain".into(),
            body: "Forbidden by policy\n".into(),
        },
        1,
    );
    let e = client
        .chat(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        e.user_message(),
        "Mistral rejected the request: Forbidden by policy"
    );
}

#[tokio::test]
async fn rate_limits_report_retry_after() {
    let (fake, client) = setup().await;
    fake.fail_times(
        FakeFailure::RateLimited {
            retry_after_secs: Some(17),
        },
        1,
    );
    let e = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        e.user_message(),
        "Mistral is rate-limiting this key, retry in 17 s"
    );
    assert_eq!(e.retry_after_secs(), Some(17));
    let app: AppError = e.into();
    assert!(matches!(
        app,
        AppError::TooManyRequests {
            retry_after_secs: 17,
            ..
        }
    ));
    assert_eq!(
        app.public_message(),
        "Mistral is rate-limiting this key, retry in 17 s"
    );

    fake.fail_times(
        FakeFailure::RateLimited {
            retry_after_secs: None,
        },
        1,
    );
    let e = client.list_models(&key()).await.unwrap_err();
    assert_eq!(
        e.user_message(),
        "Mistral is rate-limiting this key, retry in 10 s"
    );
    assert_eq!(fake.requests().len(), 2, "429 is not retried");
    // And then it works again.
    assert!(client.list_models(&key()).await.is_ok());
}

#[tokio::test]
async fn server_errors_are_retried_before_the_stream_starts() {
    let (fake, client) = setup().await;
    fake.fail_times(FakeFailure::ServerError, 2);
    let started = Instant::now();
    let c = collect(&client, &ask("mistral-small-latest", "again"))
        .await
        .unwrap();
    assert!(c.error.is_none());
    assert_eq!(c.text, echo_reply("again"));
    assert_eq!(fake.requests().len(), 3);
    // Default backoff: 250 ms then 500 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );

    fake.clear_requests();
    fake.fail_times(FakeFailure::ServerError, 2);
    let resp = client
        .chat(&key(), &ask("mistral-small-latest", "title"))
        .await
        .unwrap();
    assert_eq!(resp.text(), echo_reply("title"));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_bounded_attempts() {
    let (fake, client) = setup().await;
    fake.fail(FakeFailure::ServerError);
    let unavailable = "Mistral is unavailable right now — please try again in a moment";
    let started = Instant::now();
    let e = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .unwrap();
    assert_eq!(e.user_message(), unavailable);
    assert!(
        matches!(e, MistralError::Unavailable { attempts: 3, .. }),
        "{e:?}"
    );
    assert_eq!(fake.requests().len(), 3);
    assert!(started.elapsed() < Duration::from_secs(5));

    fake.clear_requests();
    let fast = client.clone().with_retry(RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
    });
    let e = fast.list_models(&key()).await.unwrap_err();
    assert_eq!(e.user_message(), unavailable);
    assert_eq!(fake.requests().len(), 2);

    // Nothing listening at all: connect errors are retried, then unavailable.
    let dead_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let nowhere = MistralClient::new(reqwest::Client::new(), format!("http://{dead_addr}"))
        .with_retry(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        });
    let e = nowhere
        .chat(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MistralError::Unavailable { attempts: 3, .. }),
        "{e:?}"
    );
    assert_eq!(e.user_message(), unavailable);
    let app: AppError = e.into();
    assert_eq!(app.status().as_u16(), 502);
}

#[tokio::test]
async fn mid_stream_death_is_interrupted_and_not_retried() {
    let (fake, client) = setup().await;
    fake.configure(|c| {
        c.reply = Some("one two three four five six".into());
        c.token_delay = Duration::from_millis(5);
    });
    fake.fail(FakeFailure::DieAfterTokens(3));
    let c = collect(&client, &ask("mistral-small-latest", "hi"))
        .await
        .unwrap();
    assert_eq!(c.text, "one two three");
    assert_eq!(c.events.len(), 3, "{:?}", c.events);
    assert!(c
        .events
        .iter()
        .all(|e| matches!(e, StreamEvent::Delta { .. })));
    let e = c.error.expect("interrupted");
    assert!(matches!(e, MistralError::Interrupted { .. }), "{e:?}");
    assert_eq!(e.user_message(), "The answer was interrupted");
    assert_eq!(
        fake.requests().len(),
        1,
        "a started stream is never retried"
    );

    // Dying before the first token, with awkward chunking, too.
    fake.clear_requests();
    fake.configure(|c| c.awkward_chunking = true);
    fake.fail_times(FakeFailure::DieAfterTokens(0), 1);
    let c = collect(&client, &ask("mistral-small-latest", "hi"))
        .await
        .unwrap();
    assert!(c.text.is_empty());
    assert!(matches!(c.error, Some(MistralError::Interrupted { .. })));
    assert_eq!(fake.requests().len(), 1);
    // The failure was used up: the next stream completes.
    let c = collect(&client, &ask("mistral-small-latest", "hi"))
        .await
        .unwrap();
    assert_eq!(c.text, "one two three four five six");
    assert_eq!(c.events.last(), Some(&StreamEvent::Done));
}

#[tokio::test]
async fn token_delay_streams_incrementally() {
    let (fake, client) = setup().await;
    fake.configure(|c| {
        c.reply = Some("a b c d e".into());
        c.token_delay = Duration::from_millis(60);
    });
    let stream = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .unwrap();
    futures::pin_mut!(stream);
    let started = Instant::now();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(
        first,
        StreamEvent::Delta {
            text: "a".into(),
            thinking: String::new()
        }
    );
    // The first token arrives long before the whole answer would.
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    let rest: Vec<_> = stream.collect().await;
    assert_eq!(rest.last(), Some(&Ok(StreamEvent::Done)));
    assert!(started.elapsed() >= Duration::from_millis(240));
}

#[tokio::test]
async fn an_endless_error_body_is_read_up_to_a_cap() {
    let (fake, client) = setup().await;
    let client = client.with_retry(RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
    });
    // A 4xx whose body never ends, as fast as it is read.
    fake.fail(FakeFailure::EndlessErrorBody {
        status: 400,
        piece_every: Duration::ZERO,
    });
    let started = Instant::now();
    let err = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .expect("an error");
    assert_eq!(
        err,
        MistralError::Rejected {
            status: 400,
            message: "HTTP 400".into()
        }
    );
    let err = client.list_models(&key()).await.unwrap_err();
    assert!(matches!(err, MistralError::Rejected { status: 400, .. }));
    // A 5xx one is retried, and every attempt ends.
    fake.fail(FakeFailure::EndlessErrorBody {
        status: 503,
        piece_every: Duration::ZERO,
    });
    let err = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .expect("an error");
    assert!(
        matches!(err, MistralError::Unavailable { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_trickling_error_body_is_read_for_a_bounded_time() {
    let (fake, client) = setup().await;
    let client = client.clone().with_timeouts(Timeouts {
        error_body: Duration::from_millis(300),
        ..client.timeouts()
    });
    fake.fail(FakeFailure::EndlessErrorBody {
        status: 422,
        piece_every: Duration::from_millis(50),
    });
    let started = Instant::now();
    let err = client
        .chat_stream(&key(), &ask("mistral-small-latest", "hi"))
        .await
        .err()
        .expect("an error");
    assert_eq!(
        err,
        MistralError::Rejected {
            status: 422,
            message: "HTTP 422".into()
        }
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
}
