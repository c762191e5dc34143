//! Built-in tools end to end (issue 14): web search through Mistral's
//! Conversations API — tool progress, citations numbered in order of first
//! appearance and stored with the answer, the request sent upstream, errors,
//! stop and reconnect mid-tool.
use crate::chat::{row, user_with_key};
use crate::support::*;
use app::vocab::events::ToolState;
use app::vocab::{MessageStatus, StreamEvent};
use serde_json::{json, Value};
use std::time::Duration;
use testkit::mistral::{SEARCH_TEXT, SOURCES};

/// The last conversation request the fake received.
fn last_conversation(app: &TestApp) -> testkit::mistral::RecordedRequest {
    app.mistral
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v1/conversations")
        .expect("a conversation request")
}

fn chars(s: &str) -> u32 {
    s.chars().count() as u32
}

/// Where the fake's three citations stand: after the first, second and
/// third piece of [`SEARCH_TEXT`].
fn citation_offsets() -> [u32; 3] {
    let a = chars(SEARCH_TEXT[0]);
    let b = a + chars(SEARCH_TEXT[1]);
    let c = b + chars(SEARCH_TEXT[2]);
    [a, b, c]
}

fn expected_sources() -> Value {
    let [a, b, c] = citation_offsets();
    json!([
        {"index": 1, "title": SOURCES[0].0, "url": SOURCES[0].1, "source": "brave", "at": [a, c]},
        {"index": 2, "title": SOURCES[1].0, "url": SOURCES[1].1, "source": "brave", "at": [b]},
    ])
}

db_test!(
    a_search_answer_streams_progress_and_citations_and_keeps_its_sources,
    |app| {
        let t = user_with_key(&app, "search@example.com").await;
        app.mistral.configure(|c| c.awkward_chunking = true);
        let sent = app
        .send_body(
            &t,
            json!({"text": "Is the sky blue?", "model": "mistral-medium-latest", "tools": ["web_search"]}),
        )
        .await;
        let (answer_id, thread_id) = (sent.answer_id(), sent.thread_id());
        let answer = app.answer(&t, &answer_id).await;
        assert_eq!(answer.text, SEARCH_TEXT.concat());
        assert_eq!(answer.done["status"], "done", "{:?}", answer.done);
        let typed = answer.typed();
        let tools: Vec<(String, ToolState)> = typed
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Tool { name, state } => Some((name.clone(), *state)),
                _ => None,
            })
            .collect();
        // A first reader may get the start folded into its snapshot; the live
        // events that follow it are in order.
        let snapshot_tool = typed.iter().find_map(|e| match e {
            StreamEvent::Snapshot { tool, .. } => Some(tool.clone()),
            _ => None,
        });
        assert!(
            tools.last() == Some(&("web_search".to_string(), ToolState::Done))
                || snapshot_tool.is_some(),
            "tool progress: {tools:?}"
        );
        // What the reader ends up with: the last snapshot it got (a first
        // reader may get the start folded into one, or the stored row polled
        // while it streams), then the live citations after it, in order.
        let last_snapshot = typed
            .iter()
            .rposition(|e| matches!(e, StreamEvent::Snapshot { .. }));
        let mut cited: Vec<(u32, String, u32)> = match last_snapshot.map(|i| &typed[i]) {
            Some(StreamEvent::Snapshot { sources, .. }) => {
                let mut folded: Vec<(u32, String, u32)> = sources
                    .iter()
                    .flat_map(|s| s.at.iter().map(move |at| (s.index, s.url.clone(), *at)))
                    .collect();
                folded.sort_by_key(|c| c.2);
                folded
            }
            _ => vec![],
        };
        cited.extend(
            typed[last_snapshot.map_or(0, |i| i + 1)..]
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::Citation { source } => {
                        Some((source.index, source.url.clone(), source.at))
                    }
                    _ => None,
                }),
        );
        let [a, b, c] = citation_offsets();
        assert_eq!(
            cited,
            vec![
                (1, SOURCES[0].1.to_string(), a),
                (2, SOURCES[1].1.to_string(), b),
                (1, SOURCES[0].1.to_string(), c),
            ],
            "numbered in order of first citation, a repeat keeps its number"
        );

        // What went upstream: a stateless conversation with the tool.
        let req = last_conversation(&app);
        assert_eq!(req.body["store"], false);
        assert_eq!(req.body["stream"], true);
        assert_eq!(req.body["model"], "mistral-medium-latest");
        assert_eq!(req.body["tools"], json!([{"type": "web_search"}]));
        assert_eq!(
            req.body["inputs"],
            json!([{"type": "message.input", "role": "user", "content": "Is the sky blue?"}])
        );
        assert!(req.body.get("agent_id").is_none() && req.body.get("messages").is_none());

        // Stored with the answer, shown by the thread API (and on reload).
        app.settled(&t, &answer_id, &thread_id).await;
        let stored = row(&app, &answer_id).await;
        assert_eq!(stored.text, SEARCH_TEXT.concat());
        let api = app
            .get(
                &format!("/api/thread?idThread={thread_id}"),
                Auth::Bearer(&t),
            )
            .await;
        let msg = api.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == answer_id.as_str())
            .unwrap()
            .clone();
        assert_eq!(msg["sources"], expected_sources());
        assert!(msg.get("html").is_none());
        let user = &api.body["messages"][0];
        assert!(
            user.get("sources").is_none(),
            "no sources on a question: {user}"
        );

        // The web UI gets the markers in the server's HTML, linked to the list.
        let page = app
            .rpc_form(
                "/rpc/load_thread_page",
                &format!("id={thread_id}"),
                Auth::Bearer(&t),
            )
            .await;
        let html = page.body["messages"][1]["html"]
            .as_str()
            .unwrap()
            .to_string();
        for n in [1, 2] {
            assert!(
                html.contains(&format!(
                    "<a href=\"#src-{answer_id}-{n}\" data-cite=\"{n}\""
                )),
                "marker {n} in {html}"
            );
        }
        assert_eq!(html.matches("class=\"cite\"").count(), 3, "{html}");

        // Readers of a share see the sources too.
        let share = app
            .post(
                "/api/thread",
                json!({"action": "share", "idThread": thread_id}),
                Auth::Bearer(&t),
            )
            .await;
        let code = share.body["shareCode"].as_str().unwrap().to_string();
        let shared = app
            .get(&format!("/api/thread?shareCode={code}"), Auth::None)
            .await;
        assert_eq!(shared.body["messages"][1]["sources"], expected_sources());
    }
);

db_test!(a_reader_joining_mid_search_sees_the_tool_running, |app| {
    let t = user_with_key(&app, "midtool@example.com").await;
    let sent = app
        .send_body(
            &t,
            json!({"text": "Slow search [[fake:tool-ms=1500]]", "tools": ["web_search"]}),
        )
        .await;
    let id = sent.answer_id();
    let path = format!("/api/generations/{id}/events");
    // The first reader follows until the tool has started…
    let (_, first) = SseReader::open(&app, &path, &t, None).await;
    let mut first = first.unwrap();
    let mut last_id = None;
    loop {
        let ev = first.next().await.expect("events until the tool starts");
        last_id = ev.id.clone().or(last_id);
        let running = match ev.typed() {
            Some(StreamEvent::Tool { state, .. }) => state == ToolState::Started,
            Some(StreamEvent::Snapshot { tool, .. }) => tool.is_some(),
            _ => false,
        };
        if running {
            break;
        }
    }
    drop(first);
    // …a reload shows the same state (a snapshot with the tool running)…
    let (_, second) = SseReader::open(&app, &path, &t, None).await;
    let mut second = second.unwrap();
    match second.next().await.and_then(|e| e.typed()) {
        Some(StreamEvent::Snapshot { tool, text, .. }) => {
            assert_eq!(tool.as_deref(), Some("web_search"));
            assert_eq!(text, "");
        }
        other => panic!("expected a snapshot, got {other:?}"),
    }
    drop(second);
    // …and a reconnect after the last event seen resumes without repeats.
    let (_, third) = SseReader::open(&app, &path, &t, last_id.as_deref()).await;
    let answer = third.unwrap().answer().await;
    assert_eq!(answer.text, SEARCH_TEXT.concat());
    let starts = answer
        .typed()
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::Tool {
                    state: ToolState::Started,
                    ..
                }
            )
        })
        .count();
    assert_eq!(starts, 0, "the start was seen before the reconnect");
});

db_test!(stopping_during_a_search_keeps_what_there_is, |app| {
    let t = user_with_key(&app, "stoptool@example.com").await;
    let sent = app
        .send_body(
            &t,
            json!({"text": "Search slowly [[fake:tool-ms=5000]]", "tools": ["web_search"]}),
        )
        .await;
    let id = sent.answer_id();
    app.upstream_received(1, |r| r.path == "/v1/conversations")
        .await;
    let r = app
        .post(
            &format!("/api/generations/{id}/stop"),
            json!({}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "stopped");
    let stored = row(&app, &id).await;
    assert_eq!(stored.status, MessageStatus::Stopped);
    assert_eq!(stored.text, "");
    assert!(stored.sources.is_none());
});

db_test!(
    an_upstream_error_event_is_shown_and_the_partial_answer_kept,
    |app| {
        let t = user_with_key(&app, "converr@example.com").await;
        let sent = app
            .send_body(
                &t,
                json!({"text": "Blocked [[fake:conv-error]]", "tools": ["web_search"]}),
            )
            .await;
        let id = sent.answer_id();
        let answer = app.answer(&t, &id).await;
        assert_eq!(answer.done["status"], "interrupted", "{:?}", answer.done);
        let error = answer.done["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("The fake moderation blocked this answer"),
            "Mistral's sentence reaches the reader: {error}"
        );
        let stored = row(&app, &id).await;
        assert_eq!(stored.status, MessageStatus::Interrupted);
        assert_eq!(
            stored.text,
            SEARCH_TEXT.concat(),
            "the partial answer is kept"
        );
        assert!(stored.sources.is_some());
        assert_eq!(stored.error.as_deref(), Some(error));
    }
);

db_test!(
    a_stream_that_dies_mid_search_is_interrupted_with_its_sources,
    |app| {
        let t = user_with_key(&app, "diesearch@example.com").await;
        app.mistral
            .fail_times(testkit::FakeFailure::DieAfterTokens(9), 1);
        let sent = app
            .send_body(&t, json!({"text": "Die", "tools": ["web_search"]}))
            .await;
        let id = sent.answer_id();
        let answer = app.answer(&t, &id).await;
        assert_eq!(answer.done["status"], "interrupted", "{:?}", answer.done);
        let stored = row(&app, &id).await;
        assert!(!stored.text.is_empty() && SEARCH_TEXT.concat().starts_with(&stored.text));
        let sources: Value = serde_json::from_str(stored.sources.as_deref().unwrap()).unwrap();
        assert_eq!(sources[0]["url"], SOURCES[0].1);
    }
);

db_test!(tools_are_checked_and_only_used_when_asked_for, |app| {
    let t = user_with_key(&app, "tools400@example.com").await;
    let bad = app
        .send_body(&t, json!({"text": "Hi", "tools": ["code_interpreter"]}))
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(bad.error().starts_with("tools: "), "{:?}", bad.body);
    assert!(bad.error().contains("code_interpreter"));
    assert_eq!(app.count("messages").await, 0, "nothing stored");
    let bad = app
        .send_body(&t, json!({"text": "Hi", "tools": "web_search"}))
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);

    // Without tools: chat completions, as before.
    let sent = app.send(&t, "Plain question").await;
    let id = sent.answer_id();
    app.answer(&t, &id).await;
    assert!(app
        .mistral
        .requests()
        .iter()
        .all(|r| r.path != "/v1/conversations"));

    // Regenerate and edit take the same field, with the same checks.
    for (path, body) in [
        (
            "/api/chat/regenerate",
            json!({"messageId": id, "tools": ["nope"]}),
        ),
        (
            "/api/chat/edit",
            json!({"messageId": sent.body["userMessage"]["id"], "text": "x", "tools": ["nope"]}),
        ),
    ] {
        let r = app.post(path, body, Auth::Bearer(&t)).await;
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert!(r.error().starts_with("tools: "), "{path}: {:?}", r.body);
    }
    let regen = app
        .post(
            "/api/chat/regenerate",
            json!({"messageId": id, "tools": ["web_search"]}),
            Auth::Bearer(&t),
        )
        .await;
    assert_eq!(regen.status, 201, "{:?}", regen.body);
    let new_id = regen.body["assistantMessage"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = app.answer(&t, &new_id).await;
    assert_eq!(answer.text, SEARCH_TEXT.concat());
    // The history went along: question, then the new answer's request.
    let req = last_conversation(&app);
    assert_eq!(
        req.body["inputs"],
        json!([{"type": "message.input", "role": "user", "content": "Plain question"}])
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    let old = row(&app, &id).await;
    assert!(old.sources.is_none(), "the first answer is unchanged");
});

db_test!(a_model_without_tools_is_refused_with_a_sentence, |app| {
    let t = user_with_key(&app, "notools@example.com").await;
    // The catalogue (cached per key) says what each model can do.
    let models = app.get("/api/models", Auth::Bearer(&t)).await;
    assert_eq!(models.status, 200, "{:?}", models.body);
    let r = app
        .send_body(
            &t,
            json!({"text": "Search please", "model": "open-mistral-7b", "tools": ["web_search"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.error(),
        "This model can't search the web — pick one with tools in Settings → Models"
    );
    assert_eq!(app.count("messages").await, 0);
    assert!(app
        .mistral
        .requests()
        .iter()
        .all(|r| r.path != "/v1/conversations"));
    // The same model without tools answers.
    let ok = app
        .send_body(&t, json!({"text": "Hi", "model": "open-mistral-7b"}))
        .await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
});

/// The files a reader shows at the end: those of the last snapshot it got,
/// then those of the `file` events after it.
fn final_files(answer: &Answer) -> Vec<app::model::AttachmentDto> {
    let typed = answer.typed();
    let last = typed
        .iter()
        .rposition(|e| matches!(e, StreamEvent::Snapshot { .. }));
    let mut files = match last.map(|i| &typed[i]) {
        Some(StreamEvent::Snapshot { files, .. }) => files.clone(),
        _ => vec![],
    };
    for e in &typed[last.map_or(0, |i| i + 1)..] {
        if let StreamEvent::File { file } = e {
            files.push(file.clone());
        }
    }
    files
}

/// The id Mistral gave the generated image: the last file the fake served.
fn served_file_id(app: &TestApp) -> String {
    let r = app
        .mistral
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.starts_with("/v1/files/"))
        .expect("a file download");
    r.path
        .trim_start_matches("/v1/files/")
        .trim_end_matches("/content")
        .to_string()
}

async fn get_bytes(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
) -> (u16, HeaderMapLite, Vec<u8>) {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        HeaderMapLite { content_type: ct },
        resp.bytes().await.unwrap().to_vec(),
    )
}

struct HeaderMapLite {
    content_type: String,
}

db_test!(
    an_image_answer_stores_the_picture_as_a_file_served_to_its_readers,
    |app| {
        let t = user_with_key(&app, "image@example.com").await;
        let sent = app
            .send_body(
                &t,
                json!({"text": "Draw a cat [[fake:image]]", "tools": ["image_generation"]}),
            )
            .await;
        let (answer_id, thread_id) = (sent.answer_id(), sent.thread_id());
        let answer = app.answer(&t, &answer_id).await;
        assert_eq!(answer.done["status"], "done", "{:?}", answer.done);
        assert_eq!(answer.text, "Here is your image.\n\n");
        let req = last_conversation(&app);
        assert_eq!(req.body["tools"], json!([{"type": "image_generation"}]));
        // The file arrives as an event (or in the snapshot of a late reader).
        let files = final_files(&answer);
        assert_eq!(files.len(), 1, "{files:?}");
        let file = &files[0];
        assert_eq!(file.mime, "image/png");
        assert_eq!((file.width, file.height), (Some(64), Some(48)));
        assert_eq!(file.prompt.as_deref(), Some("A fake picture for the test"));
        assert_eq!(file.kind, app::model::AttachmentKind::Generated);
        assert_eq!(file.url, format!("/api/files/{}", file.id));

        // The owner gets the bytes Mistral made, typed from the bytes.
        let mistral_id = served_file_id(&app);
        let png = testkit::mistral::files::generated_png(&mistral_id);
        let (status, head, body) = get_bytes(&app, &file.url, Some(&t)).await;
        assert_eq!(status, 200);
        assert_eq!(head.content_type, "image/png");
        assert_eq!(body, png);
        // Nobody else does.
        let stranger = app.register("stranger-img@example.com").await;
        assert_eq!(get_bytes(&app, &file.url, Some(&stranger)).await.0, 404);
        assert_eq!(get_bytes(&app, &file.url, None).await.0, 401);

        // Stored once, linked to the answer; the text holds no image data.
        app.settled(&t, &answer_id, &thread_id).await;
        assert_eq!(app.count("blobs").await, 1);
        let api = app
            .get(
                &format!("/api/thread?idThread={thread_id}"),
                Auth::Bearer(&t),
            )
            .await;
        let msg = api.body["messages"][1].clone();
        assert_eq!(msg["id"], answer_id.as_str());
        assert_eq!(msg["attachments"][0]["id"], file.id.as_str());
        assert_eq!(msg["attachments"][0]["kind"], "generated");
        assert!(!msg["text"].as_str().unwrap().contains("data:"));
        assert!(!api.body.to_string().contains("base64"));

        // A reader after the end gets the file from the stored row.
        let late = app.answer(&t, &answer_id).await;
        let late_files = final_files(&late);
        assert_eq!(late_files.len(), 1);

        // Readers of a share get it through a share-scoped address, until revoked.
        let share = app
            .post(
                "/api/thread",
                json!({"action": "share", "idThread": thread_id}),
                Auth::Bearer(&t),
            )
            .await;
        let code = share.body["shareCode"].as_str().unwrap().to_string();
        let shared = app
            .get(&format!("/api/thread?shareCode={code}"), Auth::None)
            .await;
        let shared_url = shared.body["messages"][1]["attachments"][0]["url"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(shared_url, format!("/api/shared/{code}/files/{}", file.id));
        let (status, _, body) = get_bytes(&app, &shared_url, None).await;
        assert_eq!(status, 200);
        assert_eq!(body, png);
        let r = app
            .post(
                "/api/thread",
                json!({"action": "unshare", "idThread": thread_id}),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(get_bytes(&app, &shared_url, None).await.0, 404);

        // Regenerating makes a new picture in a sibling; the old one stays.
        let regen = app
            .post(
                "/api/chat/regenerate",
                json!({"messageId": answer_id, "tools": ["image_generation"]}),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(regen.status, 201, "{:?}", regen.body);
        let second = regen.body["assistantMessage"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.answer(&t, &second).await;
        app.settled(&t, &second, &thread_id).await;
        assert_eq!(app.count("attachments").await, 2);
        assert_eq!(app.count("blobs").await, 2, "a different picture");
        assert_eq!(get_bytes(&app, &file.url, Some(&t)).await.0, 200);

        // Deleting the thread deletes its pictures.
        let r = app
            .post(
                "/api/thread",
                json!({"action": "delete", "idThread": thread_id}),
                Auth::Bearer(&t),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(app.count("blobs").await, 0);
        assert_eq!(get_bytes(&app, &file.url, Some(&t)).await.0, 404);
    }
);

db_test!(
    an_image_that_cannot_be_fetched_is_said_on_the_answer,
    |app| {
        let t = user_with_key(&app, "imgfail@example.com").await;
        let sent = app
        .send_body(
            &t,
            json!({"text": "Draw [[fake:image]] [[fake:tool-ms=800]]", "tools": ["image_generation"]}),
        )
        .await;
        let id = sent.answer_id();
        app.upstream_received(1, |r| r.path == "/v1/conversations")
            .await;
        // The download that follows is refused.
        app.mistral.fail(testkit::FakeFailure::Custom {
            status: 404,
            content_type: "application/json".into(),
            body: "{\"detail\":\"File not found\"}".into(),
        });
        let answer = app.answer(&t, &id).await;
        app.mistral.clear_failure();
        assert_eq!(answer.done["status"], "done", "{:?}", answer.done);
        assert_eq!(
            answer.done["error"],
            "The image could not be stored — regenerate the answer to try again"
        );
        assert_eq!(app.count("attachments").await, 0);
        let stored = row(&app, &id).await;
        assert_eq!(stored.text, "Here is your image.\n\n", "the text is kept");
    }
);
