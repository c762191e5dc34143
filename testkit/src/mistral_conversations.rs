//! `POST /v1/conversations` of the fake (`/work/shared/mistral-api.md` §6.2,
//! §6.4): Mistral's conversation stream byte for byte — `event:` lines, a
//! `type` in every `data:`, tool execution events, `message.output.delta`
//! whose `content` is a string or ONE chunk object (`tool_reference`,
//! `tool_file`), usage in `conversation.response.done` and no `[DONE]`.
//!
//! What the fake model does is decided by what it is offered and asked:
//! - `web_search` offered: it searches (unless the question holds
//!   `[[fake:nosearch]]`) and answers citing [`SOURCES`] — the first source
//!   twice, so repeats can be checked;
//! - `image_generation` offered and the question holds `[[fake:image]]`: it
//!   makes one image (a `tool_file` whose id the Files API serves);
//! - `[[fake:conv-error]]`: after a few words, `conversation.response.error`;
//! - `[[fake:tool-ms=N]]`: the tool runs N ms (to reload or stop mid-tool);
//! - `[[fake:long …]]` works as in chat completions.
//!
//! A `DieAfterTokens` failure drops the connection after that many deltas
//! (no `conversation.response.done`).
use super::{
    content_text, error_object, js, json_response, lock, long_markdown, new_id, prelude, tokenize,
    Admission, FakeMistral, LongAnswer, Piece,
};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use futures::channel::mpsc;
use futures::SinkExt;
use serde_json::Value;
use std::time::Duration;

/// The pages the fake search finds: `(title, url)`.
pub const SOURCES: [(&str, &str); 2] = [
    ("Fake source one", "https://example.com/one"),
    ("Fake source two", "https://example.org/two"),
];

/// The answer text of a search, between the citations (see [`plan`]).
pub const SEARCH_TEXT: [&str; 4] = [
    "The fake web says the sky is blue.",
    " Another page agrees.",
    " The first page again.",
    "\n\nThat is all the fake search found.",
];

/// Top-level fields Mistral accepts in a conversation start (§6.2).
const FIELDS: &[&str] = &[
    "inputs",
    "stream",
    "store",
    "handoff_execution",
    "instructions",
    "tools",
    "completion_args",
    "guardrails",
    "name",
    "description",
    "metadata",
    "agent_id",
    "agent_version",
    "model",
];
const TOOLS: &[&str] = &[
    "function",
    "web_search",
    "web_search_premium",
    "code_interpreter",
    "image_generation",
    "document_library",
    "connector",
];

fn unprocessable(kind: &str, loc: &str, msg: &str) -> Response {
    json_response(
        422,
        format!(
            "{{\"detail\":[{{\"type\":{},\"loc\":{loc},\"msg\":{}}}]}}",
            js(kind),
            js(msg)
        ),
    )
}

/// Mistral's validation of a conversation start, as far as the product can
/// trip it.
fn validate(body: &Value) -> Option<Response> {
    let Some(obj) = body.as_object() else {
        return Some(unprocessable(
            "model_attributes_type",
            "[\"body\"]",
            "Input should be a valid dictionary",
        ));
    };
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Some(super::extra_forbidden(
            &[Value::from("body"), Value::from(k.as_str())],
            &obj[k],
        ));
    }
    if !obj.contains_key("inputs") {
        return Some(unprocessable(
            "missing",
            "[\"body\",\"inputs\"]",
            "Field required",
        ));
    }
    if obj.contains_key("model") == obj.contains_key("agent_id") {
        return Some(json_response(
            400,
            error_object(
                "Exactly one of model or agent_id must be given",
                "invalid_request_error",
                None,
            ),
        ));
    }
    let tools = obj.get("tools").and_then(Value::as_array);
    for (i, t) in tools.into_iter().flatten().enumerate() {
        let kind = t["type"].as_str().unwrap_or_default();
        if !TOOLS.contains(&kind) {
            return Some(unprocessable(
                "union_tag_invalid",
                &format!("[\"body\",\"tools\",{i}]"),
                &format!(
                    "Input tag '{kind}' found using 'type' does not match any of the expected tags"
                ),
            ));
        }
    }
    if let Some(inputs) = obj.get("inputs").and_then(Value::as_array) {
        for (i, e) in inputs.iter().enumerate() {
            let ok = e["type"] == "message.input"
                && matches!(e["role"].as_str(), Some("user" | "assistant"));
            if !ok {
                return Some(unprocessable(
                    "union_tag_invalid",
                    &format!("[\"body\",\"inputs\",{i}]"),
                    "Input should be a message.input entry with role user or assistant",
                ));
            }
        }
    }
    None
}

/// One step of the planned stream.
enum Step {
    /// An event, and whether it counts as a token (for pacing and dying).
    Event {
        token: bool,
        name: &'static str,
        data: String,
    },
    Pause(Duration),
}

fn last_user(body: &Value) -> String {
    match &body["inputs"] {
        Value::String(s) => s.clone(),
        Value::Array(entries) => entries
            .iter()
            .rev()
            .find(|e| e["role"] == "user")
            .map(|e| content_text(&e["content"]))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn directive_ms(text: &str) -> Option<u64> {
    let start = text.find("[[fake:tool-ms=")? + "[[fake:tool-ms=".len();
    let rest = &text[start..];
    rest[..rest.find("]]")?].parse().ok()
}

fn plan(body: &Value) -> (Vec<Step>, Option<Duration>) {
    let question = last_user(body);
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["type"].as_str())
        .collect();
    let model = body["model"]
        .as_str()
        .unwrap_or("mistral-medium-latest")
        .to_string();
    let (msg_id, conv_id) = (format!("msg_{}", new_id()), format!("conv_{}", new_id()));
    let tool_time = Duration::from_millis(directive_ms(&question).unwrap_or(0).min(60_000));
    let long = LongAnswer::find(&question);
    let mut steps = vec![Step::Event {
        token: false,
        name: "conversation.response.started",
        data: format!(
            "{{\"type\":\"conversation.response.started\",\"conversation_id\":{}}}",
            js(&conv_id)
        ),
    }];
    let mut output_index = 0;
    let mut content_index = 0;
    let tool = |steps: &mut Vec<Step>, name: &str, arguments: String, output_index: usize| {
        let id = format!("tool_exec_{}", new_id());
        steps.push(Step::Event {
            token: false,
            name: "tool.execution.started",
            data: format!(
                "{{\"type\":\"tool.execution.started\",\"output_index\":{output_index},\"id\":{},\"name\":{},\"arguments\":{}}}",
                js(&id),
                js(name),
                js(&arguments)
            ),
        });
        if !tool_time.is_zero() {
            steps.push(Step::Pause(tool_time));
        }
        steps.push(Step::Event {
            token: false,
            name: "tool.execution.done",
            data: format!(
                "{{\"type\":\"tool.execution.done\",\"output_index\":{output_index},\"id\":{},\"name\":{}}}",
                js(&id),
                js(name)
            ),
        });
    };
    let delta = |steps: &mut Vec<Step>,
                 content: String,
                 output_index: usize,
                 ci: &mut usize,
                 token: bool| {
        steps.push(Step::Event {
            token,
            name: "message.output.delta",
            data: format!(
                "{{\"type\":\"message.output.delta\",\"output_index\":{output_index},\"id\":{},\"content_index\":{ci},\"model\":{},\"role\":\"assistant\",\"content\":{content}}}",
                js(&msg_id),
                js(&model)
            ),
        });
        *ci += 1;
    };
    let search = tools.contains(&"web_search") && !question.contains("[[fake:nosearch]]");
    let image = tools.contains(&"image_generation") && question.contains("[[fake:image]]");
    if search {
        tool(
            &mut steps,
            "web_search",
            format!("{{\"query\":{}}}", js(question.trim())),
            output_index,
        );
        output_index += 1;
    }
    if image {
        tool(
            &mut steps,
            "image_generation",
            format!("{{\"prompt\":{}}}", js("A fake picture for the test")),
            output_index,
        );
        output_index += 1;
    }
    let reference = |(title, url): (&str, &str)| {
        format!(
            "{{\"type\":\"tool_reference\",\"tool\":\"web_search\",\"title\":{},\"url\":{},\"source\":\"brave\"}}",
            js(title),
            js(url)
        )
    };
    let words = |text: &str| {
        tokenize(text)
            .into_iter()
            .map(|t| js(&t))
            .collect::<Vec<_>>()
    };
    let error = question.contains("[[fake:conv-error]]");
    if search {
        let order = [Some(0), Some(1), Some(0), None];
        for (text, cite) in SEARCH_TEXT.iter().zip(order) {
            for w in words(text) {
                delta(&mut steps, w, output_index, &mut content_index, true);
            }
            if let Some(i) = cite {
                delta(
                    &mut steps,
                    reference(SOURCES[i]),
                    output_index,
                    &mut content_index,
                    false,
                );
            }
        }
    } else if let Some(long) = long {
        for w in words(&long_markdown(long.words)) {
            delta(&mut steps, w, output_index, &mut content_index, true);
        }
    } else if !image {
        for w in words(&super::echo_reply(&question)) {
            delta(&mut steps, w, output_index, &mut content_index, true);
        }
    }
    if image {
        for w in words("Here is your image.\n\n") {
            delta(&mut steps, w, output_index, &mut content_index, true);
        }
        let file = format!(
            "{{\"type\":\"tool_file\",\"tool\":\"image_generation\",\"file_id\":{},\"file_name\":\"image_generated_0\",\"file_type\":\"png\"}}",
            js(&uuid::Uuid::new_v4().to_string())
        );
        delta(&mut steps, file, output_index, &mut content_index, false);
    }
    if error {
        steps.push(Step::Event {
            token: false,
            name: "conversation.response.error",
            data: "{\"type\":\"conversation.response.error\",\"message\":\"The fake moderation blocked this answer\",\"code\":3501}".into(),
        });
        return (steps, long.map(|l| l.pace()));
    }
    let completion = steps
        .iter()
        .filter(|s| matches!(s, Step::Event { token: true, .. }))
        .count();
    let prompt = tokenize(&question).len() + 10;
    let connectors = match (search, image) {
        (true, true) => ",\"connectors\":{\"web_search\":1,\"image_generation\":1}",
        (true, false) => ",\"connectors\":{\"web_search\":1}",
        (false, true) => ",\"connectors\":{\"image_generation\":1}",
        (false, false) => "",
    };
    steps.push(Step::Event {
        token: false,
        name: "conversation.response.done",
        data: format!(
            "{{\"type\":\"conversation.response.done\",\"usage\":{{\"prompt_tokens\":{prompt},\"total_tokens\":{},\"completion_tokens\":{completion}{connectors}}}}}",
            prompt + completion
        ),
    });
    (steps, long.map(|l| l.pace()))
}

/// The planned steps as `event:`/`data:` bytes, paced like chat streams.
async fn write(
    steps: Vec<Step>,
    delay: Duration,
    pace: Option<Duration>,
    die_after: Option<usize>,
    mut tx: mpsc::Sender<Piece>,
) {
    let mut tokens = 0usize;
    for step in steps {
        match step {
            Step::Pause(d) => tokio::time::sleep(d).await,
            Step::Event { token, name, data } => {
                if token {
                    if die_after.is_some_and(|k| tokens >= k) {
                        let _ = tx.flush().await;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let _ = tx
                            .send(Err(std::io::Error::other(
                                "fake mistral dropped the connection",
                            )))
                            .await;
                        return;
                    }
                    match pace {
                        Some(p) => tokio::time::sleep(p).await,
                        None if !delay.is_zero() => tokio::time::sleep(delay).await,
                        None => {}
                    }
                    tokens += 1;
                }
                let bytes = format!("event: {name}\ndata: {data}\n\n").into_bytes();
                if tx.send(Ok(bytes)).await.is_err() {
                    return;
                }
            }
        }
    }
}

pub(super) async fn conversations(
    State(fake): State<FakeMistral>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&raw);
    let body = parsed.as_ref().cloned().unwrap_or(Value::Null);
    let streaming = body["stream"] == Value::Bool(true);
    let die_after = match prelude(&fake, &method, &uri, &headers, &body, streaming) {
        Admission::Serve { die_after } => die_after,
        Admission::Reject(resp) => return resp,
    };
    if parsed.is_err() {
        return unprocessable("json_invalid", "[\"body\"]", "JSON decode error");
    }
    if let Some(resp) = validate(&body) {
        return resp;
    }
    if !streaming {
        // The product only streams; a plain body is not part of the fake.
        return json_response(
            400,
            error_object(
                "The fake serves streaming conversations only",
                "invalid_request_error",
                None,
            ),
        );
    }
    let delay = lock(&fake.config).token_delay;
    let (steps, pace) = plan(&body);
    let (tx, rx) = mpsc::channel::<Piece>(0);
    tokio::spawn(write(steps, delay, pace, die_after, tx));
    let mut resp = Response::new(Body::from_stream(rx));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(body: Value) -> Vec<(String, Value)> {
        plan(&body)
            .0
            .into_iter()
            .filter_map(|s| match s {
                Step::Event { name, data, .. } => {
                    Some((name.to_string(), serde_json::from_str(&data).unwrap()))
                }
                Step::Pause(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_search_answer_cites_its_sources_with_one_repeat() {
        let evs = events(serde_json::json!({
            "model": "mistral-medium-latest",
            "inputs": [{"type": "message.input", "role": "user", "content": "Sky?"}],
            "tools": [{"type": "web_search"}], "stream": true, "store": false
        }));
        for (name, data) in &evs {
            assert_eq!(data["type"], name.as_str(), "type matches event:");
        }
        let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..3],
            [
                "conversation.response.started",
                "tool.execution.started",
                "tool.execution.done"
            ]
        );
        assert_eq!(names.last(), Some(&"conversation.response.done"));
        let refs: Vec<&str> = evs
            .iter()
            .filter(|(_, d)| d["content"]["type"] == "tool_reference")
            .map(|(_, d)| d["content"]["url"].as_str().unwrap())
            .collect();
        assert_eq!(refs, [SOURCES[0].1, SOURCES[1].1, SOURCES[0].1]);
        let text: String = evs
            .iter()
            .filter_map(|(_, d)| d["content"].as_str())
            .collect();
        assert_eq!(text, SEARCH_TEXT.concat());
    }

    #[test]
    fn validation_refuses_what_mistral_refuses() {
        let ok = serde_json::json!({"model": "m", "inputs": "hi", "stream": true});
        assert!(validate(&ok).is_none());
        assert!(
            validate(&serde_json::json!({"model": "m", "inputs": "hi", "messages": []})).is_some()
        );
        assert!(validate(&serde_json::json!({"inputs": "hi"})).is_some());
        assert!(validate(
            &serde_json::json!({"model": "m", "inputs": "hi", "tools": [{"type": "nope"}]})
        )
        .is_some());
        assert!(validate(&serde_json::json!({"model": "m", "inputs": [{"type": "x", "role": "user", "content": "a"}]})).is_some());
    }
}
